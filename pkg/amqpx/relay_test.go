package amqpx_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
)

func startRelay(t *testing.T, gdb *gorm.DB, conn *amqpx.Conn) *amqpx.Relay {
	relay := amqpx.NewRelay(gdb, conn, testkit.Logger(t), amqpx.WithPollInterval(50*time.Millisecond))
	testkit.Go(t, relay.Run)
	return relay
}

func TestOutboxPublishesCommittedMessagesOnceAndNeverRolledBackOnes(t *testing.T) {
	ctx := context.Background()
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	obs := observe(t, url, amqpx.PaymentResultsExchange)
	conn := dial(t, url, amqpx.DeclarePaymentResults)
	relay := startRelay(t, gdb, conn)

	rollback := errors.New("business rule said no")
	err := db.WithTx(ctx, gdb, func(ctx context.Context, _ *gorm.DB) error {
		if err := amqpx.AddToOutbox(ctx, gdb, amqpx.Message{ID: "rolled-back", Exchange: amqpx.PaymentResultsExchange, Body: []byte("x")}); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("WithTx = %v", err)
	}

	proto, err := amqpx.ProtoMessage("evt-2", amqpx.PaymentResultsExchange, "", wrapperspb.String("paid"), map[string]any{"order_id": "42"})
	if err != nil {
		t.Fatal(err)
	}
	const bigID = int64(1234567890123456789) // must survive storage exactly (no float64 round trip)
	err = db.WithTx(ctx, gdb, func(ctx context.Context, _ *gorm.DB) error {
		return amqpx.AddToOutbox(ctx, gdb,
			amqpx.Message{ID: "evt-1", Exchange: amqpx.PaymentResultsExchange, Type: "test.Thing", ContentType: "text/plain",
				Body: []byte("hello"), Headers: map[string]any{"order_id": bigID, "note": "n"}},
			proto)
	})
	if err != nil {
		t.Fatal(err)
	}
	relay.Wake()

	testkit.Eventually(t, waitLong, func() bool {
		n, _ := obs.byID()
		return n["evt-1"] > 0 && n["evt-2"] > 0
	}, "committed messages were not published")
	testkit.Eventually(t, waitLong, func() bool {
		return countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE published_at IS NULL") == 0
	}, "published rows not marked published")

	// A later message arriving proves the relay kept running; by then a double publish of the
	// earlier ones would have arrived before it (one channel keeps order).
	if err := amqpx.AddToOutbox(ctx, gdb, amqpx.Message{ID: "sentinel", Exchange: amqpx.PaymentResultsExchange}); err != nil {
		t.Fatal(err)
	}
	relay.Wake()
	testkit.Eventually(t, waitLong, func() bool { n, _ := obs.byID(); return n["sentinel"] > 0 }, "sentinel not published")

	n, got := obs.byID()
	if n["evt-1"] != 1 || n["evt-2"] != 1 || n["rolled-back"] != 0 {
		t.Fatalf("deliveries per id = %v; want evt-1 and evt-2 once, rolled-back never", n)
	}
	e1 := got["evt-1"]
	if e1.Type != "test.Thing" || e1.ContentType != "text/plain" || string(e1.Body) != "hello" ||
		e1.DeliveryMode != 2 || e1.Timestamp.IsZero() {
		t.Fatalf("evt-1 delivered as %+v", e1)
	}
	if e1.Headers["order_id"] != bigID || e1.Headers["note"] != "n" {
		t.Fatalf("evt-1 headers = %#v", e1.Headers)
	}
	e2 := got["evt-2"]
	if e2.Type != "google.protobuf.StringValue" || e2.ContentType != amqpx.ContentTypeProtobuf || e2.Headers["order_id"] != "42" {
		t.Fatalf("evt-2 delivered as type %q content %q headers %v", e2.Type, e2.ContentType, e2.Headers)
	}
	if c := countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE message_id = 'rolled-back'"); c != 0 {
		t.Fatalf("rolled-back row exists")
	}
}

func TestAddToOutboxRefusesWhatCannotBePublishedFaithfully(t *testing.T) {
	gdb := openDB(t)
	ctx := context.Background()
	cases := []amqpx.Message{
		{ID: "", Exchange: "x"},
		{ID: string(make([]byte, 65)), Exchange: "x"},
		{ID: "h", Exchange: "x", Headers: map[string]any{"bad": struct{}{}}},
	}
	for _, m := range cases {
		if err := amqpx.AddToOutbox(ctx, gdb, m); err == nil {
			t.Errorf("AddToOutbox(%q, headers %v) = nil, want an error", m.ID, m.Headers)
		}
	}
	if err := amqpx.AddToOutbox(ctx, gdb, amqpx.Message{ID: "dup", Exchange: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := amqpx.AddToOutbox(ctx, gdb, amqpx.Message{ID: "dup", Exchange: "x"}); !db.IsDuplicateKey(err) {
		t.Fatalf("second dup = %v, want duplicate key", err)
	}
}

// A row for an exchange that does not exist must not hold back the rows behind it.
func TestRelaySkipsARowItCannotPublish(t *testing.T) {
	ctx := context.Background()
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	obs := observe(t, url, amqpx.PaymentResultsExchange)
	relay := startRelay(t, gdb, dial(t, url, amqpx.DeclarePaymentResults))

	err := amqpx.AddToOutbox(ctx, gdb,
		amqpx.Message{ID: "lost", Exchange: "no.such.exchange"},
		amqpx.Message{ID: "fine", Exchange: amqpx.PaymentResultsExchange})
	if err != nil {
		t.Fatal(err)
	}
	relay.Wake()
	testkit.Eventually(t, waitLong, func() bool { n, _ := obs.byID(); return n["fine"] == 1 }, "row behind a bad one was not published")
	testkit.Eventually(t, waitLong, func() bool {
		return countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE message_id = 'lost' AND attempts > 0 AND last_error LIKE '%no.such.exchange%' AND published_at IS NULL") == 1
	}, "failed row does not record its error")
}

// Only one relay per database publishes, so a second instance adds no duplicates.
func TestTwoRelaysPublishEachMessageOnce(t *testing.T) {
	ctx := context.Background()
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	obs := observe(t, url, amqpx.PaymentResultsExchange)
	conn := dial(t, url, amqpx.DeclarePaymentResults)
	a, b := startRelay(t, gdb, conn), startRelay(t, gdb, conn)
	for i := range 20 {
		if err := amqpx.AddToOutbox(ctx, gdb, amqpx.Message{ID: fmt.Sprint("m", i), Exchange: amqpx.PaymentResultsExchange}); err != nil {
			t.Fatal(err)
		}
		a.Wake()
		b.Wake()
	}
	testkit.Eventually(t, waitLong, func() bool {
		return countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE published_at IS NULL") == 0
	}, "rows left unpublished")
	testkit.Eventually(t, waitLong, func() bool { n, _ := obs.byID(); return len(n) == 20 }, "not all 20 delivered")
	n, _ := obs.byID()
	for i := range 20 {
		if c := n[fmt.Sprint("m", i)]; c != 1 {
			t.Fatalf("m%d delivered %d times; deliveries %v", i, c, n)
		}
	}
}

// Published rows past retention are deleted; unpublished ones never are, however old.
func TestRelayJanitorDeletesOnlyOldPublishedRows(t *testing.T) {
	ctx := context.Background()
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	for _, id := range []string{"old-published", "old-unpublished", "new-published"} {
		if err := amqpx.AddToOutbox(ctx, gdb, amqpx.Message{ID: id, Exchange: "no.such.exchange"}); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().UTC().Add(-8 * 24 * time.Hour)
	for _, u := range []struct {
		query string
		args  []any
	}{
		{"UPDATE outbox_messages SET created_at = ?, published_at = ? WHERE message_id = 'old-published'", []any{old, old}},
		{"UPDATE outbox_messages SET created_at = ? WHERE message_id = 'old-unpublished'", []any{old}},
		{"UPDATE outbox_messages SET published_at = ? WHERE message_id = 'new-published'", []any{time.Now().UTC()}},
	} {
		if res := gdb.Exec(u.query, u.args...); res.Error != nil || res.RowsAffected != 1 {
			t.Fatalf("%s: %v, %d rows", u.query, res.Error, res.RowsAffected)
		}
	}

	relay := amqpx.NewRelay(gdb, dial(t, url), testkit.Logger(t), amqpx.WithPollInterval(50*time.Millisecond),
		amqpx.WithRetention(7*24*time.Hour))
	testkit.Go(t, relay.Run)
	testkit.Eventually(t, waitLong, func() bool {
		return countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE message_id = 'old-published'") == 0
	}, "old published row not deleted")
	if n := countRows(t, gdb, "SELECT COUNT(*) FROM outbox_messages WHERE message_id IN ('old-unpublished', 'new-published')"); n != 2 {
		t.Fatalf("rows kept = %d, want 2", n)
	}
}

// Forgetting MigrateOutbox is a startup error, not a silent relay or consumer that never works.
func TestRelayAndConsumerRefuseToRunWithoutTheirTables(t *testing.T) {
	ctx := context.Background()
	gdb, err := db.Open(ctx, testkit.MySQLDSN(t), "bare", os.DirFS("testdata/migrations"), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	conn := dial(t, testkit.AMQPURL(t))
	if err := amqpx.NewRelay(gdb, conn, testkit.Logger(t)).Run(ctx); err == nil {
		t.Error("relay ran without outbox_messages")
	}
	noop := func(context.Context, amqpx.Delivery) error { return nil }
	if err := amqpx.Consume(ctx, conn, gdb, amqpx.ConsumerConfig{Name: "c", Queue: "q"}, noop, testkit.Logger(t)); err == nil {
		t.Error("consumer ran without processed_messages")
	}
}
