package run

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Group runs the long-lived parts of a service (servers, consumers, workers) side by side.
// When one part fails the others are stopped, so a service never limps on half-alive.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
}

// NewGroup returns a group whose parts stop when ctx ends or any part fails.
func NewGroup(ctx context.Context) *Group {
	ctx, cancel := context.WithCancel(ctx)
	return &Group{ctx: ctx, cancel: cancel}
}

// Go starts part name; fn must return once its ctx is done.
func (g *Group) Go(name string, fn func(ctx context.Context) error) {
	g.wg.Go(func() {
		if err := fn(g.ctx); err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, fmt.Errorf("%s: %w", name, err))
			g.mu.Unlock()
			g.cancel()
		}
	})
}

// Wait blocks until every part has returned and reports their errors.
func (g *Group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return errors.Join(g.errs...)
}
