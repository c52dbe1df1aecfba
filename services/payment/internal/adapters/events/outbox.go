// Package events turns payment state changes into eventsv1.PaymentResult messages in the
// transactional outbox (pkg/amqpx); the relay publishes them to paysuite.payment.results.
package events

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/pbconv"
)

// Outbox implements app.Outbox with amqpx.AddToOutbox, joining the transaction in ctx.
type Outbox struct{ gdb *gorm.DB }

var _ app.Outbox = (*Outbox)(nil)

// NewOutbox writes to gdb's outbox_messages.
func NewOutbox(gdb *gorm.DB) *Outbox { return &Outbox{gdb: gdb} }

func (o *Outbox) Add(ctx context.Context, evs ...app.Event) error {
	msgs := make([]amqpx.Message, 0, len(evs))
	for _, ev := range evs {
		m, err := amqpx.ProtoMessage(ev.ID, amqpx.PaymentResultsExchange, "", Result(ev),
			map[string]any{"order_id": ev.Payment.OrderID, "payment_id": ev.Payment.ID, "type": string(ev.Type)})
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	if err := amqpx.AddToOutbox(ctx, o.gdb, msgs...); err != nil {
		return fmt.Errorf("add %d payment results to the outbox: %w", len(msgs), err)
	}
	return nil
}

var resultTypes = map[app.EventType]eventsv1.PaymentResultType{
	app.EventSucceeded: eventsv1.PaymentResultType_PAYMENT_SUCCEEDED,
	app.EventClosed:    eventsv1.PaymentResultType_PAYMENT_CLOSED,
	app.EventRefunded:  eventsv1.PaymentResultType_PAYMENT_REFUNDED,
}

// Result builds the protobuf event.
func Result(ev app.Event) *eventsv1.PaymentResult {
	p := ev.Payment
	r := &eventsv1.PaymentResult{
		EventId: ev.ID, Type: resultTypes[ev.Type], OrderId: p.OrderID, PaymentId: p.ID, UserId: p.UserID,
		Channel: pbconv.Channel(p.Channel), AmountFen: int64(p.Amount), ProviderTradeNo: p.ProviderTradeNo,
		OccurredAt: timestamppb.New(ev.OccurredAt), Reason: ev.Reason, RefundedTotalFen: int64(p.RefundedFen),
	}
	for _, it := range p.Items {
		r.Items = append(r.Items, &eventsv1.PaymentResultItem{
			SkuId: it.SkuID, Title: it.Title, Kind: orderv1.SkuKind(orderv1.SkuKind_value[it.Kind]),
			Quantity: it.Quantity, UnitPriceFen: int64(it.UnitPriceFen),
		})
	}
	if ev.Refund != nil {
		r.RefundId = ev.Refund.ID
		r.RefundAmountFen = int64(ev.Refund.Amount)
		r.FullRefund = p.RefundedFen == p.Amount
		for _, l := range ev.Refund.Lines {
			for _, it := range p.Items {
				if it.SkuID == l.SkuID {
					r.RefundedItems = append(r.RefundedItems, &eventsv1.PaymentResultItem{
						SkuId: it.SkuID, Title: it.Title, Kind: orderv1.SkuKind(orderv1.SkuKind_value[it.Kind]),
						Quantity: l.Quantity, UnitPriceFen: int64(it.UnitPriceFen),
					})
				}
			}
		}
	}
	return r
}
