// Package metrics is every Prometheus series paysuite serves, defined once: the RED series of
// gRPC servers and clients and of HTTP servers, the leader lock's status, gauges read from a
// service's own tables at scrape time (SQLGauge), and the counters of features that live in
// pkg/ (transaction retries, reconciliation, anomalies). Each process serves its own registry
// (Registry) on its ops port; Catalog lists every series name, which the alert rules in
// deploy/observability are checked against.
//
// Label values are always from a small fixed set (a method name, a status code, a channel, a
// queue): nothing user- or order-specific ever becomes a label.
package metrics

import (
	"regexp"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes paysuite's own (business) series.
const Namespace = "paysuite"

// Registry is a process's metrics registry, with the Go runtime and process collectors and
// the shared feature series (Features) already registered. It remembers the name of every
// series registered on it (Names), so a test can check what a running service offers.
type Registry struct {
	*prometheus.Registry
	mu    sync.Mutex
	names map[string]bool
}

// NewRegistry returns a registry with the Go runtime, process and Features collectors.
func NewRegistry() *Registry {
	r := &Registry{Registry: prometheus.NewRegistry(), names: map[string]bool{}}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range features {
		r.MustRegister(c)
	}
	return r
}

// Register registers c and records its series names.
func (r *Registry) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	r.record(c)
	return nil
}

// MustRegister registers cs, panicking on a duplicate (a programming error).
func (r *Registry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *Registry) record(c prometheus.Collector) {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range ch {
		r.names[descName(d)] = true
	}
}

// Names is the sorted names of the series registered on r.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.names))
	for n := range r.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Catalog is the name of every paysuite series a service may register (the RED, leader,
// broker, outbox, table gauge and feature series, all named in this package), sorted. It
// does not list the Go runtime and process series, which come with every registry.
func Catalog() []string {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	out := make([]string, 0, len(catalog))
	for n := range catalog {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var (
	catalogMu sync.Mutex
	catalog   = map[string]bool{}
)

// declare adds names to the Catalog; every series definition in paysuite calls it (through
// the constructors of this package) at package init.
func declare(names ...string) {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	for _, n := range names {
		catalog[n] = true
	}
}

// The broker and outbox series pkg/amqpx defines.
const (
	AMQPDeliveries   = Namespace + "_amqp_deliveries_total"
	AMQPRedeliveries = Namespace + "_amqp_redeliveries_total"
	AMQPRetries      = Namespace + "_amqp_retries_total"
	AMQPParked       = Namespace + "_amqp_parked_total"
	AMQPParkedNow    = Namespace + "_amqp_parked_messages"
	OutboxPublished  = Namespace + "_outbox_published_total"
	OutboxBacklog    = Namespace + "_outbox_backlog"
	OutboxOldestAge  = Namespace + "_outbox_oldest_age_seconds"
)

func init() {
	declare(AMQPDeliveries, AMQPRedeliveries, AMQPRetries, AMQPParked, AMQPParkedNow, OutboxPublished, OutboxBacklog,
		OutboxOldestAge)
}

// descName is the fully-qualified name of d (client_golang does not export it).
func descName(d *prometheus.Desc) string {
	m := fqNameRE.FindStringSubmatch(d.String())
	if m == nil {
		return ""
	}
	return m[1]
}

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)
