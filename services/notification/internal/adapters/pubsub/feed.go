// Package pubsub is the in-process feed of order status updates behind WatchOrder.
package pubsub

import (
	"sync"

	"github.com/paysuite/paysuite/services/notification/internal/app"
)

var _ app.Feed = (*Feed)(nil)

// buffer is per watcher; a watcher that falls this far behind loses its oldest updates (the
// newest status is what a cashier page needs, and WatchOrder's re-read repairs any gap).
const buffer = 16

// Feed fans updates out to the watchers of each order.
type Feed struct {
	mu       sync.Mutex
	watchers map[int64]map[chan app.StatusUpdate]struct{}
}

// NewFeed returns an empty feed.
func NewFeed() *Feed {
	return &Feed{watchers: map[int64]map[chan app.StatusUpdate]struct{}{}}
}

// Publish implements app.Feed; it never blocks.
func (f *Feed) Publish(u app.StatusUpdate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.watchers[u.OrderID] {
		select {
		case ch <- u:
			continue
		default:
		}
		select { // full: drop the oldest
		case <-ch:
		default:
		}
		select {
		case ch <- u:
		default:
		}
	}
}

// Subscribe implements app.Feed.
func (f *Feed) Subscribe(orderID int64) (<-chan app.StatusUpdate, func()) {
	ch := make(chan app.StatusUpdate, buffer)
	f.mu.Lock()
	if f.watchers[orderID] == nil {
		f.watchers[orderID] = map[chan app.StatusUpdate]struct{}{}
	}
	f.watchers[orderID][ch] = struct{}{}
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			delete(f.watchers[orderID], ch)
			if len(f.watchers[orderID]) == 0 {
				delete(f.watchers, orderID)
			}
		})
	}
}
