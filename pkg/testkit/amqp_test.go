package testkit_test

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/testkit"
)

func TestAMQPURLGivesAUsableVhost(t *testing.T) {
	conn, err := amqp.Dial(testkit.AMQPURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("probe", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
}
