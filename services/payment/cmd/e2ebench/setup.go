package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"google.golang.org/grpc"

	"github.com/paysuite/paysuite/pkg/scratch"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

func freeAddr() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer lis.Close()
	return lis.Addr().String(), nil
}

// proc is one in-process service: started, waited on at the end.
type proc struct {
	name string
	done chan error
}

func startService(ctx context.Context, name string, run func(ctx context.Context) error) *proc {
	s := &proc{name: name, done: make(chan error, 1)}
	go func() { s.done <- run(ctx) }()
	return s
}

// dialHealthy dials the gRPC service named server as admin and waits until it reports SERVING.
func dialHealthy(ctx context.Context, s *proc, ids *scratch.Identities, server, addr string) (*grpc.ClientConn, error) {
	conn, err := ids.Dial(tlsx.Admin, server, addr)
	if err != nil {
		return nil, err
	}
	if err := scratch.WaitHealthy(ctx, conn, s.done); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	return conn, nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelWarn
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
