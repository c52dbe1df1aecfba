package metrics

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Gauge is a gauge series read from a service's own tables when scraped: its query returns one
// row per label combination, the label values first (in Labels order) and the value last.
// Known label combinations (Known) are reported as 0 when the query returns no row for them, so
// a series an alert waits for exists before its first occurrence.
type Gauge struct {
	Name   string
	Help   string
	Labels []string
	Known  [][]string
}

// The gauges read from tables, by service. Their queries live with the service (its adapter
// owns its tables); the names are here, so the alert rules can be checked against them.
var (
	// order
	Orders = Gauge{Name: Namespace + "_orders", Help: "Orders by status.", Labels: []string{"status"},
		Known: known("PENDING_PAYMENT", "PAID", "CANCELLED", "REFUNDING", "REFUNDED")}
	// payment
	Payments = Gauge{Name: Namespace + "_payments", Help: "Payments by channel and status.",
		Labels: []string{"channel", "status"}}
	PaymentsWaitingExpired = Gauge{Name: Namespace + "_payments_waiting_past_expiry",
		Help: "Payments still WAITING more than a minute after their provider trade expired " +
			"(polling should have closed or confirmed them)."}
	PollTasks = Gauge{Name: Namespace + "_poll_tasks", Help: "Durable payment tasks (provider polls, " +
		"closes, refund steps) by kind and state: due (their time has come) or overdue (due for more than a minute).",
		Labels: []string{"kind", "state"}, Known: [][]string{{"poll-trade", "due"}, {"poll-trade", "overdue"},
			{"mark-order-paid", "due"}, {"mark-order-paid", "overdue"}, {"refund", "due"}, {"refund", "overdue"}}}
	Refunds = Gauge{Name: Namespace + "_refunds", Help: "Refunds by status.", Labels: []string{"status"},
		Known: known("PROCESSING", "SUCCEEDED", "FAILED")}
	RefundsStuck = Gauge{Name: Namespace + "_refunds_stuck",
		Help: "Refunds not finished (succeeded or failed) an hour after they were asked for."}
	AnomaliesOpen = Gauge{Name: Namespace + "_anomalies_open", Help: "Anomalies recorded and not yet resolved, by kind.",
		Labels: []string{"kind"}, Known: known("REFUND_ABNORMAL", "REFUND_CLOSED", "REFUND_REFUSED", "REFUND_STUCK",
			"AMOUNT_MISMATCH")}
	// notification
	WebhookDeliveries = Gauge{Name: Namespace + "_webhook_deliveries", Help: "Merchant webhook deliveries by status.",
		Labels: []string{"status"}, Known: known("pending", "delivered", "failed")}
)

func init() {
	for _, g := range []Gauge{Orders, Payments, PaymentsWaitingExpired, PollTasks, Refunds, RefundsStuck, AnomaliesOpen,
		WebhookDeliveries} {
		declare(g.Name)
	}
}

// known lists the values of a gauge's one label.
func known(values ...string) [][]string {
	out := make([][]string, len(values))
	for i, v := range values {
		out[i] = []string{v}
	}
	return out
}

// SQLCollector reports Gauges from queries on one database. A scrape runs each query at most
// every minInterval (the last answers are served in between), bounded by a timeout: a slow
// database costs a scrape a stale or missing value, never a hang.
type SQLCollector struct {
	db          *sql.DB
	log         *slog.Logger
	gauges      []sqlGauge
	minInterval time.Duration

	mu      sync.Mutex
	last    time.Time
	metrics []prometheus.Metric
}

type sqlGauge struct {
	Gauge
	query string
	desc  *prometheus.Desc
}

// NewSQLCollector returns a collector over db; add gauges with Add, then register it.
func NewSQLCollector(db *sql.DB, log *slog.Logger) *SQLCollector {
	return &SQLCollector{db: db, log: log, minInterval: 5 * time.Second}
}

// Add reports g from query (label columns, then the value).
func (c *SQLCollector) Add(g Gauge, query string) *SQLCollector {
	c.gauges = append(c.gauges, sqlGauge{Gauge: g, query: query,
		desc: prometheus.NewDesc(g.Name, g.Help, g.Labels, nil)})
	return c
}

// Describe implements prometheus.Collector.
func (c *SQLCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range c.gauges {
		ch <- g.desc
	}
}

// Collect implements prometheus.Collector.
func (c *SQLCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.last) >= c.minInterval || c.metrics == nil {
		c.metrics = c.query()
		c.last = time.Now()
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

func (c *SQLCollector) query() []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out []prometheus.Metric
	for _, g := range c.gauges {
		ms, err := c.queryOne(ctx, g)
		if err != nil {
			c.log.Warn("metrics: gauge query failed", "gauge", g.Name, "err", err)
			continue
		}
		out = append(out, ms...)
	}
	return out
}

func (c *SQLCollector) queryOne(ctx context.Context, g sqlGauge) ([]prometheus.Metric, error) {
	rows, err := c.db.QueryContext(ctx, g.query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[string]bool{}
	var out []prometheus.Metric
	for rows.Next() {
		labels := make([]string, len(g.Labels))
		dest := make([]any, 0, len(labels)+1)
		for i := range labels {
			dest = append(dest, &labels[i])
		}
		var v sql.NullFloat64
		dest = append(dest, &v)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		seen[strings.Join(labels, "\x00")] = true
		out = append(out, prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v.Float64, labels...))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, k := range g.Known {
		if !seen[strings.Join(k, "\x00")] {
			out = append(out, prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, 0, k...))
		}
	}
	if len(g.Labels) == 0 && len(out) == 0 {
		out = append(out, prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, 0))
	}
	return out, nil
}
