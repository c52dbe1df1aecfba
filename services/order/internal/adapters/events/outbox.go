// Package events writes the order service's events to the transactional outbox (pkg/amqpx);
// the relay publishes them. Today that is each new order's pay deadline, sent to the delay
// queue that hands it back to the deadline consumer when the deadline has come.
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
		if ev.Type != app.EventPayDeadline {
			return fmt.Errorf("order %d: no message for event type %d", ev.OrderID, ev.Type)
		}
		msg, err := amqpx.ProtoMessage(fmt.Sprintf("order-pay-deadline-%d", ev.OrderID), "", o.delayQueue,
			&eventsv1.OrderPayDeadline{OrderId: ev.OrderID, PayDeadline: timestamppb.New(ev.PayDeadline)},
			nil) // no headers: the body has the order id, and encoding headers costs CPU on the hot path
		if err != nil {
			return err
		}
		msgs = append(msgs, msg)
	}
	return amqpx.AddToOutbox(ctx, o.gdb, msgs...)
}
