package amqpx_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// With AMQP_QUEUE_TYPE=quorum a TTL delay queue and its dead-letter target are quorum queues,
// and a message still moves from one to the other when its TTL runs out.
func TestQuorumDelayQueueDeadLetters(t *testing.T) {
	brokerURL := testkit.AMQPURL(t)
	conn, err := amqpx.DialQueues(context.Background(), brokerURL, amqpx.QueueQuorum, testkit.Logger(t),
		amqpx.DeclareExchange("quorum.deadline", amqp.ExchangeFanout),
		amqpx.DeclareQueue("quorum.target", nil, amqpx.Binding{Exchange: "quorum.deadline"}),
		amqpx.DeclareQueue("quorum.delay", amqp.Table{"x-message-ttl": int64(300), "x-dead-letter-exchange": "quorum.deadline"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch := rawChannel(t, brokerURL)
	for _, q := range []string{"quorum.delay", "quorum.target"} {
		// Redeclaring as classic must be refused: the queue exists as another type.
		probe := testkit.AMQPChannel(t, brokerURL)
		_, err := probe.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "classic"})
		var amqpErr *amqp.Error
		if !errors.As(err, &amqpErr) || amqpErr.Code != amqp.PreconditionFailed {
			t.Fatalf("queue %s: redeclaring it classic gave %v; want PRECONDITION_FAILED (it is not quorum)", q, err)
		}
	}
	publish(t, ch, "quorum.delay", amqp.Publishing{MessageId: "deadline-1", DeliveryMode: amqp.Persistent, Body: []byte("x")})
	testkit.Eventually(t, 20*time.Second, func() bool {
		d, ok, err := ch.Get("quorum.target", true)
		return err == nil && ok && d.MessageId == "deadline-1"
	}, "the expired message never reached the quorum target queue")
}

// AMQP_URL may list several nodes: with the first one down, Dial connects to the next.
func TestDialTriesTheNextNode(t *testing.T) {
	brokerURL := testkit.AMQPURL(t)
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	down := *u
	down.Host = testkit.FreeAddr(t) // nothing listens there
	conn := dial(t, down.String()+","+brokerURL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := conn.Ready(ctx); err != nil {
		t.Fatalf("never connected with the second node up: %v", err)
	}
}
