package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/cli"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// run runs the CLI and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Execute(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// A message the course consumer parked (its handler was broken) goes back to its queue with
// `parked replay` and is handled exactly once; a forged message (not from the payment service's
// broker user) that is replayed is parked again, unhandled; replaying twice does nothing more.
func TestParkedReplayMovesAMessageBackAndItIsHandledOnce(t *testing.T) {
	stack := testkit.NewStack(t)
	const queue = "paysuite.course.payment-results"
	courseURL, paymentURL := stack.AMQPURL("course"), stack.AMQPURL("payment")
	paymentUser := stack.BrokerUser("payment")
	gdb, err := db.Open(context.Background(), stack.AdminMySQLDSN(), "course", fstest.MapFS{"00001_none.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := amqpx.MigrateOutbox(context.Background(), gdb, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	conn, err := amqpx.Dial(context.Background(), courseURL, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	var mu sync.Mutex
	broken, handled := true, map[string]int{}
	testkit.Go(t, func(ctx context.Context) error {
		return amqpx.Consume(ctx, conn, gdb, amqpx.ConsumerConfig{Name: "course-results", Queue: queue,
			Bindings: []amqpx.Binding{{Exchange: amqpx.PaymentResultsExchange}}, Publisher: paymentUser, MaxAttempts: 1},
			func(_ context.Context, d amqpx.Delivery) error {
				mu.Lock()
				defer mu.Unlock()
				if broken {
					return errors.New("enrolment store down")
				}
				handled[d.MessageID]++
				return nil
			}, testkit.Logger(t))
	})
	testkit.WaitForConsumer(t, stack.AdminAMQPURL(), queue)

	pub := testkit.AMQPChannel(t, paymentURL)
	if err := pub.PublishWithContext(context.Background(), amqpx.PaymentResultsExchange, "", false, false, amqp.Publishing{
		MessageId: "result-1", UserId: paymentUser, Type: "paysuite.events.v1.PaymentResult", Body: []byte("paid"),
		DeliveryMode: amqp.Persistent}); err != nil {
		t.Fatal(err)
	}
	admin := testkit.AMQPChannel(t, stack.AdminAMQPURL())
	if err := admin.PublishWithContext(context.Background(), "", queue, false, false, amqp.Publishing{
		MessageId: "forged-1", Body: []byte("paid"), DeliveryMode: amqp.Persistent}); err != nil {
		t.Fatal(err)
	}

	parked := func() []map[string]any {
		code, out, errOut := run(t, "parked", "list", queue, "--amqp-url", courseURL, "-o", "json")
		if code != 0 {
			t.Fatalf("parked list: exit %d: %s", code, errOut)
		}
		var msgs []map[string]any
		if err := json.Unmarshal([]byte(out), &msgs); err != nil {
			t.Fatalf("parked list -o json: %v: %s", err, out)
		}
		return msgs
	}
	testkit.Eventually(t, 30*time.Second, func() bool { return len(parked()) == 2 }, "the two messages were never parked")
	if got := parked(); len(got) != 2 {
		t.Fatalf("listing took messages away: %v", got)
	}

	mu.Lock()
	broken = false
	mu.Unlock()
	// Without --yes and with no answer, nothing moves.
	if code, _, errOut := run(t, "parked", "replay", queue, "--amqp-url", courseURL); code != 1 || !strings.Contains(errOut, "not confirmed") {
		t.Fatalf("replay without confirmation: exit %d: %s", code, errOut)
	}
	code, _, errOut := run(t, "parked", "replay", queue, "--amqp-url", courseURL, "--yes")
	if code != 0 || !strings.Contains(errOut, "replayed 2 message(s)") {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	testkit.Eventually(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return handled["result-1"] == 1
	}, "the replayed message was never handled")
	// The forgery comes back to the parking queue, unhandled.
	testkit.Eventually(t, 30*time.Second, func() bool {
		p := parked()
		return len(p) == 1 && p[0]["messageId"] == "forged-1"
	}, "the replayed forgery was not parked again")
	if code, _, errOut := run(t, "parked", "replay", queue, "--amqp-url", courseURL, "--yes", "--id", "result-1"); code != 0 ||
		!strings.Contains(errOut, "nothing to replay") {
		t.Fatalf("second replay: exit %d: %s", code, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if handled["result-1"] != 1 || handled["forged-1"] != 0 {
		t.Fatalf("handled %v, want result-1 once and the forgery never", handled)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{{"order", "get", "x1"}, {"order", "get"}, {"-o", "yaml", "certs"}, {"payment", "get", "1", "--nope"},
		{"payment", "sync"}, {"payment", "sync", "-3"}, {"refund", "sync", "r1"}, {"refund", "get"}, {"recon", "run", "--channel", "WECHAT_H5", "--date", "2026-12-01"},
		{"recon", "run", "--channel", "ALIPAY_QR", "--date", "12/01/2026"}, {"recon", "run", "--date", "2026-12-01"},
		{"recon", "show"}, {"recon", "show", "0"}, {"recon", "list", "--channel", "PAYPAL"}} {
		if code, _, errOut := run(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d (%s), want 2 with a message", args, code, errOut)
		}
	}
}

func TestCertsAndToken(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "certs", "--tls-dir", dir+"/tls")
	if code != 0 || !strings.Contains(out, "admin.pem") {
		t.Fatalf("certs: exit %d: %s %s", code, out, errOut)
	}
	if code, out, _ := run(t, "certs", "--tls-dir", dir+"/tls"); code != 0 || !strings.Contains(out, "already there") {
		t.Fatalf("certs again: exit %d: %s", code, out)
	}
	code, out, errOut = run(t, "token", "buyer-1", "--key-file", dir+"/dev.pem", "--roles", "merchant")
	if code != 0 || strings.Count(strings.TrimSpace(out), ".") != 2 {
		t.Fatalf("token: exit %d: %q %s", code, out, errOut)
	}
}
