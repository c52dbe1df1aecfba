// Package broker writes the order service's outgoing messages to the outbox: each new order's
// pay-deadline message, which the relay publishes to the delay queue.
package broker

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// DeadlineScheduler writes an order's pay-deadline message to the outbox, in the transaction
// that creates the order: the message exists exactly when the order does.
type DeadlineScheduler struct {
	gdb   *gorm.DB
	queue string
}

// NewDeadlineScheduler schedules into the delay queue named queue.
func NewDeadlineScheduler(gdb *gorm.DB, queue string) *DeadlineScheduler {
	return &DeadlineScheduler{gdb: gdb, queue: queue}
}

// Schedule adds the message; call it inside the order's transaction.
func (s *DeadlineScheduler) Schedule(ctx context.Context, o *order.Order) error {
	msg, err := amqpx.ProtoMessage(fmt.Sprintf("order-pay-deadline-%d", o.ID), "", s.queue,
		&eventsv1.OrderPayDeadline{OrderId: o.ID, PayDeadline: timestamppb.New(o.PayDeadline)},
		nil) // no headers: the body has the order id, and encoding headers costs CPU on the hot path
	if err != nil {
		return err
	}
	return amqpx.AddToOutbox(ctx, s.gdb, msg)
}
