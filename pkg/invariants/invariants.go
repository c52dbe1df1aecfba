// Package invariants checks that the books of a paysuite deployment balance after a run, from
// the outside: the provider's (sandbox's) own record of what was paid and refunded, every
// service's tables, and the broker's queues. `make load`, `make chaos`, the short chaos pass of
// `make test` and the cluster test use it; each invariant is one line of the report, with the
// ids involved when it is broken.
package invariants

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // the databases are MariaDB

	"github.com/paysuite/paysuite/pkg/access"
	"github.com/paysuite/paysuite/pkg/amqpx"
)

// Config says where to look.
type Config struct {
	OrderDSN, PaymentDSN, CourseDSN, NotificationDSN string // each service's database (read only)
	SandboxURL                                       string // GET /sandbox/trades
	AdminAMQPURL                                     string // the broker admin, for the management API
	Vhost                                            string
	// InitialStock is every SKU's stock before the run (Snapshot), for stock conservation.
	InitialStock map[string]int64
	// Grace is how long past its pay deadline an order may still be PENDING_PAYMENT (the sweep's
	// interval and grace).
	Grace time.Duration
}

// Result is one invariant's verdict.
type Result struct {
	Name    string
	Checked int      // how many things it looked at
	Bad     []string // ids involved in a violation (empty: holds)
	Err     error    // could not be checked (counts as broken)
}

// OK reports whether the invariant holds.
func (r Result) OK() bool { return len(r.Bad) == 0 && r.Err == nil }

// Report is every invariant's verdict.
type Report []Result

// OK reports whether every invariant holds.
func (rep Report) OK() bool {
	for _, r := range rep {
		if !r.OK() {
			return false
		}
	}
	return true
}

// Print writes one line per invariant, with up to 10 ids per broken one.
func (rep Report) Print(w io.Writer) {
	for _, r := range rep {
		switch {
		case r.Err != nil:
			fmt.Fprintf(w, "FAIL %-34s could not check: %v\n", r.Name, r.Err)
		case len(r.Bad) > 0:
			ids := r.Bad
			if len(ids) > 10 {
				ids = append(ids[:10:10], fmt.Sprintf("… %d more", len(r.Bad)-10))
			}
			fmt.Fprintf(w, "FAIL %-34s %d of %d: %s\n", r.Name, len(r.Bad), r.Checked, strings.Join(ids, "; "))
		default:
			fmt.Fprintf(w, "ok   %-34s (%d checked)\n", r.Name, r.Checked)
		}
	}
}

// Snapshot reads every SKU's stock (before the run).
func Snapshot(ctx context.Context, orderDSN string) (map[string]int64, error) {
	db, err := sql.Open("mysql", orderDSN)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT sku_id, stock FROM skus")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// SandboxTrade is what the checker reads of GET /sandbox/trades.
type SandboxTrade struct {
	Provider   string    `json:"provider"`
	OutTradeNo string    `json:"outTradeNo"`
	AmountFen  int64     `json:"amountFen"`
	State      string    `json:"state"`
	PaidAt     time.Time `json:"paidAt"`
	Refunds    []struct {
		OutRefundNo string `json:"outRefundNo"`
		AmountFen   int64  `json:"amountFen"`
		Status      string `json:"status"`
	} `json:"refunds"`
	Notify struct {
		Acked   bool      `json:"acked"`
		AckedAt time.Time `json:"ackedAt"`
	} `json:"notify"`
}

// SandboxTrades reads every trade the sandbox holds.
func SandboxTrades(ctx context.Context, base string) ([]SandboxTrade, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/sandbox/trades", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /sandbox/trades: HTTP %d", resp.StatusCode)
	}
	var out []SandboxTrade
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

type payment struct {
	id, orderID         int64
	outTradeNo, status  string
	amount, refunded    int64
	autoRefundSucceeded int64 // auto refunds SUCCEEDED (duplicate, cancelled, refused)
	userRefundSucceeded int64 // merchant staff's refunds SUCCEEDED
	refundsInFlight     int
	refundsFailed       []string // "auto 990 <fail reason>"
}

type order struct {
	id, paymentID, total, refunded int64
	user, status                   string
	deadline                       time.Time
}

// Check runs every invariant.
func Check(ctx context.Context, cfg Config) Report {
	var rep Report
	dbs := map[string]*sql.DB{}
	for name, dsn := range map[string]string{"order": cfg.OrderDSN, "payment": cfg.PaymentDSN, "course": cfg.CourseDSN,
		"notification": cfg.NotificationDSN} {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return Report{{Name: "open " + name, Err: err}}
		}
		defer db.Close()
		dbs[name] = db
	}
	trades, err := SandboxTrades(ctx, cfg.SandboxURL)
	if err != nil {
		return Report{{Name: "read sandbox trades", Err: err}}
	}
	payments, err := readPayments(ctx, dbs["payment"])
	if err != nil {
		return Report{{Name: "read payments", Err: err}}
	}
	orders, err := readOrders(ctx, dbs["order"])
	if err != nil {
		return Report{{Name: "read orders", Err: err}}
	}
	byTrade := map[string]*payment{}
	for _, p := range payments {
		byTrade[p.outTradeNo] = p
	}
	paidStatus := func(s string) bool { return s == "SUCCEEDED" || s == "REFUNDED" }
	orderPaid := func(s string) bool { return s == "PAID" || s == "REFUNDING" || s == "REFUNDED" }

	// 1. Every trade the provider says was paid is SUCCEEDED (or since refunded) in the ledger.
	r := Result{Name: "provider-paid trades in the ledger"}
	for _, t := range trades {
		if t.PaidAt.IsZero() {
			continue
		}
		r.Checked++
		if p := byTrade[t.OutTradeNo]; p == nil || !paidStatus(p.status) {
			status := "missing"
			if p != nil {
				status = p.status
			}
			r.Bad = append(r.Bad, fmt.Sprintf("%s %s ledger=%s", t.Provider, t.OutTradeNo, status))
		}
	}
	rep = append(rep, r)

	// 2. Every paid payment is its order's one payment, or its money went back automatically.
	r = Result{Name: "paid payment → paid order or refund"}
	keptByOrder := map[int64][]int64{}
	for _, p := range payments {
		if !paidStatus(p.status) {
			continue
		}
		r.Checked++
		o := orders[p.orderID]
		switch {
		case o != nil && orderPaid(o.status) && o.paymentID == p.id:
			keptByOrder[p.orderID] = append(keptByOrder[p.orderID], p.id)
		case p.autoRefundSucceeded+p.userRefundSucceeded == p.amount:
			// Not its order's payment, and every fen went back (automatically, or by staff).
		default:
			st := "missing"
			if o != nil {
				st = fmt.Sprintf("%s (its payment %d)", o.status, o.paymentID)
			}
			r.Bad = append(r.Bad, fmt.Sprintf("payment %d order %d: order %s, refunded %d auto + %d by staff of %d fen, failed refunds %v",
				p.id, p.orderID, st, p.autoRefundSucceeded, p.userRefundSucceeded, p.amount, p.refundsFailed))
		}
	}
	for oid, ps := range keptByOrder {
		if len(ps) > 1 {
			r.Bad = append(r.Bad, fmt.Sprintf("order %d kept %d payments %v", oid, len(ps), ps))
		}
	}
	rep = append(rep, r)

	// 3. Every paid order points at a paid payment of its amount.
	r = Result{Name: "paid order ← succeeded payment"}
	byID := map[int64]*payment{}
	for _, p := range payments {
		byID[p.id] = p
	}
	for _, o := range orders {
		if !orderPaid(o.status) {
			continue
		}
		r.Checked++
		p := byID[o.paymentID]
		if p == nil || !paidStatus(p.status) || p.amount != o.total || p.orderID != o.id {
			r.Bad = append(r.Bad, fmt.Sprintf("order %d %s payment %d", o.id, o.status, o.paymentID))
		}
	}
	rep = append(rep, r)

	// 3b. What the order says was refunded is what went back of its own payment: a refund of
	// another payment (a duplicate) must not refund the order.
	r = Result{Name: "order refunds = its payment's refunds"}
	for _, o := range orders {
		if !orderPaid(o.status) {
			continue
		}
		r.Checked++
		p := byID[o.paymentID]
		switch {
		case o.status == "REFUNDING":
			r.Bad = append(r.Bad, fmt.Sprintf("order %d still REFUNDING", o.id))
		case p != nil && o.refunded != p.userRefundSucceeded:
			r.Bad = append(r.Bad, fmt.Sprintf("order %d %s refunded %d fen, its payment %d refunded %d", o.id, o.status, o.refunded,
				p.id, p.userRefundSucceeded))
		}
	}
	rep = append(rep, r)

	// 4. No order pending past its deadline and the sweep's grace.
	r = Result{Name: "no order pending past deadline"}
	now := time.Now()
	for _, o := range orders {
		if o.status != "PENDING_PAYMENT" {
			continue
		}
		r.Checked++
		if now.After(o.deadline.Add(cfg.Grace)) {
			r.Bad = append(r.Bad, fmt.Sprintf("order %d deadline %s", o.id, o.deadline.Format(time.RFC3339)))
		}
	}
	rep = append(rep, r)

	rep = append(rep, checkStock(ctx, dbs["order"], cfg.InitialStock))
	rep = append(rep, checkEnrolments(ctx, dbs["order"], dbs["course"]))

	// 7. Provider captured − provider refunded = ledger net, to the fen.
	r = Result{Name: "provider net = ledger net (fen)"}
	var provNet, ledgerNet int64
	for _, t := range trades {
		if t.PaidAt.IsZero() {
			continue
		}
		r.Checked++
		provNet += t.AmountFen
		for _, rf := range t.Refunds {
			if rf.Status == "SUCCESS" {
				provNet -= rf.AmountFen
			}
		}
	}
	for _, p := range payments {
		if paidStatus(p.status) {
			ledgerNet += p.amount - p.autoRefundSucceeded - p.userRefundSucceeded
		}
	}
	if provNet != ledgerNet {
		r.Bad = append(r.Bad, fmt.Sprintf("provider %d, ledger %d", provNet, ledgerNet))
	}
	rep = append(rep, r)

	// 8. Every refund ended (SUCCEEDED or FAILED with a reason).
	r = Result{Name: "no refund left processing"}
	for _, p := range payments {
		r.Checked++
		if p.refundsInFlight > 0 {
			r.Bad = append(r.Bad, fmt.Sprintf("payment %d: %d refunds PROCESSING", p.id, p.refundsInFlight))
		}
	}
	rep = append(rep, r)

	rep = append(rep, checkOutboxes(ctx, dbs))
	if cfg.AdminAMQPURL != "" {
		rep = append(rep, checkQueues(ctx, cfg.AdminAMQPURL, cfg.Vhost))
	}
	rep = append(rep, checkWebhooks(ctx, dbs["notification"]))
	return rep
}

func readPayments(ctx context.Context, db *sql.DB) ([]*payment, error) {
	rows, err := db.QueryContext(ctx, "SELECT id, order_id, out_trade_no, status, amount_fen, refunded_fen FROM payments")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*payment
	byID := map[int64]*payment{}
	for rows.Next() {
		p := &payment{}
		if err := rows.Scan(&p.id, &p.orderID, &p.outTradeNo, &p.status, &p.amount, &p.refunded); err != nil {
			return nil, err
		}
		out = append(out, p)
		byID[p.id] = p
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rrows, err := db.QueryContext(ctx, "SELECT payment_id, amount_fen, status, auto, fail_reason FROM refunds")
	if err != nil {
		return nil, err
	}
	defer rrows.Close()
	for rrows.Next() {
		var pid, amount int64
		var status, reason string
		var auto bool
		if err := rrows.Scan(&pid, &amount, &status, &auto, &reason); err != nil {
			return nil, err
		}
		p := byID[pid]
		if p == nil {
			continue
		}
		switch {
		case status == "PROCESSING":
			p.refundsInFlight++
		case status == "SUCCEEDED" && auto:
			p.autoRefundSucceeded += amount
		case status == "SUCCEEDED":
			p.userRefundSucceeded += amount
		case status == "FAILED":
			p.refundsFailed = append(p.refundsFailed, fmt.Sprintf("auto=%v %d %q", auto, amount, reason))
		}
	}
	return out, rrows.Err()
}

func readOrders(ctx context.Context, db *sql.DB) (map[int64]*order, error) {
	rows, err := db.QueryContext(ctx, "SELECT order_id, user_id, status, total_fen, payment_id, refunded_fen, pay_deadline FROM orders")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]*order{}
	for rows.Next() {
		o := &order{}
		if err := rows.Scan(&o.id, &o.user, &o.status, &o.total, &o.paymentID, &o.refunded, &o.deadline); err != nil {
			return nil, err
		}
		out[o.id] = o
	}
	return out, rows.Err()
}

// checkStock: initial stock = stock left + units in orders that hold stock (all but CANCELLED).
func checkStock(ctx context.Context, db *sql.DB, initial map[string]int64) Result {
	r := Result{Name: "stock conserved per SKU"}
	if initial == nil {
		r.Err = fmt.Errorf("no initial stock snapshot")
		return r
	}
	rows, err := db.QueryContext(ctx, `SELECT s.sku_id, s.stock, COALESCE((SELECT SUM(i.quantity) FROM order_items i
		JOIN orders o ON o.order_id = i.order_id WHERE i.sku_id = s.sku_id AND o.status <> 'CANCELLED'), 0) FROM skus s`)
	if err != nil {
		r.Err = err
		return r
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var left, held int64
		if err := rows.Scan(&id, &left, &held); err != nil {
			r.Err = err
			return r
		}
		r.Checked++
		if init, ok := initial[id]; ok && init != left+held {
			r.Bad = append(r.Bad, fmt.Sprintf("%s initial %d ≠ left %d + held %d", id, init, left, held))
		}
	}
	r.Err = rows.Err()
	return r
}

// checkEnrolments: every paid course line has the user's active enrolment; a refunded one has
// none unless the user paid for that course again. (One row per (user, course) is the table's
// unique key.)
func checkEnrolments(ctx context.Context, orderDB, courseDB *sql.DB) Result {
	r := Result{Name: "enrolments match paid course lines"}
	rows, err := orderDB.QueryContext(ctx, `SELECT o.order_id, o.user_id, i.sku_id, o.status FROM orders o
		JOIN order_items i ON i.order_id = o.order_id WHERE i.kind = 'COURSE' AND o.status IN ('PAID', 'REFUNDED')`)
	if err != nil {
		r.Err = err
		return r
	}
	type key struct{ user, course string }
	want := map[key][]string{} // statuses of the user's orders for the course
	ids := map[key][]int64{}
	for rows.Next() {
		var id int64
		var user, sku, status string
		if err := rows.Scan(&id, &user, &sku, &status); err != nil {
			rows.Close()
			r.Err = err
			return r
		}
		k := key{user, sku}
		want[k] = append(want[k], status)
		ids[k] = append(ids[k], id)
	}
	rows.Close()
	active := map[key]bool{}
	erows, err := courseDB.QueryContext(ctx, "SELECT user_id, course_id FROM enrollments WHERE revoked_at IS NULL")
	if err != nil {
		r.Err = err
		return r
	}
	defer erows.Close()
	for erows.Next() {
		var k key
		if err := erows.Scan(&k.user, &k.course); err != nil {
			r.Err = err
			return r
		}
		active[k] = true
	}
	for k, statuses := range want {
		r.Checked++
		paid := false
		for _, s := range statuses {
			paid = paid || s == "PAID"
		}
		if paid != active[k] {
			r.Bad = append(r.Bad, fmt.Sprintf("user %s course %s orders %v %v: enrolled=%v", k.user, k.course, ids[k], statuses, active[k]))
		}
	}
	for k := range active {
		if _, ok := want[k]; !ok {
			r.Checked++
			r.Bad = append(r.Bad, fmt.Sprintf("user %s course %s enrolled without a paid order", k.user, k.course))
		}
	}
	sort.Strings(r.Bad)
	return r
}

// checkOutboxes: nothing left unpublished in any service's outbox.
func checkOutboxes(ctx context.Context, dbs map[string]*sql.DB) Result {
	r := Result{Name: "outboxes drained"}
	for _, name := range []string{"order", "payment", "course", "notification"} {
		var n int
		err := dbs[name].QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox_messages WHERE published_at IS NULL").Scan(&n)
		if err != nil {
			if strings.Contains(err.Error(), "1146") { // no outbox in this service
				continue
			}
			r.Err = fmt.Errorf("%s: %w", name, err)
			return r
		}
		r.Checked++
		if n > 0 {
			r.Bad = append(r.Bad, fmt.Sprintf("%s: %d unpublished", name, n))
		}
	}
	return r
}

// checkQueues: every queue of the vhost is empty (consumed, nothing parked), but the delay
// queues.
func checkQueues(ctx context.Context, adminURL, vhost string) Result {
	r := Result{Name: "queues empty, nothing parked"}
	admin, err := access.NewBrokerAdmin(adminURL)
	if err != nil {
		r.Err = err
		return r
	}
	depths, err := admin.QueueDepths(ctx, vhost)
	if err != nil {
		r.Err = err
		return r
	}
	names := make([]string, 0, len(depths))
	for q := range depths {
		names = append(names, q)
	}
	sort.Strings(names)
	for _, q := range names {
		// The order's pay-timeout queues hold each unpaid order's deadline message until it
		// is due (TTL dead-lettering): full by design.
		if strings.Contains(q, ".pay-timeout.") && !strings.HasSuffix(q, amqpx.ParkingSuffix) {
			continue
		}
		r.Checked++
		if depths[q] > 0 {
			r.Bad = append(r.Bad, fmt.Sprintf("%s: %d messages", q, depths[q]))
		}
	}
	return r
}

// checkWebhooks: every webhook delivery ended, delivered or given up after its attempts.
func checkWebhooks(ctx context.Context, db *sql.DB) Result {
	r := Result{Name: "webhook deliveries settled"}
	var total, open, failedUntried int
	// Status 1 pending, 2 delivered, 3 failed (services/notification, domain/delivery).
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(status = 1), 0), COALESCE(SUM(status = 3 AND attempts = 0), 0)
		FROM webhook_deliveries`).Scan(&total, &open, &failedUntried); err != nil {
		r.Err = err
		return r
	}
	r.Checked = total
	if open > 0 {
		r.Bad = append(r.Bad, fmt.Sprintf("%d deliveries still pending", open))
	}
	if failedUntried > 0 {
		r.Bad = append(r.Bad, fmt.Sprintf("%d deliveries FAILED without an attempt", failedUntried))
	}
	return r
}
