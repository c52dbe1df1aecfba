package amqpx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// scripted is a handler whose behaviour is chosen by the message body; every successful
// handling writes one effects row inside the consumer's transaction.
type scripted struct {
	gdb   *gorm.DB
	mu    sync.Mutex
	calls map[string]int
}

func newScripted(gdb *gorm.DB) *scripted { return &scripted{gdb: gdb, calls: map[string]int{}} }

func (s *scripted) handle(ctx context.Context, d amqpx.Delivery) error {
	s.mu.Lock()
	s.calls[d.MessageID]++
	call := s.calls[d.MessageID]
	s.mu.Unlock()
	// Written first, so a failing handling proves its writes roll back with the processed id.
	if err := db.Conn(ctx, s.gdb).Exec("INSERT INTO effects (message_id) VALUES (?)", d.MessageID).Error; err != nil {
		return err
	}
	switch string(d.Body) {
	case "ok":
		return nil
	case "flaky": // fails twice, then works
		if call <= 2 {
			return fmt.Errorf("transient failure %d", call)
		}
		return nil
	case "always":
		return errors.New("downstream keeps failing")
	case "panic":
		panic("handler bug")
	default:
		return fmt.Errorf("%w: cannot decode %q", amqpx.ErrPoison, d.Body)
	}
}

func (s *scripted) callsOf(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

func effects(t *testing.T, gdb *gorm.DB, id string) int64 {
	return countRows(t, gdb, "SELECT COUNT(*) FROM effects WHERE message_id = ?", id)
}

func processed(t *testing.T, gdb *gorm.DB, id string) int64 {
	return countRows(t, gdb, "SELECT COUNT(*) FROM processed_messages WHERE consumer = 'test' AND message_id = ?", id)
}

// parked drains the parking queue into got (by message id).
func parked(t *testing.T, ch *amqp.Channel, queue string, got map[string]amqp.Delivery) {
	t.Helper()
	for {
		d, ok, err := ch.Get(amqpx.ParkingQueue(queue), true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		got[d.MessageId+"|"+string(d.Body)] = d
	}
}

func TestConsumerHandlesEachMessageOnceRetriesAndParks(t *testing.T) {
	const queue = "test.consumer"
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	conn := dial(t, url)
	h := newScripted(gdb)
	cfg := amqpx.ConsumerConfig{Name: "test", Queue: queue, MaxAttempts: 3, RetryBackoff: 10 * time.Millisecond}
	testkit.Go(t, func(ctx context.Context) error {
		return amqpx.Consume(ctx, conn, gdb, cfg, h.handle, testkit.Logger(t))
	})
	raw := rawChannel(t, url)
	// Wait for Consume to declare the queue and subscribe, then inject messages straight into it.
	testkit.WaitForConsumer(t, url, queue)

	send := func(id, body string) {
		publish(t, raw, queue, amqp.Publishing{MessageId: id, Body: []byte(body), Type: "test"})
	}
	send("dup", "ok")
	send("dup", "ok")
	send("flaky", "flaky")
	send("poison", "garbage")
	send("", "no id")
	send("always", "always")
	send("panics", "panic")
	send("after-poison", "ok")

	testkit.Eventually(t, waitLong, func() bool {
		return effects(t, gdb, "dup") == 1 && effects(t, gdb, "flaky") == 1 && effects(t, gdb, "after-poison") == 1
	}, "good messages not processed")
	got := map[string]amqp.Delivery{}
	testkit.Eventually(t, waitLong, func() bool { parked(t, raw, queue, got); return len(got) == 4 }, "want 4 parked messages, got %v", keys(got))

	// Same id twice: one effect, the second delivery never reached the handler.
	if c := h.callsOf("dup"); c != 1 {
		t.Errorf("handler calls for the duplicate = %d, want 1", c)
	}
	// Failed twice, then worked: the failed attempts' writes were rolled back with their processed row.
	if c := h.callsOf("flaky"); c != 3 {
		t.Errorf("handler calls for flaky = %d, want 3", c)
	}
	if p := processed(t, gdb, "flaky"); p != 1 {
		t.Errorf("processed rows for flaky = %d", p)
	}
	// Poison: parked at once, nothing of it committed.
	if c, e, p := h.callsOf("poison"), effects(t, gdb, "poison"), processed(t, gdb, "poison"); c != 1 || e != 0 || p != 0 {
		t.Errorf("poison: calls %d effects %d processed %d; want 1 0 0", c, e, p)
	}
	wantParked := map[string]string{
		"poison|garbage": "cannot decode",
		"|no id":         "missing message id",
		"always|always":  "gave up after 3 attempts: downstream keeps failing",
		"panics|panic":   "handler panic",
	}
	for key, reason := range wantParked {
		d, ok := got[key]
		if !ok {
			t.Errorf("%s not parked", key)
			continue
		}
		if r, _ := d.Headers["x-park-reason"].(string); !strings.Contains(r, reason) {
			t.Errorf("%s: x-park-reason %q, want it to contain %q", key, r, reason)
		}
		if d.Headers["x-original-queue"] != queue || d.DeliveryMode != amqp.Persistent {
			t.Errorf("%s: parked as %+v", key, d)
		}
	}
	if a := got["always|always"].Headers["x-attempts"]; a != int64(3) {
		t.Errorf("x-attempts of the exhausted message = %#v, want 3", a)
	}
	if c, e := h.callsOf("always"), effects(t, gdb, "always"); c != 3 || e != 0 {
		t.Errorf("always: calls %d effects %d; want 3 0", c, e)
	}
}

// A handler still running when shutdown starts finishes and its message is acked, not lost.
func TestConsumerFinishesInFlightHandlerOnShutdown(t *testing.T) {
	const queue = "test.shutdown"
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	conn := dial(t, url)
	started, release := make(chan struct{}), make(chan struct{})
	handler := func(ctx context.Context, d amqpx.Delivery) error {
		close(started)
		<-release
		return db.Conn(ctx, gdb).Exec("INSERT INTO effects (message_id) VALUES (?)", d.MessageID).Error
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- amqpx.Consume(ctx, conn, gdb, amqpx.ConsumerConfig{Name: "test", Queue: queue}, handler, testkit.Logger(t))
	}()
	raw := rawChannel(t, url)
	testkit.WaitForConsumer(t, url, queue)
	publish(t, raw, queue, amqp.Publishing{MessageId: "slow", Body: []byte("x")})
	select {
	case <-started:
	case <-time.After(waitLong):
		t.Fatal("the handler never started")
	}
	cancel()
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Consume returned %v, want nil", err)
		}
	case <-time.After(waitLong):
		t.Fatal("Consume did not return after its ctx was cancelled")
	}
	if e, p := effects(t, gdb, "slow"), processed(t, gdb, "slow"); e != 1 || p != 1 {
		t.Fatalf("effects %d processed %d; want the in-flight handling committed", e, p)
	}
	q, err := raw.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil || q.Messages != 0 {
		t.Fatalf("queue after shutdown: %+v %v; want the message acked", q, err)
	}
}

func keys(m map[string]amqp.Delivery) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
