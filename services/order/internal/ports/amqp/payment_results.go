package amqp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/money"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	"github.com/paysuite/paysuite/services/order/internal/app"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// PaymentResults makes orders follow payment results. An amount that disagrees with the order
// is parked for a human rather than retried.
func PaymentResults(a *app.App) (amqpx.ConsumerConfig, amqpx.Handler) {
	cfg := amqpx.ConsumerConfig{
		Name:        "order-payment-results",
		Queue:       PaymentResultsQueue,
		Bindings:    []amqpx.Binding{{Exchange: amqpx.PaymentResultsExchange}},
		Prefetch:    32,
		Concurrency: 4,
	}
	return cfg, func(ctx context.Context, d amqpx.Delivery) error {
		m, err := amqpx.Decode[eventsv1.PaymentResult](d)
		if err != nil {
			return err
		}
		if m.GetOrderId() <= 0 {
			return fmt.Errorf("%w: payment result without an order id", amqpx.ErrPoison)
		}
		typ := resultType(m.GetType())
		if typ == 0 {
			return fmt.Errorf("%w: payment result type %s", amqpx.ErrPoison, m.GetType())
		}
		at := time.Now()
		if m.GetOccurredAt() != nil {
			at = m.GetOccurredAt().AsTime()
		}
		err = a.ApplyPaymentResult(ctx, app.PaymentResult{
			Type: typ, OrderID: m.GetOrderId(), PaymentID: m.GetPaymentId(), Amount: money.Fen(m.GetAmountFen()),
			RefundID: m.GetRefundId(), RefundedTotal: money.Fen(m.GetRefundedTotalFen()), At: at,
		})
		if errors.Is(err, order.ErrInvalidInput) {
			return amqpx.Poison(err)
		}
		return err
	}
}

func resultType(t eventsv1.PaymentResultType) app.PaymentResultType {
	switch t {
	case eventsv1.PaymentResultType_PAYMENT_SUCCEEDED:
		return app.PaymentSucceeded
	case eventsv1.PaymentResultType_PAYMENT_CLOSED:
		return app.PaymentClosed
	case eventsv1.PaymentResultType_PAYMENT_REFUNDED:
		return app.PaymentRefunded
	}
	return 0
}
