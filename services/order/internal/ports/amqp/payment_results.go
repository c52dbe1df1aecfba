package amqp

import (
	"context"
	"fmt"
	"time"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/money"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	"github.com/paysuite/paysuite/services/order/internal/app"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// PaymentResults makes orders follow the payment results that paymentUser (the payment
// service's broker user) published: the one way "paid" reaches an order. A success the order
// refuses is answered on the payment refusals exchange in the same transaction (see
// app.ApplyPaymentResult); another amount for the payment that already paid the order is parked
// for a human rather than retried, and so is a result anyone else published.
func PaymentResults(a *app.App, paymentUser string) (amqpx.ConsumerConfig, amqpx.Handler) {
	cfg := amqpx.PaymentResultsConsumer("order-payment-results", PaymentResultsQueue, paymentUser)
	cfg.Prefetch, cfg.Concurrency = 32, 4
	return cfg, amqpx.Handle(func(ctx context.Context, m *eventsv1.PaymentResult) error {
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
		return a.ApplyPaymentResult(ctx, app.PaymentResult{
			Type: typ, OrderID: m.GetOrderId(), PaymentID: m.GetPaymentId(), Amount: money.Fen(m.GetAmountFen()),
			RefundID: m.GetRefundId(), RefundedTotal: money.Fen(m.GetRefundedTotalFen()), At: at,
		})
	}, order.ErrInvalidInput)
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
