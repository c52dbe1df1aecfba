// Package app holds the order service's use cases, one file each. It reaches storage and
// other services only through the interfaces below, which adapters implement.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// OrderRepository stores orders. Every state change goes through Update.
type OrderRepository interface {
	// Create stores a new order, its items and its course seats, takes its stock and writes
	// events to the outbox, in one transaction. It fails with ErrDuplicateRequest when (user,
	// request id) exists, a *CourseHeldError when a course is held by another live order of the
	// user, order.ErrTooManyPending when the user would hold more than maxPending unpaid orders
	// (0: no limit), or catalog.ErrOutOfStock; nothing is written then.
	Create(ctx context.Context, o *order.Order, events []Event, maxPending int) error
	Get(ctx context.Context, id int64) (*order.Order, error)
	GetByRequest(ctx context.Context, userID, requestID string) (*order.Order, error)
	// ListByUser returns up to limit orders of the user, newest first, strictly after cursor
	// (nil: from the newest).
	ListByUser(ctx context.Context, userID string, after *Cursor, limit int) ([]*order.Order, error)
	// Update loads the order FOR UPDATE, runs fn, and writes the result in the same
	// transaction; leaving a stock-holding status for CANCELLED puts the stock back there.
	// An error from fn rolls back and is returned as is.
	Update(ctx context.Context, id int64, fn func(o *order.Order) error) (*order.Order, error)
}

// EventType is what an Event announces.
type EventType int

const (
	// EventPayDeadline: a new order must be paid by its PayDeadline; the message comes back to
	// the deadline consumer then, which expires the order unless it was paid.
	EventPayDeadline EventType = iota + 1
	// EventPaymentRefused: the order refused a payment the payment service reported as
	// succeeded (PaymentID, Amount, Reason, Detail, At); the payment service refunds it.
	EventPaymentRefused
)

// Event is a message a use case emits with a state change; the repository writes it to the
// Outbox in the change's transaction, so it exists exactly when the change does.
type Event struct {
	Type        EventType
	OrderID     int64
	PayDeadline time.Time
	// EventPaymentRefused only.
	PaymentID int64
	Amount    money.Fen
	Reason    string
	Detail    string
	At        time.Time
}

// Outbox writes events in the transaction carried by ctx.
type Outbox interface {
	Add(ctx context.Context, events ...Event) error
}

// Catalog reads SKUs.
type Catalog interface {
	ListSkus(ctx context.Context) ([]catalog.Sku, error)
	// GetSkus returns the known skus among ids; unknown ids are simply absent.
	GetSkus(ctx context.Context, ids []string) (map[string]catalog.Sku, error)
}

// PaymentCloser asks the payment service to close every open attempt of an order at the
// provider, so nobody can pay an order after it is cancelled. paid is set when an attempt
// turned out to be paid.
type PaymentCloser interface {
	ClosePayments(ctx context.Context, orderID int64) (paid *PaidPayment, err error)
}

// PaidPayment is a payment the provider confirmed.
type PaidPayment struct {
	PaymentID int64
	Amount    money.Fen
	PaidAt    time.Time
}

// ErrDuplicateRequest is returned by OrderRepository.Create when (user, request id) exists.
var ErrDuplicateRequest = errors.New("duplicate request id")

// ErrPaymentUnavailable: the payment service could not confirm that the order's payments are
// closed, so the order was left as it was. Retry later.
var ErrPaymentUnavailable = errors.New("payment service unavailable")

// CourseHeldError is returned by OrderRepository.Create when a course of the new order is
// already held by another live order of the same user.
type CourseHeldError struct {
	SkuID   string
	OrderID int64
}

func (e *CourseHeldError) Error() string {
	return fmt.Sprintf("course %q held by order %d", e.SkuID, e.OrderID)
}

// Config holds the use cases' settings.
type Config struct {
	PayTimeout        time.Duration
	MaxPendingPerUser int // unpaid orders one user may hold (0: no limit)
}

// App runs the use cases.
type App struct {
	orders  OrderRepository
	catalog Catalog
	closer  PaymentCloser // nil in an order-only deployment
	outbox  Outbox        // the refusals of payment results go out through it
	nextID  func() int64
	now     func() time.Time
	cfg     Config
	log     *slog.Logger
}

// New wires the use cases. closer may be nil: cancels then skip closing provider trades.
// outbox may be nil only without a broker (then no payment results are consumed either).
func New(orders OrderRepository, cat Catalog, closer PaymentCloser, outbox Outbox, nextID func() int64, cfg Config, log *slog.Logger) *App {
	return &App{orders: orders, catalog: cat, closer: closer, outbox: outbox, nextID: nextID, now: time.Now, cfg: cfg, log: log}
}

// WithClock replaces the clock (tests).
func (a *App) WithClock(now func() time.Time) *App { a.now = now; return a }
