package amqpx_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// openDB opens a fresh database with the test's effects table and the amqpx tables.
func openDB(t *testing.T) *gorm.DB {
	t.Helper()
	ctx := context.Background()
	gdb, err := db.Open(ctx, testkit.MySQLDSN(t), "amqpx", os.DirFS("testdata/migrations"), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := amqpx.MigrateOutbox(ctx, gdb, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := gdb.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return gdb
}

// dial returns a Conn closed at cleanup (after the goroutines started later have stopped).
func dial(t *testing.T, url string, topology ...amqpx.Topology) *amqpx.Conn {
	t.Helper()
	conn, err := amqpx.Dial(context.Background(), url, testkit.Logger(t), topology...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// rawChannel is a plain amqp091 channel straight to the broker (never through a proxy), for
// observing and injecting messages independently of the code under test.
func rawChannel(t *testing.T, url string) *amqp.Channel {
	t.Helper()
	ch := testkit.AMQPChannel(t, url)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	return ch
}

// publish sends msg to the default exchange's queue and waits for the broker's confirm.
func publish(t *testing.T, ch *amqp.Channel, queue string, msg amqp.Publishing) {
	t.Helper()
	msg.DeliveryMode = amqp.Persistent
	dc, err := ch.PublishWithDeferredConfirm("", queue, false, false, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !dc.Wait() {
		t.Fatalf("publish to %s nacked", queue)
	}
}

// observer collects every message delivered to a fresh queue bound to exchange.
type observer struct {
	mu   sync.Mutex
	msgs []amqp.Delivery
}

func observe(t *testing.T, url, exchange string) *observer {
	t.Helper()
	ch := rawChannel(t, url)
	if err := amqpx.DeclarePaymentResults(ch); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "", exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := &observer{}
	go func() {
		for d := range deliveries {
			o.mu.Lock()
			o.msgs = append(o.msgs, d)
			o.mu.Unlock()
		}
	}()
	return o
}

// byID counts deliveries per message id and keeps the last of each.
func (o *observer) byID() (map[string]int, map[string]amqp.Delivery) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, last := map[string]int{}, map[string]amqp.Delivery{}
	for _, d := range o.msgs {
		n[d.MessageId]++
		last[d.MessageId] = d
	}
	return n, last
}

func countRows(t *testing.T, gdb *gorm.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := gdb.Raw(query, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

const waitLong = 60 * time.Second
