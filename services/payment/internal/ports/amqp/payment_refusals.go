// Package amqp is the payment service's incoming messages: the order service's refusals of
// payments, which the payment service answers with an automatic refund.
package amqp

import (
	"context"
	"fmt"

	"github.com/paysuite/paysuite/pkg/amqpx"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// PaymentRefusalsQueue is the payment service's queue on the order's refusals fanout.
const PaymentRefusalsQueue = "paysuite.payment.order-refusals"

// PaymentRefusals refunds the payments the order service refused, believing only what
// orderUser (the order service's broker user) published: anything else is parked, so nobody
// else on the broker can have a payment refunded. The refund row, its task and the
// processed-message row commit together; a redelivery is skipped, and a second refusal of
// the same payment finds its one automatic refund. The order service down or slow changes
// nothing here: the refusal waits in the queue.
func PaymentRefusals(a *app.App, orderUser string) (amqpx.ConsumerConfig, amqpx.Handler) {
	cfg := amqpx.ConsumerConfig{
		Name:        "payment-order-refusals",
		Queue:       PaymentRefusalsQueue,
		Bindings:    []amqpx.Binding{{Exchange: amqpx.PaymentRefusalsExchange}},
		Publisher:   orderUser,
		Prefetch:    16,
		Concurrency: 2,
		MaxAttempts: 20,
	}
	return cfg, amqpx.Handle(func(ctx context.Context, m *eventsv1.OrderPaymentRefused) error {
		if m.GetOrderId() <= 0 || m.GetPaymentId() <= 0 {
			return fmt.Errorf("%w: payment refusal without an order or payment id", amqpx.ErrPoison)
		}
		return a.RefundRefusedPayment(ctx, app.RefusedPayment{OrderID: m.GetOrderId(), PaymentID: m.GetPaymentId(),
			Reason: m.GetReason(), Detail: m.GetDetail()})
	}, payment.ErrNotFound, app.ErrRefusalMismatch)
}
