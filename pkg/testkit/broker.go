package testkit

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/proto"
)

// ContentTypeProtobuf is the content type paysuite's relay sets on protobuf events.
const ContentTypeProtobuf = "application/x-protobuf"

// Publisher publishes to a durable fanout exchange the way a service's outbox relay does:
// persistent, with a message id, waiting for the broker's confirm.
type Publisher struct {
	t        testing.TB
	ch       *amqp.Channel
	exchange string
	user     string // the connection's broker user, set as user_id like the relay does
}

// AMQPChannel opens a plain channel on the broker at url, for a test to observe or inject
// messages independently of the code under test; its connection is closed at cleanup.
func AMQPChannel(t testing.TB, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// WaitForConsumer waits until queue exists on the broker at url with at least one consumer
// subscribed: the service under test is consuming, so what a test publishes from now on is
// neither dropped for want of a binding (a fanout drops what no queue is bound to yet) nor left
// waiting behind a subscriber that is still starting.
func WaitForConsumer(t testing.TB, url, queue string) {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	Eventually(t, 60*time.Second, func() bool {
		ch, err := conn.Channel() // a passive declare of a missing queue closes its channel
		if err != nil {
			t.Fatalf("channel to %s: %v", url, err)
		}
		defer ch.Close()
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		return err == nil && q.Consumers > 0
	}, "nobody consumes %s", queue)
}

// NewPublisher declares the durable fanout exchange on the broker at url and returns a
// publisher for it; the connection is closed at cleanup. Its messages carry url's user as
// their user_id, as the relay's do.
func NewPublisher(t testing.TB, url, exchange string) *Publisher {
	t.Helper()
	uri, err := amqp.ParseURI(url)
	if err != nil {
		t.Fatal(err)
	}
	ch := AMQPChannel(t, url)
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	return &Publisher{t: t, ch: ch, exchange: exchange, user: uri.Username}
}

// Publish sends body with messageID and type msgType, and fails the test unless confirmed.
func (p *Publisher) Publish(messageID, msgType string, body []byte) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conf, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, p.exchange, "", false, false, amqp.Publishing{
		MessageId:    messageID,
		DeliveryMode: amqp.Persistent,
		ContentType:  ContentTypeProtobuf,
		Type:         msgType,
		UserId:       p.user,
		Body:         body,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	if ok, err := conf.WaitContext(ctx); err != nil || !ok {
		p.t.Fatalf("publish %s not confirmed: %v", messageID, err)
	}
}

// Messages returns how many messages wait in queue (e.g. a consumer's parking queue).
func (p *Publisher) Messages(queue string) int {
	p.t.Helper()
	q, err := p.ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return q.Messages
}

// PublishProto publishes m under messageID with its full proto name as the message type.
func (p *Publisher) PublishProto(messageID string, m proto.Message) {
	p.t.Helper()
	body, err := proto.Marshal(m)
	if err != nil {
		p.t.Fatal(err)
	}
	p.Publish(messageID, string(proto.MessageName(m)), body)
}
