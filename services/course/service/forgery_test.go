package service_test

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/proto"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// A PaymentResult that did not come from the payment service enrols nobody: other broker users
// cannot publish to the results fanout nor claim the payment user's user_id, and what they (or
// an operator) put in the course queue by another way is parked. The genuine result still enrols.
func TestForgedPaymentResultsEnrolNobody(t *testing.T) {
	e := newEnv(t)
	c, _ := e.start()
	paymentUser, orderUser := e.stack.BrokerUser("payment"), e.stack.BrokerUser("order")
	order, notification, admin := e.stack.AMQPURL("order"), e.stack.AMQPURL("notification"), e.stack.AdminAMQPURL()
	forge := func(url, exchange, key, userID, buyer string) error {
		ev := succeeded("forged-"+buyer, buyer, 1, 2, t0, course("c-go", "Go"))
		body, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return testkit.PublishAs(t, url, exchange, key, userID, amqp.Publishing{MessageId: ev.GetEventId(), Body: body,
			ContentType: testkit.ContentTypeProtobuf, Type: string(proto.MessageName(ev)), DeliveryMode: amqp.Persistent})
	}
	ex := amqpx.PaymentResultsExchange

	refusedByBroker := map[string]error{
		"mallory-order-to-fanout":        forge(order, ex, "", orderUser, "mallory-order-to-fanout"),
		"mallory-notification-to-fanout": forge(notification, ex, "", e.stack.BrokerUser("notification"), "mallory-notification-to-fanout"),
		"mallory-order-as-payment":       forge(order, "", queue, paymentUser, "mallory-order-as-payment"),
		"mallory-admin-as-payment":       forge(admin, ex, "", paymentUser, "mallory-admin-as-payment"),
	}
	for buyer, err := range refusedByBroker {
		if err == nil {
			t.Errorf("%s: the broker took it", buyer)
		}
	}
	parked := []string{"mallory-order-into-queue", "mallory-anonymous-into-queue", "mallory-admin-to-fanout"}
	for buyer, err := range map[string]error{
		parked[0]: forge(order, "", queue, orderUser, parked[0]),
		parked[1]: forge(order, "", queue, "", parked[1]),
		parked[2]: forge(admin, ex, "", "", parked[2]),
	} {
		if err != nil {
			t.Fatalf("%s: %v", buyer, err)
		}
	}

	p := e.payment()
	p.event(succeeded("genuine", "alice", 10, 20, t0, course("c-go", "Go")))
	testkit.Eventually(t, waitFor, func() bool { return hasAccess(t, c, "alice", "c-go").GetHasAccess() },
		"the payment service's result did not enrol alice")
	testkit.Eventually(t, waitFor, func() bool { return p.parked(queue) == len(parked) },
		"want the %d forgeries that reached the queue parked, got %d", len(parked), p.parked(queue))
	for _, buyer := range append(parked, "mallory-order-to-fanout", "mallory-notification-to-fanout",
		"mallory-order-as-payment", "mallory-admin-as-payment") {
		if hasAccess(t, c, buyer, "c-go").GetHasAccess() {
			t.Errorf("forged result enrolled %s", buyer)
		}
	}
}
