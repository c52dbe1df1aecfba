package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/paysuite/paysuite/pkg/grpcserver"
)

// runName is unique per run: database base name and vhost.
func runName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "pse2e_" + hex.EncodeToString(b)
}

// freshDatabase returns a DSN whose database base name is name; every `<name>_<service>`
// database the services create from it is dropped by the returned cleanup.
func freshDatabase(base, name string) (string, *sql.DB, func(), error) {
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		return "", nil, nil, err
	}
	cfg.DBName = ""
	root, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "", nil, nil, err
	}
	cleanup := func() {
		for _, svc := range []string{"order", "payment"} {
			if _, err := root.Exec("DROP DATABASE IF EXISTS `" + name + "_" + svc + "`"); err != nil {
				fmt.Fprintln(os.Stderr, "drop database:", err)
			}
		}
		root.Close()
	}
	cfg.DBName = name
	return cfg.FormatDSN(), root, cleanup, nil
}

// freshVhost makes a vhost through the management API and returns the URL on it.
func freshVhost(amqpURL, mgmt, name string) (string, func(), error) {
	u, err := url.Parse(amqpURL)
	if err != nil {
		return "", nil, err
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	call := func(method, path, body string) error {
		req, err := http.NewRequest(method, mgmt+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.SetBasicAuth(user, pass)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
		}
		return nil
	}
	if err := call(http.MethodPut, "/api/vhosts/"+name, ""); err != nil {
		return "", nil, err
	}
	cleanup := func() {
		if err := call(http.MethodDelete, "/api/vhosts/"+name, ""); err != nil {
			fmt.Fprintln(os.Stderr, "delete vhost:", err)
		}
	}
	if err := call(http.MethodPut, "/api/permissions/"+name+"/"+url.PathEscape(user), `{"configure":".*","write":".*","read":".*"}`); err != nil {
		cleanup()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), cleanup, nil
}

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

// dialHealthy dials a gRPC service and waits until it reports SERVING.
func dialHealthy(ctx context.Context, s *proc, addr string) (*grpc.ClientConn, error) {
	conn, err := grpcserver.Dial(addr)
	if err != nil {
		return nil, err
	}
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			conn.Close()
			return nil, fmt.Errorf("%s stopped: %v", s.name, err)
		default:
		}
		c, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := health.Check(c, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return conn, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	conn.Close()
	return nil, fmt.Errorf("%s not healthy after 60s", s.name)
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelWarn
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
