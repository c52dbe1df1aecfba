// Package events writes the order service's events to the transactional outbox (pkg/amqpx);
// the relay publishes them: each new order's pay deadline, sent to the delay queue that hands it
// back to the deadline consumer when the deadline has come, and the refusal of a payment result
// (paysuite.order.payment-refusals), which the payment service answers with a refund.
package events

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	"github.com/paysuite/paysuite/services/order/internal/app"
)

// Outbox implements app.Outbox with amqpx.AddToOutbox, joining the transaction in ctx.
type Outbox struct {
	gdb        *gorm.DB
	delayQueue string
}

var _ app.Outbox = (*Outbox)(nil)

// NewOutbox writes to gdb's outbox_messages; pay deadlines go to the queue named delayQueue.
func NewOutbox(gdb *gorm.DB, delayQueue string) *Outbox {
	return &Outbox{gdb: gdb, delayQueue: delayQueue}
}

// Add implements app.Outbox.
func (o *Outbox) Add(ctx context.Context, evs ...app.Event) error {
	msgs := make([]amqpx.Message, 0, len(evs))
	for _, ev := range evs {
		var (
			msg amqpx.Message
			err error
		)
		switch ev.Type {
		case app.EventPayDeadline:
			msg, err = amqpx.ProtoMessage(fmt.Sprintf("order-pay-deadline-%d", ev.OrderID), "", o.delayQueue,
				&eventsv1.OrderPayDeadline{OrderId: ev.OrderID, PayDeadline: timestamppb.New(ev.PayDeadline)},
				nil) // no headers: the body has the order id, and encoding headers costs CPU on the hot path
		case app.EventPaymentRefused:
			// One refusal per payment: a payment succeeds once, so its id names the message.
			id := fmt.Sprintf("order-payment-refused-%d", ev.PaymentID)
			msg, err = amqpx.ProtoMessage(id, amqpx.PaymentRefusalsExchange, "", &eventsv1.OrderPaymentRefused{
				EventId: id, OrderId: ev.OrderID, PaymentId: ev.PaymentID, AmountFen: int64(ev.Amount),
				Reason: ev.Reason, Detail: ev.Detail, OccurredAt: timestamppb.New(ev.At),
			}, map[string]any{"order_id": ev.OrderID})
		default:
			return fmt.Errorf("order %d: no message for event type %d", ev.OrderID, ev.Type)
		}
		if err != nil {
			return err
		}
		msgs = append(msgs, msg)
	}
	return amqpx.AddToOutbox(ctx, o.gdb, msgs...)
}
