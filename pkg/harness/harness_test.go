package harness

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/invariants"
	"github.com/paysuite/paysuite/pkg/loadgen"
	"github.com/paysuite/paysuite/pkg/localsuite"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// buildSuite builds the services' binaries (as `make build`) into a temporary directory.
func buildSuite(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	if err := localsuite.Build(testkit.Context(t), filepath.Join("..", ".."), bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

func shortOptions(t *testing.T, bin string) Options {
	return Options{Rate: 20, Duration: 5 * time.Second, Seed: 7, Mix: loadgen.DefaultMix, SKUs: 20,
		Settle: 2 * time.Minute, Grace: time.Minute,
		Suite: localsuite.Options{BinDir: bin, AdminDSN: testkit.BaseMySQLDSN(), AdminAMQP: testkit.BaseAMQPURL(),
			Prefix: "pst_load_", LogDir: t.TempDir()},
		Out: testWriter{t}}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// A short load through the real binaries leaves the books balanced; and each invariant goes red
// when the books are broken the way it guards against (then green again once restored).
func TestShortLoadBalancesAndCheckerCatchesBrokenBooks(t *testing.T) {
	bin := buildSuite(t)
	o := shortOptions(t, bin)
	o.Inspect = func(ctx context.Context, s *localsuite.Suite, cfg invariants.Config) {
		breakAndCheck(t, ctx, s, cfg)
	}
	// The anchors, tiny: both sides of each must work on the suite (no figures checked).
	o.AnchorConcurrency, o.AnchorRequests = 2, 40
	o.CreateAnchorConcurrency, o.CreateAnchorDuration, o.AnchorRounds = 2, 400*time.Millisecond, 2
	res, err := Run(testkit.Context(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Report.OK() {
		t.Fatalf("invariants broken after a plain load:\n%s", reportText(res.Report))
	}
	if res.Purchases == 0 {
		t.Fatal("no purchase went through")
	}
	if len(res.Ratios) != 3 {
		t.Fatalf("%d anchor ratios, want GetOrder and CreateOrder on spread and hot SKUs: %v", len(res.Ratios), res.Ratios)
	}
	for _, r := range res.Ratios {
		if r.Errors != 0 || !(r.Value > 0) {
			t.Errorf("anchor %s", r)
		}
	}
}

func reportText(rep invariants.Report) string {
	var b strings.Builder
	rep.Print(&b)
	return b.String()
}

// breakAndCheck tampers with one service's tables at a time and expects exactly the invariant
// named to fail, then restores.
func breakAndCheck(t *testing.T, ctx context.Context, s *localsuite.Suite, cfg invariants.Config) {
	open := func(svc string) *sql.DB {
		db, err := sql.Open("mysql", s.DSN(svc))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	orders, payments, courses := open("order"), open("payment"), open("course")
	one := func(db *sql.DB, q string) string {
		var v string
		if err := db.QueryRowContext(ctx, q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	exec := func(db *sql.DB, q string, args ...any) {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	paidOrder := one(orders, "SELECT order_id FROM orders WHERE status = 'PAID' AND order_id IN (SELECT order_id FROM order_items WHERE kind = 'GOODS') LIMIT 1")
	paidPayment := one(orders, "SELECT payment_id FROM orders WHERE order_id = "+paidOrder)
	enrolled := one(courses, "SELECT id FROM enrollments WHERE revoked_at IS NULL LIMIT 1")
	pendingOrder := one(orders, "SELECT order_id FROM orders WHERE status = 'PENDING_PAYMENT' LIMIT 1")
	deadline := one(orders, "SELECT DATE_FORMAT(pay_deadline, '%Y-%m-%d %H:%i:%s.%f') FROM orders WHERE order_id = "+pendingOrder)

	cases := []struct {
		invariant       string
		break_, restore func()
	}{
		{"paid payment → paid order or refund", // a paid order never marked PAID
			func() { exec(orders, "UPDATE orders SET status = 'PENDING_PAYMENT' WHERE order_id = ?", paidOrder) },
			func() { exec(orders, "UPDATE orders SET status = 'PAID' WHERE order_id = ?", paidOrder) }},
		{"paid order ← succeeded payment", // an order PAID on a payment the ledger does not hold as paid
			func() { exec(payments, "UPDATE payments SET status = 'CLOSED' WHERE id = ?", paidPayment) },
			func() { exec(payments, "UPDATE payments SET status = 'SUCCEEDED' WHERE id = ?", paidPayment) }},
		{"provider-paid trades in the ledger", // the provider's money, missing from the ledger
			func() { exec(payments, "UPDATE payments SET status = 'WAITING' WHERE id = ?", paidPayment) },
			func() { exec(payments, "UPDATE payments SET status = 'SUCCEEDED' WHERE id = ?", paidPayment) }},
		{"provider net = ledger net (fen)",
			func() { exec(payments, "UPDATE payments SET amount_fen = amount_fen + 1 WHERE id = ?", paidPayment) },
			func() { exec(payments, "UPDATE payments SET amount_fen = amount_fen - 1 WHERE id = ?", paidPayment) }},
		{"order refunds = its payment's refunds", // the order refunded without its payment's money going back
			func() {
				exec(orders, "UPDATE orders SET refunded_fen = refunded_fen + 1 WHERE order_id = ?", paidOrder)
			},
			func() {
				exec(orders, "UPDATE orders SET refunded_fen = refunded_fen - 1 WHERE order_id = ?", paidOrder)
			}},
		{"no order pending past deadline",
			func() {
				exec(orders, "UPDATE orders SET pay_deadline = ? WHERE order_id = ?", time.Now().UTC().Add(-time.Hour), pendingOrder)
			},
			func() { exec(orders, "UPDATE orders SET pay_deadline = ? WHERE order_id = ?", deadline, pendingOrder) }},
		{"stock conserved per SKU",
			func() { exec(orders, "UPDATE skus SET stock = stock + 1 WHERE sku_id = 'load-hot'") },
			func() { exec(orders, "UPDATE skus SET stock = stock - 1 WHERE sku_id = 'load-hot'") }},
		{"enrolments match paid course lines",
			func() { exec(courses, "UPDATE enrollments SET revoked_at = NOW(6) WHERE id = ?", enrolled) },
			func() { exec(courses, "UPDATE enrollments SET revoked_at = NULL WHERE id = ?", enrolled) }},
		{"no refund left processing",
			func() {
				exec(payments, `INSERT INTO refunds (id, payment_id, order_id, amount_fen, reason, request_id, out_refund_no, status,
					created_at, updated_at) VALUES (1, ?, ?, 1, 'x', 'tamper', 'tamper', 'PROCESSING', NOW(6), NOW(6))`, paidPayment, paidOrder)
			},
			func() { exec(payments, "DELETE FROM refunds WHERE id = 1") }},
		{"outboxes drained",
			func() {
				exec(orders, `INSERT INTO outbox_messages (message_id, exchange, routing_key, body, created_at)
					VALUES ('tamper', 'x', 'y', '', NOW(6))`)
			},
			func() { exec(orders, "DELETE FROM outbox_messages WHERE message_id = 'tamper'") }},
	}
	for _, c := range cases {
		c.break_()
		rep := invariants.Check(ctx, cfg)
		for _, r := range rep {
			if r.Name == c.invariant && r.OK() {
				t.Errorf("%q still holds with the books broken:\n%s", c.invariant, reportText(rep))
			}
			if r.Err != nil {
				t.Errorf("%q: %v", r.Name, r.Err)
			}
		}
		c.restore()
		if rep := invariants.Check(ctx, cfg); !rep.OK() {
			t.Fatalf("after restoring %q:\n%s", c.invariant, reportText(rep))
		}
	}
}
