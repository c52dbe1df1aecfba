// Package harness runs the whole suite under an open-loop purchase mix and checks its books
// afterwards: `make load` (pkg/cmd/load), `make chaos` (pkg/cmd/chaos, with faults injected by
// a Chaos plan) and the short pass in `make test` all go through Run.
package harness

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/paysuite/paysuite/pkg/invariants"
	"github.com/paysuite/paysuite/pkg/loadgen"
	"github.com/paysuite/paysuite/pkg/localsuite"
)

// Options of one run.
type Options struct {
	Rate     float64       // purchases (arrivals) per second
	Duration time.Duration // of the arrivals
	Seed     uint64
	Mix      loadgen.Mix
	SKUs     int // goods SKUs added to the catalog (plus one hot SKU)

	Suite localsuite.Options
	// Settle bounds the wait, after the last arrival, for the invariants to hold (deadlines,
	// sweeps, retries); the last check's report is the run's.
	Settle time.Duration
	// MinSettle is the least wait before the final check, so that every order made by the load
	// is past its deadline and grace and "no order pending past deadline" has teeth.
	MinSettle time.Duration
	// Grace: how long past its deadline an order may stay PENDING_PAYMENT.
	Grace time.Duration

	// AnchorConcurrency > 0 measures the gateway-vs-direct GetOrder ratio at this concurrency,
	// AnchorRequests a side (0: skipped).
	AnchorConcurrency int
	AnchorRequests    int
	// CreateAnchorConcurrency > 0 measures the CreateOrder anchor (gRPC ÷ bare SQL, on the
	// run's goods SKUs and on its hot SKU) with that many clients, CreateAnchorDuration a side
	// per scenario (0: skipped).
	CreateAnchorConcurrency int
	CreateAnchorDuration    time.Duration
	// AnchorRounds: each anchor alternates its two sides in this many slices (default 4).
	AnchorRounds int

	// During runs alongside the arrivals (chaos faults); the run waits for it after the last
	// arrival, so it must be bounded by itself (and return when ctx ends). Its error fails the run.
	During func(ctx context.Context, s *localsuite.Suite) error
	// Inspect, when set, runs after the final check with the suite still up (tests use it to
	// break the books on purpose and see the checker notice).
	Inspect func(ctx context.Context, s *localsuite.Suite, cfg invariants.Config)
	// MeterServers also meters mariadbd and beam.smp (private instances: make chaos).
	MeterServers bool

	Out io.Writer
}

// Result of a run.
type Result struct {
	Report    invariants.Report
	Purchases int           // orders PAID (or later refunded) at the end
	Elapsed   time.Duration // of the arrivals
	Errors    int
	Rec       *loadgen.Recorder
	Ratios    []Ratio // the anchors measured, in the order printed
}

// Run starts a suite, drives it, lets it settle and checks the invariants.
func Run(ctx context.Context, o Options) (res Result, err error) {
	out := o.Out
	if out == nil {
		out = os.Stdout
	}
	suite, err := localsuite.Start(ctx, o.Suite)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := suite.Close(); cerr != nil && err == nil {
			fmt.Fprintf(out, "cleanup: %v\n", cerr)
		}
	}()
	fmt.Fprintf(out, "suite %s up (logs %s)\n", suite.Name, suite.LogDir())
	goods, hot, courses, err := seedCatalog(ctx, suite.DSN("order"), o.SKUs)
	if err != nil {
		return res, err
	}
	initial, err := invariants.Snapshot(ctx, suite.DSN("order"))
	if err != nil {
		return res, err
	}
	meter := &loadgen.Meter{Pids: suite.Pids, AdminDSN: suite.AdminDSN(), UserLike: strings.ReplaceAll(suite.Name, "_", `\_`) + `\_%`,
		AdminAMQP: o.Suite.AdminAMQP, Vhost: suite.Vhost(), Servers: o.MeterServers,
		ServiceDSNs: []string{"`" + suite.Name + "_order`", "`" + suite.Name + "_payment`", "`" + suite.Name + "_course`", "`" + suite.Name + "_notification`"}}
	if err := meter.EnableStatements(ctx); err != nil {
		fmt.Fprintf(out, "userstat not enabled (%v): statements counted from the global Questions\n", err)
	}
	before, err := meter.Read(ctx)
	if err != nil {
		return res, err
	}
	rec := loadgen.NewRecorder()
	drv := &loadgen.Driver{Gateway: suite.GatewayURL(), Sandbox: suite.SandboxURL(), Goods: goods, HotSKU: hot, Courses: courses,
		Mix: o.Mix, RunID: suite.Name, Rec: rec, Seed: o.Seed}
	fmt.Fprintf(out, "load: %.0f arrivals/s for %s, %d goods SKUs + 1 hot, seed %d\n", o.Rate, o.Duration, len(goods), o.Seed)

	duringErr := make(chan error, 1)
	if o.During != nil {
		go func() { duringErr <- o.During(ctx, suite) }()
	} else {
		duringErr <- nil
	}
	st := loadgen.Schedule(ctx, o.Rate, o.Duration, int(o.Rate*60)+100, drv.Purchase)
	if err := <-duringErr; err != nil {
		return res, fmt.Errorf("faults: %w", err)
	}
	after, err := meter.Read(ctx)
	if err != nil {
		return res, err
	}
	res.Elapsed, res.Rec = st.Elapsed, rec
	fmt.Fprintf(out, "\narrivals %d in %s (shed %d, max start lag %s)\n", st.Arrivals, st.Elapsed.Round(time.Millisecond), st.Shed,
		st.MaxLag.Round(time.Millisecond))
	rec.Print(out)
	res.Errors = rec.Errors() + st.Shed

	// Settle: until the invariants hold or Settle passes.
	cfg := invariants.Config{OrderDSN: suite.DSN("order"), PaymentDSN: suite.DSN("payment"), CourseDSN: suite.DSN("course"),
		NotificationDSN: suite.DSN("notification"), SandboxURL: suite.SandboxURL(), AdminAMQPURL: o.Suite.AdminAMQP,
		Vhost: suite.Vhost(), InitialStock: initial, Grace: o.Grace}
	settleStart := time.Now()
	for {
		res.Report = invariants.Check(ctx, cfg)
		settled := res.Report.OK() && time.Since(settleStart) >= o.MinSettle
		if settled || time.Since(settleStart) > o.Settle || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	fmt.Fprintf(out, "\nsettled in %s\n", time.Since(settleStart).Round(time.Second))

	res.Purchases, err = paidOrders(ctx, suite.DSN("order"))
	if err != nil {
		return res, err
	}
	cost := after.Sub(before)
	printCost(out, cost, res.Purchases, st.Elapsed)
	enrolledP99, err := printNotifyLatency(ctx, out, suite)
	if err != nil {
		fmt.Fprintf(out, "notify latency: %v\n", err)
	}
	fmt.Fprintln(out, "\ninvariants:")
	res.Report.Print(out)
	if o.Inspect != nil {
		o.Inspect(ctx, suite, cfg)
	}
	// The anchors after the books were checked: their own orders are no part of them.
	rounds := o.AnchorRounds
	if rounds <= 0 {
		rounds = 4
	}
	if o.AnchorConcurrency > 0 && o.AnchorRequests > 0 {
		fmt.Fprintln(out)
		r, err := getOrderAnchor(ctx, out, suite, o.AnchorConcurrency, o.AnchorRequests, rounds)
		if err != nil {
			fmt.Fprintf(out, "GetOrder anchor: %v\n", err)
		} else {
			res.Ratios = append(res.Ratios, r)
		}
	}
	if o.CreateAnchorConcurrency > 0 && o.CreateAnchorDuration > 0 {
		fmt.Fprintln(out)
		rs, err := createOrderAnchor(ctx, out, suite, goods, hot, o.CreateAnchorConcurrency, o.CreateAnchorDuration, rounds)
		if err != nil {
			fmt.Fprintf(out, "CreateOrder anchor: %v\n", err)
		}
		res.Ratios = append(res.Ratios, rs...)
	}
	if len(res.Ratios) > 0 {
		fmt.Fprintf(out, "\nratios (this run, load average %s):\n", loadAverage())
		for _, r := range res.Ratios {
			fmt.Fprintf(out, "  %s\n", r)
		}
		if enrolledP99 > 0 {
			fmt.Fprintf(out, "  %-50s %s (goal < 250ms at 200 purchases/s for 5m; this run %.0f arrivals/s for %s)\n",
				"notify acked → course enrolled p99", enrolledP99.Round(time.Millisecond), o.Rate, o.Duration)
		}
		fmt.Fprintln(out, "  (verified notifies ÷ bare verify + conditional update: make bench, services/payment/cmd/bench)")
	}
	return res, nil
}

// seedCatalog adds n goods SKUs and one hot SKU with ample stock (what a merchant's catalog
// import would do), and returns them with the seeded courses.
func seedCatalog(ctx context.Context, dsn string, n int) (goods []string, hot string, courses []string, err error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, "", nil, err
	}
	defer db.Close()
	hot = "load-hot"
	var b strings.Builder
	b.WriteString("INSERT INTO skus (sku_id, title, kind, price_fen, stock) VALUES ('load-hot', 'Hot item', 'GOODS', 990, 100000000)")
	for i := range n {
		id := fmt.Sprintf("load-%04d", i)
		goods = append(goods, id)
		fmt.Fprintf(&b, ", ('%s', 'Load item %d', 'GOODS', %d, 10000000)", id, i, 100+i)
	}
	if _, err := db.ExecContext(ctx, b.String()); err != nil {
		return nil, "", nil, fmt.Errorf("seed catalog: %w", err)
	}
	rows, err := db.QueryContext(ctx, "SELECT sku_id FROM skus WHERE kind = 'COURSE' ORDER BY sku_id")
	if err != nil {
		return nil, "", nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, "", nil, err
		}
		courses = append(courses, id)
	}
	if len(goods) == 0 {
		goods = []string{hot}
	}
	return goods, hot, courses, rows.Err()
}

func paidOrders(ctx context.Context, dsn string) (int, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders WHERE status IN ('PAID', 'REFUNDING', 'REFUNDED')").Scan(&n)
	return n, err
}

func printCost(out io.Writer, c loadgen.Cost, purchases int, elapsed time.Duration) {
	fmt.Fprintf(out, "\npurchases (orders paid): %d, %.1f/s sustained over %s\n", purchases,
		float64(purchases)/elapsed.Seconds(), elapsed.Round(time.Second))
	if purchases == 0 {
		return
	}
	p := float64(purchases)
	names := make([]string, 0, len(c.CPUms))
	for n := range c.CPUms {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", n, c.CPUms[n]/p))
	}
	broker := fmt.Sprintf("%.1f published / %.1f delivered", float64(c.Published)/p, float64(c.Delivered)/p)
	if c.FromOutboxes {
		broker = fmt.Sprintf("%.1f published from the outboxes (no management API)", float64(c.Published)/p)
	}
	statements := fmt.Sprintf("%.1f", float64(c.Statements)/p)
	if c.Statements < 0 || c.Questions < 0 {
		statements = "unknown (the database restarted: its counters did too)"
	}
	fmt.Fprintf(out, "cost per purchase: CPU %.2f ms (%s), DB statements %s (server-wide Questions %.1f), broker messages %s\n",
		c.TotalCPUms()/p, strings.Join(parts, ", "), statements, float64(c.Questions)/p, broker)
}

// printNotifyLatency: from the sandbox's acknowledgement of each paid trade's notify to the
// order's last update (status PAID: the MarkOrderPaid write) and to the enrolment's (server-side
// times, one clock). paid_at and enrolled_at carry the provider's payment time, not when the
// suite wrote them, so they cannot serve.
func printNotifyLatency(ctx context.Context, out io.Writer, s *localsuite.Suite) (enrolledP99 time.Duration, err error) {
	trades, err := invariants.SandboxTrades(ctx, s.SandboxURL())
	if err != nil {
		return 0, err
	}
	acked := map[string]time.Time{}
	for _, t := range trades {
		if t.Notify.Acked && !t.Notify.AckedAt.IsZero() {
			acked[t.OutTradeNo] = t.Notify.AckedAt
		}
	}
	pay, err := sql.Open("mysql", s.DSN("payment"))
	if err != nil {
		return 0, err
	}
	defer pay.Close()
	rows, err := pay.QueryContext(ctx, "SELECT out_trade_no, order_id FROM payments WHERE status IN ('SUCCEEDED', 'REFUNDED')")
	if err != nil {
		return 0, err
	}
	orderAck := map[int64]time.Time{}
	for rows.Next() {
		var no string
		var oid int64
		if err := rows.Scan(&no, &oid); err != nil {
			rows.Close()
			return 0, err
		}
		if at, ok := acked[no]; ok {
			if prev, seen := orderAck[oid]; !seen || at.Before(prev) {
				orderAck[oid] = at
			}
		}
	}
	rows.Close()
	var toPaid, toEnrolled []time.Duration
	// The order's last write while PAID is MarkOrderPaid's, the enrolment's its grant — unless a
	// later write moved updated_at: a partial refund of the order, a second payment's grant of the
	// same course. Those are left out; counting them put the refund's seconds into the p99.
	for _, q := range []struct {
		svc, query string
		into       *[]time.Duration
	}{
		{"order", "SELECT order_id, updated_at FROM orders WHERE status = 'PAID' AND refunded_fen = 0", &toPaid},
		{"course", `SELECT e.order_id, e.updated_at FROM enrollments e WHERE e.revoked_at IS NULL
			AND (SELECT COUNT(*) FROM enrollment_grants g WHERE g.user_id = e.user_id AND g.course_id = e.course_id) = 1`, &toEnrolled},
	} {
		at, err := timesByOrder(ctx, s.DSN(q.svc), q.query)
		if err != nil {
			return 0, err
		}
		for oid, t := range at {
			if ack, ok := orderAck[oid]; ok {
				*q.into = append(*q.into, t.Sub(ack))
			}
		}
	}
	p50, p99, pmax := loadgen.Percentiles(toPaid)
	fmt.Fprintf(out, "notify acked → order PAID:      n=%d p50 %s p99 %s max %s\n", len(toPaid), p50.Round(time.Millisecond),
		p99.Round(time.Millisecond), pmax.Round(time.Millisecond))
	p50, p99, pmax = loadgen.Percentiles(toEnrolled)
	fmt.Fprintf(out, "notify acked → course enrolled: n=%d p50 %s p99 %s max %s\n", len(toEnrolled), p50.Round(time.Millisecond),
		p99.Round(time.Millisecond), pmax.Round(time.Millisecond))
	return p99, nil
}

// loadAverage is /proc/loadavg's first three fields (other work on the machine skews ratios).
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// ErrBroken is returned by the commands when an invariant does not hold.
var ErrBroken = errors.New("invariants broken")

// timesByOrder runs query (order_id, a time) on dsn.
func timesByOrder(ctx context.Context, dsn, query string) (map[int64]time.Time, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var oid int64
		var at time.Time
		if err := rows.Scan(&oid, &at); err != nil {
			return nil, err
		}
		out[oid] = at
	}
	return out, rows.Err()
}
