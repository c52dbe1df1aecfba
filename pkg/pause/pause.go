// Package pause holds the one context-aware sleep the retry loops of pkg/db and pkg/amqpx share.
package pause

import (
	"context"
	"time"
)

// For waits d or until ctx is done; it reports whether the full wait elapsed.
func For(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
