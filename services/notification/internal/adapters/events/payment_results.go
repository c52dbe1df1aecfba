// Package events consumes paysuite.payment.results for the notification service.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/money"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	"github.com/paysuite/paysuite/services/notification/internal/app"
	"github.com/paysuite/paysuite/services/notification/internal/domain/notice"
)

// Queue is the notification service's own durable queue on the payment results fanout.
const Queue = "paysuite.notification.payment-results"

// Consumer is the amqpx consumer configuration (queue, parking queue, binding).
func Consumer() amqpx.ConsumerConfig {
	return amqpx.ConsumerConfig{
		Name:     "notification.payment-results",
		Queue:    Queue,
		Bindings: []amqpx.Binding{{Exchange: amqpx.PaymentResultsExchange}},
	}
}

var resultType = string((&eventsv1.PaymentResult{}).ProtoReflect().Descriptor().FullName())

// Handler decodes each PaymentResult and records it; what can never be recorded is parked.
func Handler(a *app.App) amqpx.Handler {
	return func(ctx context.Context, d amqpx.Delivery) error {
		ev, err := decode(d)
		if err != nil {
			return err
		}
		body, err := WebhookBody(ev)
		if err != nil {
			return fmt.Errorf("%w: %v", amqpx.ErrPoison, err)
		}
		err = a.HandlePaymentResult(ctx, toResult(ev), body)
		if errors.Is(err, notice.ErrInvalidResult) {
			return fmt.Errorf("%w: %v", amqpx.ErrPoison, err)
		}
		return err
	}
}

func decode(d amqpx.Delivery) (*eventsv1.PaymentResult, error) {
	if d.Type != "" && d.Type != resultType {
		return nil, fmt.Errorf("%w: message type %q, want %s", amqpx.ErrPoison, d.Type, resultType)
	}
	if d.ContentType != "" && d.ContentType != amqpx.ContentTypeProtobuf {
		return nil, fmt.Errorf("%w: content type %q", amqpx.ErrPoison, d.ContentType)
	}
	var ev eventsv1.PaymentResult
	if err := proto.Unmarshal(d.Body, &ev); err != nil {
		return nil, fmt.Errorf("%w: decode PaymentResult: %v", amqpx.ErrPoison, err)
	}
	return &ev, nil
}

// WebhookBody is the JSON merchants receive: the PaymentResult in protojson (lowerCamelCase,
// int64 as strings, enums by name), whose "type" says which result it is.
func WebhookBody(ev *eventsv1.PaymentResult) ([]byte, error) {
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
	}
	if ev.GetOccurredAt() != nil {
		r.OccurredAt = ev.GetOccurredAt().AsTime()
	}
	switch ev.GetType() {
	case eventsv1.PaymentResultType_PAYMENT_SUCCEEDED:
		r.Kind = notice.KindSucceeded
	case eventsv1.PaymentResultType_PAYMENT_CLOSED:
		r.Kind = notice.KindClosed
	case eventsv1.PaymentResultType_PAYMENT_REFUNDED:
		r.Kind = notice.KindRefunded
	}
	return r
}
