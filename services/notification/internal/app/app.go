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
	// ErrNotYours: a customer asked for another user's notifications (PermissionDenied).
	ErrNotYours = errors.New("not allowed for this user")
	// ErrMerchantOnly: webhook administration is merchant staff's (PermissionDenied).
	ErrMerchantOnly = errors.New("webhook administration needs the merchant role")
	// ErrOrderNotFound: the watched order does not exist, or is another customer's.
	ErrOrderNotFound = errors.New("order not found")
	// ErrTooManyWatches: the user holds the most live order streams allowed (ResourceExhausted).
	ErrTooManyWatches = errors.New("too many live order streams for this user; close one first")
	// ErrOrdersUnavailable: the order service could not say whose the order is (Unavailable).
	ErrOrdersUnavailable = errors.New("order service unavailable")
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
	// ClaimDue leases due pending deliveries until now+lease, so another dispatcher (or this one
	// after a crash) retries them only when the lease runs out: at most c.Limit in all and
	// c.Room(subscription) of each subscription, oldest due first.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, c Claim) ([]*delivery.Delivery, error)
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

// OrderStatus is the order service's status of an order, as text (PENDING_PAYMENT, PAID, …).
type OrderStatus string

// Final order statuses: a watch of such an order has nothing more to wait for.
const (
	OrderPaid      OrderStatus = "PAID"
	OrderCancelled OrderStatus = "CANCELLED"
	OrderRefunded  OrderStatus = "REFUNDED"
)

// Final reports whether nothing more will happen to the order's payment status.
func (s OrderStatus) Final() bool { return s == OrderPaid || s == OrderCancelled || s == OrderRefunded }

// Orders asks the order service about an order: whose it is and where it stands.
type Orders interface {
	// Order returns the order's owner and status; ErrOrderNotFound when it does not exist.
	Order(ctx context.Context, orderID int64) (owner string, status OrderStatus, err error)
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
	DispatchBatch int           // deliveries in flight at once (16)
	WatchPoll     time.Duration // WatchOrder re-reads the records this often (other instances' events)
	AllowHTTP     bool          // plain-http webhook URLs (dev and tests; WEBHOOK_ALLOW_PRIVATE)
	WatchMaxAge   time.Duration // a live order stream ends after this long (35m)
	WatchPerUser  int           // live order streams one user may hold (5)
	// PerSubscription is how many deliveries to one endpoint are in flight at once, so one slow
	// endpoint holds back only its own deliveries (2).
	PerSubscription int
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
	orders        Orders // nil: watches are not checked against the order service
	log           *slog.Logger
	wake          chan struct{}
	watches       *watchCounts
	inFlight      *inFlight
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
	Orders        Orders
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
	if cfg.WatchMaxAge <= 0 {
		cfg.WatchMaxAge = 35 * time.Minute
	}
	if cfg.WatchPerUser <= 0 {
		cfg.WatchPerUser = 5
	}
	if cfg.PerSubscription <= 0 {
		cfg.PerSubscription = 2
	}
	return &App{cfg: cfg, tx: d.Tx, afterCommit: d.AfterCommit, notifications: d.Notifications, subscriptions: d.Subscriptions,
		deliveries: d.Deliveries, sender: d.Sender, feed: d.Feed, orders: d.Orders, newID: d.NewID,
		now: func() time.Time { return time.Now().UTC() }, log: log, wake: make(chan struct{}, 1),
		watches: &watchCounts{byUser: map[string]int{}}, inFlight: newInFlight()}
}
