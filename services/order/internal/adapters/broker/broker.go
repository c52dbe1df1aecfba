// Package broker is the order service's side of RabbitMQ: the pay-deadline delay queue it
// feeds through the outbox, and the consumers of pay deadlines and payment results.
package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/money"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	"github.com/paysuite/paysuite/services/order/internal/app"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// Names (CONTRACT.md).
const (
	DeadlineExchange    = "paysuite.order.pay-deadline"
	DeadlineQueue       = "paysuite.order.pay-deadline"
	PaymentResultsQueue = "paysuite.order.payment-results"
)

// DelayQueue names the delay queue of one timeout value. One queue per value, each with a
// queue-level TTL, so every message in a queue expires in arrival order and a short timeout
// never waits behind a long one (per-message TTLs in a shared queue only expire at its head).
func DelayQueue(timeout time.Duration) string {
	return "paysuite.order.pay-timeout." + timeout.String()
}

// Topology declares the payment results fanout, the deadline exchange and this instance's
// delay queue. The consumer queues are declared by amqpx.Consume.
func Topology(timeout time.Duration) []amqpx.Topology {
	return []amqpx.Topology{
		amqpx.DeclarePaymentResults,
		amqpx.DeclareExchange(DeadlineExchange, amqp.ExchangeFanout),
		amqpx.DeclareQueue(DelayQueue(timeout), amqp.Table{
			"x-message-ttl":          timeout.Milliseconds(),
			"x-dead-letter-exchange": DeadlineExchange,
		}),
	}
}

// DeadlineScheduler writes an order's pay-deadline message to the outbox, in the transaction
// that creates the order: the message exists exactly when the order does.
type DeadlineScheduler struct {
	gdb   *gorm.DB
	queue string
}

// NewDeadlineScheduler schedules into DelayQueue(timeout).
func NewDeadlineScheduler(gdb *gorm.DB, timeout time.Duration) *DeadlineScheduler {
	return &DeadlineScheduler{gdb: gdb, queue: DelayQueue(timeout)}
}

// Schedule adds the message; call it inside the order's transaction.
func (s *DeadlineScheduler) Schedule(ctx context.Context, o *order.Order) error {
	msg, err := amqpx.ProtoMessage(fmt.Sprintf("order-pay-deadline-%d", o.ID), "", s.queue,
		&eventsv1.OrderPayDeadline{OrderId: o.ID, PayDeadline: timestamppb.New(o.PayDeadline)},
		nil) // no headers: the body has the order id, and encoding headers costs CPU on the hot path
	if err != nil {
		return err
	}
	return amqpx.AddToOutbox(ctx, s.gdb, msg)
}

// DeadlineConsumer expires the orders whose deadline message dead-lettered. Handlers lock only
// their own order, so several run at once; a payment service outage is retried for a while,
// then the message is parked and the sweeper finishes the job.
func DeadlineConsumer(a *app.App) (amqpx.ConsumerConfig, amqpx.Handler) {
	cfg := amqpx.ConsumerConfig{
		Name:         "order-pay-deadline",
		Queue:        DeadlineQueue,
		Bindings:     []amqpx.Binding{{Exchange: DeadlineExchange}},
		Prefetch:     32,
		Concurrency:  8,
		MaxAttempts:  20,
		RetryBackoff: 500 * time.Millisecond,
	}
	return cfg, func(ctx context.Context, d amqpx.Delivery) error {
		var m eventsv1.OrderPayDeadline
		if err := proto.Unmarshal(d.Body, &m); err != nil || m.GetOrderId() <= 0 {
			return fmt.Errorf("%w: not an OrderPayDeadline (%v)", amqpx.ErrPoison, err)
		}
		_, err := a.ExpireOrder(ctx, m.GetOrderId())
		return err
	}
}

var resultTypes = map[eventsv1.PaymentResultType]app.PaymentResultType{
	eventsv1.PaymentResultType_PAYMENT_SUCCEEDED: app.PaymentSucceeded,
	eventsv1.PaymentResultType_PAYMENT_CLOSED:    app.PaymentClosed,
	eventsv1.PaymentResultType_PAYMENT_REFUNDED:  app.PaymentRefunded,
}

// PaymentResultsConsumer makes orders follow payment results. An amount that disagrees with
// the order is parked for a human rather than retried.
func PaymentResultsConsumer(a *app.App) (amqpx.ConsumerConfig, amqpx.Handler) {
	cfg := amqpx.ConsumerConfig{
		Name:        "order-payment-results",
		Queue:       PaymentResultsQueue,
		Bindings:    []amqpx.Binding{{Exchange: amqpx.PaymentResultsExchange}},
		Prefetch:    32,
		Concurrency: 4,
	}
	return cfg, func(ctx context.Context, d amqpx.Delivery) error {
		var m eventsv1.PaymentResult
		if err := proto.Unmarshal(d.Body, &m); err != nil || m.GetOrderId() <= 0 {
			return fmt.Errorf("%w: not a PaymentResult (%v)", amqpx.ErrPoison, err)
		}
		typ, ok := resultTypes[m.GetType()]
		if !ok {
			return fmt.Errorf("%w: payment result type %s", amqpx.ErrPoison, m.GetType())
		}
		at := time.Now()
		if m.GetOccurredAt() != nil {
			at = m.GetOccurredAt().AsTime()
		}
		err := a.ApplyPaymentResult(ctx, app.PaymentResult{
			Type: typ, OrderID: m.GetOrderId(), PaymentID: m.GetPaymentId(), Amount: money.Fen(m.GetAmountFen()),
			RefundID: m.GetRefundId(), RefundedTotal: money.Fen(m.GetRefundedTotalFen()), At: at,
		})
		if errors.Is(err, order.ErrInvalidInput) {
			return fmt.Errorf("%w: %w", amqpx.ErrPoison, err)
		}
		return err
	}
}
