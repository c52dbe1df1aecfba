package run

import (
	"context"
	"errors"
	"testing"
)

func TestGroupStopsEveryPartWhenOneFails(t *testing.T) {
	boom := errors.New("boom")
	g := NewGroup(context.Background())
	stopped := make(chan struct{})
	g.Go("server", func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil })
	g.Go("consumer", func(ctx context.Context) error { return boom })
	err := g.Wait()
	if !errors.Is(err, boom) {
		t.Fatalf("Wait() = %v, want boom", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("the other part was not stopped")
	}
}

func TestGroupEndsCleanlyWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g := NewGroup(ctx)
	for _, name := range []string{"a", "b"} {
		g.Go(name, func(ctx context.Context) error { <-ctx.Done(); return nil })
	}
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait() = %v, want nil", err)
	}
}
