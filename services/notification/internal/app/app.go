// Package app holds the notification service's use cases; storage, HTTP and the in-process
// status feed are reached through the interfaces below.
package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/paysuite/paysuite/services/notification/internal/domain/delivery"
	"github.com/paysuite/paysuite/services/notification/internal/domain/notice"
)

// Typed errors of the use cases (mapped by the ports like the domain's).
var (
	ErrBadPageToken = errors.New("page token is not valid")
	ErrBadPageSize  = errors.New("page size must not be negative")
)

// Tx runs fn in one transaction, joining the one ctx already carries (the consumer's).
type Tx func(ctx context.Context, fn func(ctx context.Context) error) error

// AfterCommit runs f once the transaction ctx carries has committed (never on rollback).
type AfterCommit func(ctx context.Context, f func())

// Notifications stores user notifications.
type Notifications interface {
	// Add stores n; it returns false (and changes nothing) when its event id is already stored.
	Add(ctx context.Context, n *notice.Notification) (bool, error)
	// ListByUser returns up to limit notifications with id < beforeID (0: from the newest), newest first.
	ListByUser(ctx context.Context, userID string, beforeID int64, limit int) ([]*notice.Notification, error)
	// LatestByOrder returns the newest notification of each payment of the order.
	LatestByOrder(ctx context.Context, orderID int64) ([]*notice.Notification, error)
}

// Subscriptions stores webhook subscriptions.
type Subscriptions interface {
	Create(ctx context.Context, s *delivery.Subscription) error
	ListActive(ctx context.Context) ([]*delivery.Subscription, error)
	// Get returns delivery.ErrSubscriptionNotFound when no subscription (even deleted) has the id.
	Get(ctx context.Context, id int64) (*delivery.Subscription, error)
	// Delete marks it deleted; ErrSubscriptionNotFound when there is no active one.
	Delete(ctx context.Context, id int64, at time.Time) error
}

// Deliveries stores webhook deliveries and their attempt logs.
type Deliveries interface {
	// Enqueue creates the delivery of an event to every active subscription, once per
	// (subscription, event) however often it is called.
	Enqueue(ctx context.Context, eventID string, body []byte, now time.Time) (int, error)
	// ClaimDue leases up to limit due pending deliveries until now+lease, so another dispatcher
	// (or this one after a crash) retries them only when the lease runs out.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*delivery.Delivery, error)
	// NextDue is the earliest next_attempt_at of a pending delivery (false when none).
	NextDue(ctx context.Context) (time.Time, bool, error)
	// Update loads the delivery locked, runs fn and writes it with any new attempts.
	Update(ctx context.Context, id int64, fn func(d *delivery.Delivery) error) (*delivery.Delivery, error)
	// ListBySubscription returns deliveries with id < beforeID (0: newest), newest first, with their logs.
	ListBySubscription(ctx context.Context, subscriptionID, beforeID int64, limit int) ([]*delivery.Delivery, error)
}

// Sender POSTs a signed body and reports how it went (never an error: failures are attempts).
type Sender interface {
	Send(ctx context.Context, url, secret, eventID string, body []byte) delivery.Attempt
}

// StatusUpdate is a payment's latest status, for watchers of its order.
type StatusUpdate struct {
	OrderID    int64
	PaymentID  int64
	Status     notice.Kind
	OccurredAt time.Time
}

// Feed is the in-process pub/sub of status updates, keyed by order id.
type Feed interface {
	Publish(u StatusUpdate)
	// Subscribe returns the updates of one order until cancel is called.
	Subscribe(orderID int64) (updates <-chan StatusUpdate, cancel func())
}

// Config tunes the use cases.
type Config struct {
	Schedule      delivery.Schedule
	SendTimeout   time.Duration // per POST (10s)
	DispatchBatch int           // deliveries sent concurrently per pass
	WatchPoll     time.Duration // WatchOrder re-reads the records this often (other instances' events)
}

// App is the notification service's use cases.
type App struct {
	cfg           Config
	tx            Tx
	afterCommit   AfterCommit
	notifications Notifications
	subscriptions Subscriptions
	deliveries    Deliveries
	sender        Sender
	feed          Feed
	newID         func() int64
	now           func() time.Time
	log           *slog.Logger
	wake          chan struct{}
}

// Deps are the adapters the use cases run on.
type Deps struct {
	Tx            Tx
	AfterCommit   AfterCommit
	Notifications Notifications
	Subscriptions Subscriptions
	Deliveries    Deliveries
	Sender        Sender
	Feed          Feed
	NewID         func() int64
}

// New builds the use cases.
func New(cfg Config, d Deps, log *slog.Logger) *App {
	if cfg.DispatchBatch <= 0 {
		cfg.DispatchBatch = 16
	}
	if cfg.WatchPoll <= 0 {
		cfg.WatchPoll = 2 * time.Second
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 10 * time.Second
	}
	return &App{cfg: cfg, tx: d.Tx, afterCommit: d.AfterCommit, notifications: d.Notifications, subscriptions: d.Subscriptions,
		deliveries: d.Deliveries, sender: d.Sender, feed: d.Feed, newID: d.NewID,
		now: func() time.Time { return time.Now().UTC() }, log: log, wake: make(chan struct{}, 1)}
}
