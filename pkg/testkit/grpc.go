package testkit

import (
	"context"
	"sync"
	"testing"
	"time"
)

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
