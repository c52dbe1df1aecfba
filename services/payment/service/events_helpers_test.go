package service_test

import (
	"sync"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/proto"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/testkit"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
)

// results collects every PaymentResult published to the fanout, from a queue of the test's own.
type results struct {
	mu   sync.Mutex
	got  []*eventsv1.PaymentResult
	ids  []string
	hdrs []amqp.Table
}

func listen(t *testing.T, amqpURL string) *results {
	t.Helper()
	ch := testkit.AMQPChannel(t, amqpURL)
	if err := amqpx.DeclarePaymentResults(ch); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "", amqpx.PaymentResultsExchange, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &results{}
	go func() {
		for d := range deliveries {
			var m eventsv1.PaymentResult
			if err := proto.Unmarshal(d.Body, &m); err != nil {
				continue
			}
			r.mu.Lock()
			r.got, r.ids, r.hdrs = append(r.got, &m), append(r.ids, d.MessageId), append(r.hdrs, d.Headers)
			r.mu.Unlock()
		}
	}()
	return r
}

// of returns the results of one payment, with their message ids and headers.
func (r *results) of(paymentID int64) (out []*eventsv1.PaymentResult, ids []string, hdrs []amqp.Table) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, m := range r.got {
		if m.GetPaymentId() == paymentID {
			out, ids, hdrs = append(out, m), append(ids, r.ids[i]), append(hdrs, r.hdrs[i])
		}
	}
	return out, ids, hdrs
}

func (r *results) count(paymentID int64, typ eventsv1.PaymentResultType) int {
	list, _, _ := r.of(paymentID)
	n := 0
	for _, m := range list {
		if m.GetType() == typ {
			n++
		}
	}
	return n
}

// outboxCount counts the payment's events of type typ in the payment database's outbox: every
// row ever written, published or not (the relay keeps published rows for days).
func (e *env) outboxCount(paymentID int64, typ eventsv1.PaymentResultType) int {
	e.t.Helper()
	rows, err := e.db.Query("SELECT body FROM outbox_messages WHERE type = ?", string(proto.MessageName(&eventsv1.PaymentResult{})))
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			e.t.Fatal(err)
		}
		var m eventsv1.PaymentResult
		if err := proto.Unmarshal(body, &m); err != nil {
			e.t.Fatal(err)
		}
		if m.GetPaymentId() == paymentID && m.GetType() == typ {
			n++
		}
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// waitQuiet waits until nothing more can happen to the payment on its own: no task left for it
// (the order told, the polling ended) and every outbox row published.
func (e *env) waitQuiet(paymentID int64) {
	e.t.Helper()
	testkit.Eventually(e.t, wait, func() bool {
		return e.count("SELECT COUNT(*) FROM tasks WHERE kind IN ('mark-order-paid', 'poll-trade') AND ref_id = ?", paymentID) == 0 &&
			e.count("SELECT COUNT(*) FROM outbox_messages WHERE published_at IS NULL") == 0
	}, "payment %d never went quiet", paymentID)
}
