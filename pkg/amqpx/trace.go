package amqpx

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/paysuite/paysuite/pkg/tracing"
)

// HeaderTraceparent is the W3C trace context header every message carries (CONTRACT.md): the
// relay writes the publish span's, each consumer continues it.
const HeaderTraceparent = "traceparent"

// tableCarrier reads and writes W3C trace context in AMQP headers.
type tableCarrier amqp.Table

func (c tableCarrier) Get(key string) string {
	v, _ := c[key].(string)
	return v
}

func (c tableCarrier) Set(key, value string) { c[key] = value }

func (c tableCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

var _ propagation.TextMapCarrier = tableCarrier{}

// startPublishSpan starts the producer span of row's publish, a child of the span that wrote
// the row (its trace_context), and puts its traceparent in msg's headers.
func startPublishSpan(row outboxRow, msg *amqp.Publishing) trace.Span {
	ctx := context.Background()
	if row.TraceContext != nil {
		ctx = tracing.WithTraceparent(ctx, *row.TraceContext)
	}
	dest := row.Exchange
	if dest == "" {
		dest = row.RoutingKey
	}
	ctx, span := tracing.Tracer().Start(ctx, "publish "+dest, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.system", "rabbitmq"),
			attribute.String("messaging.destination.name", dest),
			attribute.String("messaging.message.id", row.MessageID)))
	if msg.Headers == nil {
		msg.Headers = amqp.Table{}
	}
	tracing.Propagator.Inject(ctx, tableCarrier(msg.Headers))
	return span
}

// startConsumeSpan starts the consumer span of d on queue, a child of the span named by its
// traceparent header.
func startConsumeSpan(ctx context.Context, queue string, d amqp.Delivery) (context.Context, trace.Span) {
	if d.Headers != nil {
		ctx = tracing.Propagator.Extract(ctx, tableCarrier(d.Headers))
	}
	return tracing.Tracer().Start(ctx, "process "+queue, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.system", "rabbitmq"),
			attribute.String("messaging.destination.name", queue),
			attribute.String("messaging.message.id", d.MessageId)))
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
