package amqp

import (
	"context"
	"fmt"
	"time"

	"github.com/paysuite/paysuite/pkg/amqpx"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	"github.com/paysuite/paysuite/services/order/internal/app"
)

// Deadlines expires the orders whose deadline message dead-lettered. Handlers lock only their
// own order, so several run at once; a payment service outage is retried for a while, then the
// message is parked and the sweeper finishes the job.
func Deadlines(a *app.App) (amqpx.ConsumerConfig, amqpx.Handler) {
	cfg := amqpx.ConsumerConfig{
		Name:         "order-pay-deadline",
		Queue:        DeadlineQueue,
		Bindings:     []amqpx.Binding{{Exchange: DeadlineExchange}},
		Prefetch:     32,
		Concurrency:  8,
		MaxAttempts:  20,
		RetryBackoff: 500 * time.Millisecond,
	}
	return cfg, amqpx.Handle(func(ctx context.Context, m *eventsv1.OrderPayDeadline) error {
		if m.GetOrderId() <= 0 {
			return fmt.Errorf("%w: pay deadline without an order id", amqpx.ErrPoison)
		}
		_, err := a.ExpireOrder(ctx, m.GetOrderId())
		return err
	})
}
