// Package app holds the payment use cases, one file each. It reaches storage, the order service
// and the providers only through the interfaces in ports.go.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// Config tunes the use cases.
type Config struct {
	ProviderTradeTimeout time.Duration              // how long a provider trade stays payable (< the order's pay timeout)
	PollScale            float64                    // multiplies the polling backoff schedule (tests: small)
	TaskRetryMax         time.Duration              // cap of the retry backoff of durable tasks
	Subject              string                     // trade subject shown to the buyer
	ReturnURLs           payment.ReturnURLAllowlist // PAYMENT_RETURN_URL_ALLOWLIST
	Recon                ReconConfig
}

// App is the payment service's use cases.
type App struct {
	cfg      Config
	payments Payments
	refunds  Refunds
	notifies NotifyLog
	tasks    Tasks
	anomal   Anomalies
	orders   Orders
	channels map[payment.Channel]Channel
	// reconciliation (reconcile.go)
	bills      map[payment.Channel]BillSource
	recons     Reconciliations
	anomalies  AnomalyRecorder
	reconObs   ReconObserver
	reconMu    sync.Mutex
	reconLocks map[string]chan struct{}
	newID      func() int64 // snowflake ids
	log        *slog.Logger
	now        func() time.Time
	wake       chan struct{}
	// published is called after a commit that wrote events (the outbox relay's Wake).
	published func()
}

// Deps are the adapters the use cases run on.
type Deps struct {
	Payments  Payments
	Refunds   Refunds
	Notifies  NotifyLog
	Tasks     Tasks
	Anomalies Anomalies
	Orders    Orders
	Channels  map[payment.Channel]Channel // the configured ones
	NewID     func() int64
	// Reconciliation: the channels' bills, the runs' storage, where its anomalies go.
	Bills           map[payment.Channel]BillSource
	Recons          Reconciliations
	AnomalyRecorder AnomalyRecorder
	ReconObserver   ReconObserver // nil observes nothing
}

// OnEventsCommitted sets what to call after a transaction that wrote events committed.
func (a *App) OnEventsCommitted(f func()) { a.published = f }

func (a *App) eventsCommitted() {
	if a.published != nil {
		a.published()
	}
}

// New wires the use cases.
func New(cfg Config, d Deps, log *slog.Logger) *App {
	if cfg.PollScale <= 0 {
		cfg.PollScale = 1
	}
	if cfg.TaskRetryMax == 0 {
		cfg.TaskRetryMax = 30 * time.Second
	}
	cfg.Recon.defaults()
	if cfg.Subject == "" {
		cfg.Subject = "paysuite order"
	}
	return &App{
		cfg: cfg, payments: d.Payments, refunds: d.Refunds, notifies: d.Notifies, tasks: d.Tasks, anomal: d.Anomalies, orders: d.Orders,
		channels: d.Channels, newID: d.NewID, log: log,
		bills: d.Bills, recons: d.Recons, anomalies: d.AnomalyRecorder, reconObs: d.ReconObserver, reconLocks: map[string]chan struct{}{},
		now: func() time.Time { return time.Now().UTC() }, wake: make(chan struct{}, 1),
	}
}

func (a *App) channel(c payment.Channel) (Channel, error) {
	ch, ok := a.channels[c]
	if !ok {
		return nil, fmt.Errorf("channel %s is not configured: %w", c, payment.ErrInvalidChannel)
	}
	return ch, nil
}

// Wake makes the task runner look for due work now (after a commit that scheduled some).
func (a *App) Wake() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// event is the result event of p's change. Its id names the change itself (each happens once: a
// payment succeeds or closes once, a refund succeeds once), not a freshly minted number: two
// processes that ever shared a snowflake node could not give two events one id, and the same
// change recorded twice would collide in the outbox instead of going out as two events.
func (a *App) event(t EventType, p *payment.Payment, r *payment.Refund, reason string) Event {
	id := fmt.Sprintf("payment-%d-%s", p.ID, strings.ToLower(string(t)))
	if r != nil {
		id += "-" + strconv.FormatInt(r.ID, 10)
	}
	return Event{ID: id, Type: t, Payment: *p, Refund: r, Reason: reason, OccurredAt: a.now()}
}

// GetPayment returns one attempt the caller may see (another customer's is ErrNotFound).
func (a *App) GetPayment(ctx context.Context, who principal.Caller, id int64) (*payment.Payment, error) {
	if id <= 0 {
		return nil, payment.ErrMissingPaymentID
	}
	p, err := a.payments.GetPayment(ctx, id)
	if err != nil {
		return nil, err
	}
	if !who.MayRead(p.UserID) {
		return nil, payment.NotFoundError("payment", id) // as if it did not exist
	}
	return p, nil
}

// ListOrderPayments returns every attempt of an order, oldest first. For a customer, another
// user's order and an unknown one are both ErrOrderNotFound, alike: with no attempts to name
// the order's user, the order service says whose it is. Merchants and services get an empty
// list for an order without attempts.
func (a *App) ListOrderPayments(ctx context.Context, who principal.Caller, orderID int64) ([]*payment.Payment, error) {
	if orderID <= 0 {
		return nil, payment.ErrMissingOrderID
	}
	list, err := a.payments.ListOrderPayments(ctx, orderID)
	if err != nil {
		return nil, err
	}
	for _, p := range list { // every attempt carries the order's user
		if !who.MayRead(p.UserID) {
			return nil, payment.OrderNotFoundError(orderID)
		}
	}
	if len(list) == 0 && who.User != nil && !who.IsMerchant() {
		o, err := a.orders.GetOrder(ctx, orderID)
		if err != nil {
			return nil, err
		}
		if !who.MayRead(o.UserID) {
			return nil, payment.OrderNotFoundError(orderID)
		}
	}
	return list, nil
}

// GetRefund returns one refund the caller may see: a refund belongs to its payment's user.
func (a *App) GetRefund(ctx context.Context, who principal.Caller, id int64) (*payment.Refund, error) {
	if id <= 0 {
		return nil, payment.ErrMissingRefundID
	}
	r, err := a.refunds.GetRefund(ctx, id)
	if err != nil || who.IsMerchant() {
		return r, err
	}
	p, err := a.payments.GetPayment(ctx, r.PaymentID)
	if err != nil {
		return nil, err
	}
	if !who.MayRead(p.UserID) {
		return nil, payment.NotFoundError("refund", id) // as if it did not exist
	}
	return r, nil
}
