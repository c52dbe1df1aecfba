package amqpx

import (
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// PaymentResultsExchange is the durable fanout carrying paysuite.events.v1.PaymentResult.
const PaymentResultsExchange = "paysuite.payment.results"

// PaymentRefusalsExchange is the durable fanout carrying paysuite.events.v1.OrderPaymentRefused:
// the order service's answer to a PAYMENT_SUCCEEDED it refused, which the payment service
// consumes to refund that payment. Only the order service writes to it.
const PaymentRefusalsExchange = "paysuite.order.payment-refusals"

// ParkingSuffix names a consumer queue's parking queue: `<queue>.parking`.
const ParkingSuffix = ".parking"

// Queue types (AMQP_QUEUE_TYPE).
const (
	QueueClassic = "classic"
	// QueueQuorum: replicated queues (Raft over the cluster's nodes), which survive the loss
	// of a minority of the nodes. Quorum queues take no classic DLX semantics for free: the
	// declarations below add at-least-once dead-lettering (which needs reject-publish overflow)
	// and, for consumer queues, a delivery limit that parks a message the consumer keeps
	// failing to settle.
	QueueQuorum = "quorum"
)

// DeliveryLimit is how often a quorum consumer queue redelivers a message that was returned
// unsettled (a consumer crashed or nacked it) before dead-lettering it to the parking queue.
const DeliveryLimit = 20

// declaring holds the queue type of the channels Conn runs the topology on (*amqp.Channel →
// string), so a Topology declares queues of the connection's type without taking it as an
// argument.
var declaring sync.Map

// queueArgs is args for a queue of type typ. For quorum, a queue that dead-letters does so at
// least once (RabbitMQ 3.10+: with overflow reject-publish), which is what TTL delay queues
// rely on.
func queueArgs(typ string, args amqp.Table) amqp.Table {
	if typ != QueueQuorum {
		return args
	}
	out := amqp.Table{"x-queue-type": QueueQuorum}
	for k, v := range args {
		out[k] = v
	}
	if _, ok := out["x-dead-letter-exchange"]; ok {
		out["x-dead-letter-strategy"] = "at-least-once"
		out["x-overflow"] = "reject-publish"
	}
	return out
}

func channelQueueType(ch *amqp.Channel) string {
	if t, ok := declaring.Load(ch); ok {
		return t.(string)
	}
	return QueueClassic
}

// Topology declares exchanges, queues and bindings. Conn runs every Topology on each
// (re)connect, so declarations must be idempotent (they are, when the arguments do not change).
type Topology func(ch *amqp.Channel) error

// DeclarePaymentResults declares the payment results fanout. Producers and consumers both pass
// it to Dial, so whichever service starts first creates it.
func DeclarePaymentResults(ch *amqp.Channel) error {
	return ch.ExchangeDeclare(PaymentResultsExchange, amqp.ExchangeFanout, true, false, false, false, nil)
}

// DeclarePaymentRefusals declares the order's payment refusals fanout. The order service passes
// it to Dial; the set-ups (make run, tests, compose) declare it first as the admin, so the
// payment service's consumer can bind to it before the order service first starts (the payment
// user may bind to it but not declare it).
func DeclarePaymentRefusals(ch *amqp.Channel) error {
	return ch.ExchangeDeclare(PaymentRefusalsExchange, amqp.ExchangeFanout, true, false, false, false, nil)
}

// DeclareExchange returns a Topology declaring one durable exchange of the given kind.
func DeclareExchange(name, kind string) Topology {
	return func(ch *amqp.Channel) error {
		return ch.ExchangeDeclare(name, kind, true, false, false, false, nil)
	}
}

// DeclareQueue returns a Topology declaring one durable queue with args, bound as listed.
// Use it for queues nobody consumes directly (e.g. a TTL delay queue that dead-letters).
func DeclareQueue(name string, args amqp.Table, bindings ...Binding) Topology {
	return func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclare(name, true, false, false, false, queueArgs(channelQueueType(ch), args)); err != nil {
			return fmt.Errorf("queue %s: %w", name, err)
		}
		for _, b := range bindings {
			if err := ch.QueueBind(name, b.RoutingKey, b.Exchange, false, nil); err != nil {
				return fmt.Errorf("bind %s to %s: %w", name, b.Exchange, err)
			}
		}
		return nil
	}
}

// PaymentResultsConsumer is the consumer named name of the payment results fanout on the
// service's own durable queue. It handles only what the payment service's broker user publisher
// (PaymentBrokerUser in production) published, and parks anything else.
func PaymentResultsConsumer(name, queue, publisher string) ConsumerConfig {
	return ConsumerConfig{Name: name, Queue: queue, Bindings: []Binding{{Exchange: PaymentResultsExchange}},
		Publisher: publisher}
}

// PaymentBrokerUser is the payment service's RabbitMQ user, the only one allowed to publish to
// PaymentResultsExchange (PAYMENT_BROKER_USER overrides it).
const PaymentBrokerUser = "paysuite-payment"

// OrderBrokerUser is the order service's RabbitMQ user, the only one whose messages on
// PaymentRefusalsExchange the payment service believes (ORDER_BROKER_USER overrides it).
const OrderBrokerUser = "paysuite-order"

// ParkingQueue returns the name of queue's parking queue.
func ParkingQueue(queue string) string { return queue + ParkingSuffix }

// declareConsumer declares a consumer's queue, its parking queue and the bindings, as queues of
// type typ. A quorum consumer queue dead-letters a message redelivered DeliveryLimit times into
// its parking queue.
func declareConsumer(ch *amqp.Channel, typ string, cfg ConsumerConfig) error {
	if _, err := ch.QueueDeclare(ParkingQueue(cfg.Queue), true, false, false, false, queueArgs(typ, nil)); err != nil {
		return fmt.Errorf("queue %s: %w", ParkingQueue(cfg.Queue), err)
	}
	args := cfg.QueueArgs
	if typ == QueueQuorum {
		args = amqp.Table{"x-delivery-limit": DeliveryLimit, "x-dead-letter-exchange": "",
			"x-dead-letter-routing-key": ParkingQueue(cfg.Queue)}
		for k, v := range cfg.QueueArgs {
			args[k] = v
		}
	}
	declaring.Store(ch, typ)
	defer declaring.Delete(ch)
	return DeclareQueue(cfg.Queue, args, cfg.Bindings...)(ch)
}
