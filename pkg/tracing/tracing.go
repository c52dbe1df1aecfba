// Package tracing is paysuite's OpenTelemetry set-up: one trace follows a purchase from the
// gateway through order and payment (gRPC), the provider call and notify (HTTP), the outbox
// row (its trace_context column), the broker message (the W3C `traceparent` header) and every
// consumer.
//
// Spans are always made, so trace and span ids reach the logs (pkg/logging) and the broker
// even when nothing is exported; they are exported over OTLP/HTTP only when
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Instrumented code
// uses the global tracer provider, which Setup installs in a process and a test may replace
// with one over an in-memory exporter.
package tracing

import (
	"context"
	"errors"
	"net/http"
	"os"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Propagator is the W3C trace context, the only format paysuite reads and writes (gRPC
// metadata, HTTP headers, outbox rows, broker headers).
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Exporting reports whether the environment asks for OTLP export.
func Exporting() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs the process's tracer provider for service and the W3C propagator, and returns
// the function that flushes and stops it. With OTLP export configured, spans are batched to the
// collector; without, they are made (for their ids) and dropped.
func Setup(ctx context.Context, service string) (func(context.Context) error, error) {
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(service)))
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if Exporting() {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, errors.Join(errors.New("OTEL_EXPORTER_OTLP_ENDPOINT"), err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator)
	return tp.Shutdown, nil
}

// Tracer is paysuite's tracer from the global provider.
func Tracer() trace.Tracer { return otel.Tracer("github.com/paysuite/paysuite") }

// Traceparent is the W3C traceparent of ctx's span, or "" without a valid one.
func Traceparent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	Propagator.Inject(ctx, c)
	return c["traceparent"]
}

// WithTraceparent returns ctx carrying the remote span context tp names (ctx unchanged when tp
// is empty or malformed).
func WithTraceparent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
}

// Handler wraps an HTTP server's handler: each request is a server span named after the server
// (operation), continuing the caller's trace when its request carries a traceparent.
func Handler(h http.Handler, operation string) http.Handler {
	return otelhttp.NewHandler(h, operation, otelhttp.WithPropagators(Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return r.Method + " " + operation
		}))
}

// Transport wraps an HTTP client's transport: each request is a client span whose context
// travels in the traceparent header (the provider calls).
func Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return otelhttp.NewTransport(next, otelhttp.WithPropagators(Propagator))
}
