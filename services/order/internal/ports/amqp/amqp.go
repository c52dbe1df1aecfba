// Package amqp is the order service's incoming messages: its own pay deadlines, which come back
// through a delay queue, and PaymentResult from the payment results fanout.
package amqp

import (
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/amqpx"
)

// Names (README, "Reference: Broker").
const (
	DeadlineExchange    = "paysuite.order.pay-deadline"
	DeadlineQueue       = "paysuite.order.pay-deadline"
	PaymentResultsQueue = "paysuite.order.payment-results"
)

// DelayQueue names the delay queue of one timeout value, where a new order's pay-deadline
// message waits. One queue per value, each with a queue-level TTL, so every message in a queue
// expires in arrival order and a short timeout never waits behind a long one (per-message TTLs
// in a shared queue only expire at its head).
func DelayQueue(timeout time.Duration) string {
	return "paysuite.order.pay-timeout." + timeout.String()
}

// Topology declares the deadline exchange and this instance's delay queue, which dead-letters
// into it. The consumer queues are declared by amqpx.Consume; the payment results fanout
// belongs to the payment service (and the set-up, which declares it first): the order
// service's broker user may bind to it but not declare it.
func Topology(timeout time.Duration) []amqpx.Topology {
	return []amqpx.Topology{
		amqpx.DeclarePaymentRefusals,
		amqpx.DeclareExchange(DeadlineExchange, amqp.ExchangeFanout),
		amqpx.DeclareQueue(DelayQueue(timeout), amqp.Table{
			"x-message-ttl":          timeout.Milliseconds(),
			"x-dead-letter-exchange": DeadlineExchange,
		}),
	}
}
