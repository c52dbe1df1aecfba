package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/services/notification/internal/domain/delivery"
	"github.com/paysuite/paysuite/services/notification/internal/domain/notice"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

var errStorage = errors.New("storage unavailable")

// memNotifications implements Notifications in a map keyed by event id.
type memNotifications struct {
	byEvent map[string]notice.Notification
	fail    error
}

func (m *memNotifications) Add(_ context.Context, n *notice.Notification) (bool, error) {
	if m.fail != nil {
		return false, m.fail
	}
	if _, seen := m.byEvent[n.EventID]; seen {
		return false, nil
	}
	m.byEvent[n.EventID] = *n
	return true, nil
}

func (m *memNotifications) ListByUser(context.Context, string, int64, int) ([]*notice.Notification, error) {
	return nil, nil
}

func (m *memNotifications) LatestByOrder(context.Context, int64) ([]*notice.Notification, error) {
	return nil, nil
}

// memDeliveries implements Deliveries' Enqueue: one delivery per (subscription, event).
type memDeliveries struct {
	subscriptions int
	queued        map[string][]byte // event id → body, per subscription
	fail          error
}

func (m *memDeliveries) Enqueue(_ context.Context, eventID string, body []byte, _ time.Time) (int, error) {
	if m.fail != nil {
		return 0, m.fail
	}
	n := 0
	for s := range m.subscriptions {
		key := eventID + "/" + string(rune('a'+s))
		if _, ok := m.queued[key]; !ok {
			m.queued[key] = body
			n++
		}
	}
	return n, nil
}

func (m *memDeliveries) ClaimDue(context.Context, time.Time, time.Duration, Claim) ([]*delivery.Delivery, error) {
	return nil, nil
}
func (m *memDeliveries) NextDue(context.Context) (time.Time, bool, error) {
	return time.Time{}, false, nil
}
func (m *memDeliveries) Update(context.Context, int64, func(*delivery.Delivery) error) (*delivery.Delivery, error) {
	return nil, nil
}
func (m *memDeliveries) ListBySubscription(context.Context, int64, int64, int) ([]*delivery.Delivery, error) {
	return nil, nil
}

// memTx is the database transaction around both stores: a rollback restores them, and
// AfterCommit work runs only after the outermost transaction committed.
type memTx struct {
	notes      *memNotifications
	deliveries *memDeliveries
}

type txKey struct{}

type txWork struct{ afterCommit []func() }

func (m *memTx) run(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, nested := ctx.Value(txKey{}).(*txWork); nested {
		return fn(ctx)
	}
	notes, queued := maps.Clone(m.notes.byEvent), maps.Clone(m.deliveries.queued)
	work := &txWork{}
	if err := fn(context.WithValue(ctx, txKey{}, work)); err != nil {
		m.notes.byEvent, m.deliveries.queued = notes, queued
		return err
	}
	for _, f := range work.afterCommit {
		f()
	}
	return nil
}

func (m *memTx) afterCommit(ctx context.Context, f func()) {
	if work, ok := ctx.Value(txKey{}).(*txWork); ok {
		work.afterCommit = append(work.afterCommit, f)
		return
	}
	f()
}

// memFeed records what watchers were told.
type memFeed struct{ published []StatusUpdate }

func (f *memFeed) Publish(u StatusUpdate) { f.published = append(f.published, u) }
func (f *memFeed) Subscribe(int64) (<-chan StatusUpdate, func()) {
	return nil, func() {}
}

func succeeded(eventID string) notice.Result {
	return notice.Result{EventID: eventID, Kind: notice.KindSucceeded, OrderID: 10, PaymentID: 5, UserID: "u1",
		Amount: 1234, OccurredAt: t0}
}

func TestHandlePaymentResult(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before        []notice.Result // handled and committed first
		r             notice.Result
		subscriptions int
		setup         func(*memNotifications, *memDeliveries)
		commitErr     error // the consumer's transaction fails to commit after the handler
		wantErr       error
		// afterwards: users notified, deliveries queued, watcher updates, dispatcher woken
		notes, queued, updates int
		woken                  bool
	}{
		{name: "a fresh event tells the user, queues a webhook per subscription and the watchers",
			r: succeeded("e1"), subscriptions: 2, notes: 1, queued: 2, updates: 1, woken: true},
		{name: "without subscriptions nothing is queued and the dispatcher sleeps on",
			r: succeeded("e1"), notes: 1, updates: 1},
		{name: "an event seen before changes nothing more",
			before: []notice.Result{succeeded("e1")}, r: succeeded("e1"), subscriptions: 2, notes: 1, queued: 2},
		{name: "an invalid event is parked and stores nothing",
			r: func() notice.Result { r := succeeded("e1"); r.PaymentID = 0; return r }(), subscriptions: 2,
			wantErr: notice.ErrInvalidResult},
		{name: "queueing fails: nothing is kept and nobody is told",
			r: succeeded("e1"), subscriptions: 2, setup: func(_ *memNotifications, d *memDeliveries) { d.fail = errStorage },
			wantErr: errStorage},
		{name: "the notification cannot be stored: nobody is told",
			r: succeeded("e1"), subscriptions: 2, setup: func(n *memNotifications, _ *memDeliveries) { n.fail = errStorage },
			wantErr: errStorage},
		{name: "the consumer's commit fails afterwards: nobody is told what was rolled back",
			r: succeeded("e1"), subscriptions: 2, commitErr: errStorage, wantErr: errStorage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notes := &memNotifications{byEvent: map[string]notice.Notification{}}
			deliveries := &memDeliveries{subscriptions: tc.subscriptions, queued: map[string][]byte{}}
			tx := &memTx{notes: notes, deliveries: deliveries}
			feed := &memFeed{}
			next := int64(100)
			a := New(Config{}, Deps{Tx: tx.run, AfterCommit: tx.afterCommit, Notifications: notes, Deliveries: deliveries,
				Feed: feed, NewID: func() int64 { next++; return next }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			a.now = func() time.Time { return t0 }
			// As the consumer calls it: inside its transaction, which commits after the handler.
			consume := func(r notice.Result, commitErr error) error {
				return tx.run(context.Background(), func(ctx context.Context) error {
					if err := a.HandlePaymentResult(ctx, r, []byte(`{"eventId":"`+r.EventID+`"}`)); err != nil {
						return err
					}
					return commitErr
				})
			}
			for _, r := range tc.before {
				if err := consume(r, nil); err != nil {
					t.Fatal(err)
				}
			}
			feed.published = nil
			select {
			case <-a.wake:
			default:
			}
			if tc.setup != nil {
				tc.setup(notes, deliveries)
			}

			err := consume(tc.r, tc.commitErr)

			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(notes.byEvent) != tc.notes || len(deliveries.queued) != tc.queued || len(feed.published) != tc.updates {
				t.Fatalf("%d notifications, %d deliveries, %d watcher updates; want %d, %d, %d",
					len(notes.byEvent), len(deliveries.queued), len(feed.published), tc.notes, tc.queued, tc.updates)
			}
			if woken := len(a.wake) == 1; woken != tc.woken {
				t.Fatalf("dispatcher woken: %v, want %v", woken, tc.woken)
			}
			if tc.notes == 1 {
				n := notes.byEvent["e1"]
				if n.UserID != "u1" || n.OrderID != 10 || !strings.Contains(n.Message, "¥12.34 for order 10 succeeded") {
					t.Fatalf("notification %+v", n)
				}
			}
			if tc.updates == 1 {
				if u := feed.published[0]; u != (StatusUpdate{OrderID: 10, PaymentID: 5, Status: notice.KindSucceeded, OccurredAt: t0}) {
					t.Fatalf("watchers told %+v", u)
				}
			}
		})
	}
}
