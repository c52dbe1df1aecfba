package amqpx_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/logging"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// recordSpans installs a tracer provider over an in-memory exporter for the test.
func recordSpans(t *testing.T) *tracetest.InMemoryExporter {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); _ = tp.Shutdown(context.Background()) })
	return exp
}

// A message written to the outbox inside a span is handled inside a span of the same trace:
// writer span → relay's publish span (from the row's trace_context) → consumer span (from the
// message's traceparent header); a log line written by the handler carries the trace id.
func TestOneTraceCrossesTheOutboxAndTheBroker(t *testing.T) {
	exp := recordSpans(t)
	const queue = "test.traced"
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	conn := dial(t, url)
	var logs syncBuffer
	log := logging.NewTo(&logs, "test", "info")

	handled := make(chan trace.SpanContext, 1)
	headers := make(chan amqp.Table, 1)
	testkit.Go(t, func(ctx context.Context) error {
		return amqpx.Consume(ctx, conn, gdb, amqpx.ConsumerConfig{Name: "test", Queue: queue},
			func(ctx context.Context, d amqpx.Delivery) error {
				log.InfoContext(ctx, "handled in the consumer")
				headers <- d.Headers
				handled <- trace.SpanContextFromContext(ctx)
				return nil
			}, testkit.Logger(t))
	})
	testkit.WaitForConsumer(t, url, queue)
	startRelay(t, gdb, conn)

	ctx, root := otel.Tracer("test").Start(context.Background(), "purchase")
	err := db.WithTx(ctx, gdb, func(ctx context.Context, _ *gorm.DB) error {
		return amqpx.AddToOutbox(ctx, gdb, amqpx.Message{ID: "traced-1", RoutingKey: queue, Body: []byte("x")})
	})
	root.End()
	if err != nil {
		t.Fatal(err)
	}

	var got trace.SpanContext
	select {
	case got = <-handled:
	case <-time.After(waitLong):
		t.Fatal("message never handled")
	}
	if h := <-headers; h[amqpx.HeaderTraceparent] == nil {
		t.Errorf("message headers %v lack %s", h, amqpx.HeaderTraceparent)
	}
	if got.TraceID() != root.SpanContext().TraceID() {
		t.Fatalf("consumer ran in trace %s, want the writer's %s", got.TraceID(), root.SpanContext().TraceID())
	}
	// The chain of parents: consumer span → publish span → the writer's span.
	spans := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	testkit.Eventually(t, waitLong, func() bool {
		for _, s := range exp.GetSpans().Snapshots() {
			spans[s.SpanContext().SpanID()] = s
		}
		_, ok := spans[got.SpanID()]
		return ok
	}, "consumer span not exported")
	consume := spans[got.SpanID()]
	publish, ok := spans[consume.Parent().SpanID()]
	if consume.SpanKind() != trace.SpanKindConsumer || !ok || publish.SpanKind() != trace.SpanKindProducer {
		t.Fatalf("consumer span %q's parent is not the relay's publish span", consume.Name())
	}
	if publish.Parent().SpanID() != root.SpanContext().SpanID() {
		t.Fatalf("publish span's parent %s, want the writer's span %s", publish.Parent().SpanID(), root.SpanContext().SpanID())
	}
	if line := logs.String(); !strings.Contains(line, `"trace_id":"`+root.SpanContext().TraceID().String()+`"`) ||
		!strings.Contains(line, `"span_id":"`+got.SpanID().String()+`"`) {
		t.Fatalf("handler's log line lacks its trace and span ids: %s", line)
	}
}

// The consumer counts deliveries, redeliveries (retry copies) and parked messages per queue,
// and keeps the parking queue's depth; the relay counts what it published.
func TestConsumerAndRelaySeries(t *testing.T) {
	const queue = "test.counted"
	url := testkit.AMQPURL(t)
	gdb := openDB(t)
	conn := dial(t, url)
	reg := prometheus.NewRegistry()
	m := amqpx.NewMetrics(reg)
	reg.MustRegister(amqpx.OutboxCollector(gdb))
	h := newScripted(gdb)
	testkit.Go(t, func(ctx context.Context) error {
		return amqpx.Consume(ctx, conn, gdb, amqpx.ConsumerConfig{Name: "test", Queue: queue, MaxAttempts: 2,
			RetryBackoff: 10 * time.Millisecond, Metrics: m}, h.handle, testkit.Logger(t))
	})
	testkit.WaitForConsumer(t, url, queue)
	if v := value(t, reg, amqpx.MetricBacklog, ""); v != 0 {
		t.Fatalf("backlog before anything was written = %v", v)
	}
	relay := amqpx.NewRelay(gdb, conn, testkit.Logger(t), amqpx.WithPollInterval(50*time.Millisecond), amqpx.WithRelayMetrics(m))
	for _, msg := range []amqpx.Message{{ID: "ok-1", RoutingKey: queue, Body: []byte("ok")},
		{ID: "always-1", RoutingKey: queue, Body: []byte("always")}} {
		if err := amqpx.AddToOutbox(context.Background(), gdb, msg); err != nil {
			t.Fatal(err)
		}
	}
	if v := value(t, reg, amqpx.MetricBacklog, ""); v != 2 {
		t.Fatalf("backlog with two rows unpublished = %v", v)
	}
	if v := value(t, reg, amqpx.MetricOldestAge, ""); v <= 0 {
		t.Fatalf("oldest unpublished row's age = %v, want > 0", v)
	}
	testkit.Go(t, relay.Run)
	testkit.Eventually(t, waitLong, func() bool { return value(t, reg, amqpx.MetricParked, queue) == 1 }, "nothing parked")
	// ok-1 once; always-1 twice (the first try and its retry copy, which is the redelivery).
	if d, r := value(t, reg, amqpx.MetricDeliveries, queue), value(t, reg, amqpx.MetricRedeliveries, queue); d != 3 || r != 1 {
		t.Fatalf("deliveries %v, redeliveries %v; want 3 and 1", d, r)
	}
	if v := value(t, reg, amqpx.MetricPublished, ""); v != 2 {
		t.Fatalf("published %v, want 2", v)
	}
	if v := value(t, reg, amqpx.MetricBacklog, ""); v != 0 {
		t.Fatalf("backlog after publishing = %v", v)
	}
}

// value is the sample of name (with queue label q, when not empty) in reg.
func value(t *testing.T, reg *prometheus.Registry, name, q string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if q != "" && labelOf(m, "queue") != q {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return -1
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
