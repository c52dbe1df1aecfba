package amqpx

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/metrics"
	"github.com/paysuite/paysuite/pkg/pause"
)

// The broker and outbox series (pkg/metrics names them, for its Catalog).
const (
	MetricDeliveries   = metrics.AMQPDeliveries
	MetricRedeliveries = metrics.AMQPRedeliveries
	MetricRetries      = metrics.AMQPRetries
	MetricParked       = metrics.AMQPParked
	MetricParkedNow    = metrics.AMQPParkedNow
	MetricPublished    = metrics.OutboxPublished
	MetricBacklog      = metrics.OutboxBacklog
	MetricOldestAge    = metrics.OutboxOldestAge
)

// Metrics are a process's broker series: per consumer queue, deliveries, redeliveries (the
// broker's redelivered flag or a retry copy), retries, messages parked and the parking queue's
// depth; outbox rows published. A nil *Metrics records nothing.
type Metrics struct {
	deliveries, redeliveries, retries, parked *prometheus.CounterVec
	parkedNow                                 *prometheus.GaugeVec
	published                                 prometheus.Counter
}

// NewMetrics registers the broker series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	perQueue := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"queue"})
	}
	m := &Metrics{
		deliveries:   perQueue(MetricDeliveries, "Messages delivered to a consumer, by queue."),
		redeliveries: perQueue(MetricRedeliveries, "Deliveries that are a redelivery or a retry copy, by queue."),
		retries:      perQueue(MetricRetries, "Handler failures sent back for another attempt, by queue."),
		parked:       perQueue(MetricParked, "Messages moved to the parking queue, by queue."),
		parkedNow: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricParkedNow,
			Help: "Messages waiting in a consumer's parking queue (<queue>.parking), by queue."}, []string{"queue"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: MetricPublished,
			Help: "Outbox rows published and confirmed by the broker."}),
	}
	reg.MustRegister(m.deliveries, m.redeliveries, m.retries, m.parked, m.parkedNow, m.published)
	return m
}

// queue makes queue's series exist (at 0) before its first message.
func (m *Metrics) queue(queue string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(queue)
	m.redeliveries.WithLabelValues(queue)
	m.retries.WithLabelValues(queue)
	m.parked.WithLabelValues(queue)
}

func (m *Metrics) delivered(queue string, redelivered bool) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(queue).Inc()
	if redelivered {
		m.redeliveries.WithLabelValues(queue).Inc()
	}
}

func (m *Metrics) retried(queue string) {
	if m != nil {
		m.retries.WithLabelValues(queue).Inc()
	}
}

func (m *Metrics) parkedOne(queue string) {
	if m != nil {
		m.parked.WithLabelValues(queue).Inc()
	}
}

func (m *Metrics) publishedRows(n int) {
	if m != nil {
		m.published.Add(float64(n))
	}
}

// parkingEvery is how often a consumer counts its parking queue.
const parkingEvery = 15 * time.Second

// watchParking keeps the parking-queue depth of c's queue current until ctx is done.
func (c *consumer) watchParking(ctx context.Context) {
	g := c.cfg.Metrics.parkedNow.WithLabelValues(c.cfg.Queue)
	for {
		if ch, err := c.conn.Channel(ctx); err == nil {
			if q, err := ch.QueueDeclarePassive(ParkingQueue(c.cfg.Queue), true, false, false, false, nil); err == nil {
				g.Set(float64(q.Messages))
			}
			_ = ch.Close()
		}
		if !pause.For(ctx, parkingEvery) {
			return
		}
	}
}

// OutboxCollector reports gdb's outbox backlog (rows not yet published) and the age of the
// oldest of them, read at scrape time (the (published_at, id) index answers both).
func OutboxCollector(gdb *gorm.DB) prometheus.Collector { return &outboxCollector{gdb: gdb} }

type outboxCollector struct{ gdb *gorm.DB }

var (
	backlogDesc = prometheus.NewDesc(MetricBacklog, "Outbox rows not yet published.", nil, nil)
	oldestDesc  = prometheus.NewDesc(MetricOldestAge,
		"Age of the oldest outbox row not yet published, in seconds (0 when there is none).", nil, nil)
)

func (o *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- backlogDesc; ch <- oldestDesc }

func (o *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var row struct {
		N      int64
		Oldest *time.Time
	}
	err := o.gdb.WithContext(ctx).Raw(
		"SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox_messages WHERE published_at IS NULL").Scan(&row).Error
	if err != nil {
		return // the scrape goes on without them; /readyz says why
	}
	age := 0.0
	if row.Oldest != nil {
		age = max(0, time.Since(*row.Oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(row.N))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
}
