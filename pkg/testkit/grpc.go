package testkit

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/paysuite/paysuite/pkg/scratch"
)

// DialGRPC connects to addr and waits until its health service answers SERVING.
// The connection is closed at cleanup.
func DialGRPC(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := scratch.WaitHealthy(context.Background(), conn, nil); err != nil {
		t.Fatalf("gRPC server at %s: %v", addr, err)
	}
	return conn
}

// Go runs fn (a service's Run) in the background until the test ends; see Start.
func Go(t testing.TB, fn func(ctx context.Context) error) {
	t.Helper()
	Start(t, fn)
}

// Start runs fn (a service's Run) in the background and returns stop, which cancels it and waits
// for it to drain, failing the test if it returned an error. Stop runs at cleanup too, so a test
// may stop a service early (to publish while it is down) and start it again.
func Start(t testing.TB, fn func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("service returned: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("service did not stop within 30s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
