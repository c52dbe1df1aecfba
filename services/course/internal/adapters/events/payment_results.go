// Package events consumes paysuite.payment.results for the course service.
package events

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/paysuite/paysuite/pkg/amqpx"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/course/internal/app"
)

// Queue is the course service's own durable queue on the payment results fanout.
const Queue = "paysuite.course.payment-results"

// Consumer is the amqpx consumer configuration (queue, parking queue, binding).
func Consumer() amqpx.ConsumerConfig {
	return amqpx.ConsumerConfig{
		Name:     "course.payment-results",
		Queue:    Queue,
		Bindings: []amqpx.Binding{{Exchange: amqpx.PaymentResultsExchange}},
	}
}

var resultType = string((&eventsv1.PaymentResult{}).ProtoReflect().Descriptor().FullName())

// Handler decodes each PaymentResult and applies it; what can never be applied is parked.
func Handler(a *app.App) amqpx.Handler {
	return func(ctx context.Context, d amqpx.Delivery) error {
		r, err := Decode(d)
		if err != nil {
			return err
		}
		err = a.HandlePaymentResult(ctx, r)
		if errors.Is(err, app.ErrInvalidEvent) {
			return fmt.Errorf("%w: %v", amqpx.ErrPoison, err)
		}
		return err
	}
}

// Decode turns a delivery into the use case's input; errors wrap amqpx.ErrPoison.
func Decode(d amqpx.Delivery) (app.PaymentResult, error) {
	if d.Type != "" && d.Type != resultType {
		return app.PaymentResult{}, fmt.Errorf("%w: message type %q, want %s", amqpx.ErrPoison, d.Type, resultType)
	}
	if d.ContentType != "" && d.ContentType != amqpx.ContentTypeProtobuf {
		return app.PaymentResult{}, fmt.Errorf("%w: content type %q", amqpx.ErrPoison, d.ContentType)
	}
	var ev eventsv1.PaymentResult
	if err := proto.Unmarshal(d.Body, &ev); err != nil {
		return app.PaymentResult{}, fmt.Errorf("%w: decode PaymentResult: %v", amqpx.ErrPoison, err)
	}
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
	return r, nil
}
