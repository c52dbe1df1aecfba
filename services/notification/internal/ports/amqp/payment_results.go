// Package amqp is the notification service's incoming messages: PaymentResult from the payment
// results fanout, decoded and handed to the use cases.
package amqp

import (
	"context"
	"encoding/json"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/money"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	"github.com/paysuite/paysuite/services/notification/internal/app"
	"github.com/paysuite/paysuite/services/notification/internal/domain/notice"
)

// PaymentResultsQueue is the notification service's own durable queue on the payment results fanout.
const PaymentResultsQueue = "paysuite.notification.payment-results"

// PaymentResults records each PaymentResult for users, webhooks and watchers; what can never be
// recorded is parked.
// Only what paymentUser (the payment service's broker user) published is handled; anything
// else on the queue is parked.
func PaymentResults(a *app.App, paymentUser string) (amqpx.ConsumerConfig, amqpx.Handler) {
	return amqpx.PaymentResultsConsumer("notification.payment-results", PaymentResultsQueue, paymentUser),
		amqpx.Handle(func(ctx context.Context, ev *eventsv1.PaymentResult) error {
			body, err := webhookBody(ev)
			if err != nil {
				return amqpx.Poison(err)
			}
			return a.HandlePaymentResult(ctx, toResult(ev), body)
		}, notice.ErrInvalidResult)
}

// webhookBody is the JSON merchants receive: the PaymentResult in protojson (lowerCamelCase,
// int64 as strings, enums by name), whose "type" says which result it is.
func webhookBody(ev *eventsv1.PaymentResult) ([]byte, error) {
	raw, err := protojson.Marshal(ev)
	if err != nil {
		return nil, err
	}
	// protojson's spacing is deliberately unstable; compact it so the stored body is canonical.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	typ, _ := json.Marshal(ev.GetType().String())
	fields["type"] = typ
	return json.Marshal(fields)
}

func toResult(ev *eventsv1.PaymentResult) notice.Result {
	r := notice.Result{
		EventID:         ev.GetEventId(),
		OrderID:         ev.GetOrderId(),
		PaymentID:       ev.GetPaymentId(),
		UserID:          ev.GetUserId(),
		Amount:          money.Fen(ev.GetAmountFen()),
		RefundAmount:    money.Fen(ev.GetRefundAmountFen()),
		RefundedTotal:   money.Fen(ev.GetRefundedTotalFen()),
		FullRefund:      ev.GetFullRefund(),
		Reason:          ev.GetReason(),
		ProviderTradeNo: ev.GetProviderTradeNo(),
		ChannelName:     ev.GetChannel().String(),
		Kind:            notice.Kind(ev.GetType().String()), // the kinds are the enum's names; Validate refuses others
	}
	if ev.GetOccurredAt() != nil {
		r.OccurredAt = ev.GetOccurredAt().AsTime()
	}
	return r
}
