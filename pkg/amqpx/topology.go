package amqpx

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// PaymentResultsExchange is the durable fanout carrying paysuite.events.v1.PaymentResult.
const PaymentResultsExchange = "paysuite.payment.results"

// ParkingSuffix names a consumer queue's parking queue: `<queue>.parking`.
const ParkingSuffix = ".parking"

// Topology declares exchanges, queues and bindings. Conn runs every Topology on each
// (re)connect, so declarations must be idempotent (they are, when the arguments do not change).
type Topology func(ch *amqp.Channel) error

// DeclarePaymentResults declares the payment results fanout. Producers and consumers both pass
// it to Dial, so whichever service starts first creates it.
func DeclarePaymentResults(ch *amqp.Channel) error {
	return ch.ExchangeDeclare(PaymentResultsExchange, amqp.ExchangeFanout, true, false, false, false, nil)
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
		if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
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

// ParkingQueue returns the name of queue's parking queue.
func ParkingQueue(queue string) string { return queue + ParkingSuffix }

// declareConsumer declares a consumer's queue, its parking queue and the bindings.
func declareConsumer(ch *amqp.Channel, cfg ConsumerConfig) error {
	if _, err := ch.QueueDeclare(ParkingQueue(cfg.Queue), true, false, false, false, nil); err != nil {
		return fmt.Errorf("queue %s: %w", ParkingQueue(cfg.Queue), err)
	}
	return DeclareQueue(cfg.Queue, cfg.QueueArgs, cfg.Bindings...)(ch)
}
