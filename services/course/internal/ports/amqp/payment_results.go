// Package amqp is the course service's incoming messages: PaymentResult from the payment
// results fanout, decoded and handed to the use cases.
package amqp

import (
	"context"

	"github.com/paysuite/paysuite/pkg/amqpx"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/course/internal/app"
)

// PaymentResultsQueue is the course service's own durable queue on the payment results fanout.
const PaymentResultsQueue = "paysuite.course.payment-results"

// PaymentResults enrols buyers from each PaymentResult; what can never be applied is parked.
// Only what paymentUser (the payment service's broker user) published is handled; anything
// else on the queue is parked.
func PaymentResults(a *app.App, paymentUser string) (amqpx.ConsumerConfig, amqpx.Handler) {
	return amqpx.PaymentResultsConsumer("course.payment-results", PaymentResultsQueue, paymentUser),
		amqpx.Handle(func(ctx context.Context, ev *eventsv1.PaymentResult) error {
			return a.HandlePaymentResult(ctx, paymentResult(ev))
		}, app.ErrInvalidEvent)
}

func paymentResult(ev *eventsv1.PaymentResult) app.PaymentResult {
	r := app.PaymentResult{
		EventID:    ev.GetEventId(),
		OrderID:    ev.GetOrderId(),
		PaymentID:  ev.GetPaymentId(),
		UserID:     ev.GetUserId(),
		FullRefund: ev.GetFullRefund(),
	}
	if ev.GetOccurredAt() != nil {
		r.OccurredAt = ev.GetOccurredAt().AsTime()
	}
	switch ev.GetType() {
	case eventsv1.PaymentResultType_PAYMENT_SUCCEEDED:
		r.Type = app.ResultSucceeded
	case eventsv1.PaymentResultType_PAYMENT_CLOSED:
		r.Type = app.ResultClosed
	case eventsv1.PaymentResultType_PAYMENT_REFUNDED:
		r.Type = app.ResultRefunded
	}
	for _, it := range ev.GetItems() {
		r.Items = append(r.Items, app.Item{SkuID: it.GetSkuId(), Title: it.GetTitle(), Course: it.GetKind() == orderv1.SkuKind_COURSE})
	}
	for _, it := range ev.GetRefundedItems() {
		if it.GetKind() == orderv1.SkuKind_COURSE {
			r.RefundedCourses = append(r.RefundedCourses, it.GetSkuId())
		}
	}
	return r
}
