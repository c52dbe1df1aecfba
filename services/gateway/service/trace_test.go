package service_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/paysuite/paysuite/pkg/testkit"
)

// One purchase is one trace: the client's request to pay, through the gateway, the payment
// service (and its call to the order service), the provider call, the provider's notify (the
// sandbox hands the trace context back, as no real provider does), the outbox row and the
// broker message, to the order, course and notification consumers — each span's parent in the
// same trace, across the broker.
func TestOnePurchaseIsOneTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); _ = tp.Shutdown(context.Background()) })

	s := startStack(t)
	user := testkit.UniqueName("buyer")
	b := s.asUser(user)
	order := b.expect(t, b.do(t, "POST", "/v1/orders", map[string]any{"userId": user, "requestId": "t-1",
		"items": []map[string]any{{"skuId": "course-go-concurrency", "quantity": 1}}}), 200, "order a course")
	orderID := order.str("orderId")

	// The buyer's app starts the trace and sends it with the request to pay.
	ctx, root := otel.Tracer("test").Start(context.Background(), "buyer pays")
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	pay := b.expect(t, b.do(t, "POST", "/v1/orders/"+orderID+"/payments", map[string]any{"channel": "ALIPAY_QR"},
		"traceparent", carrier["traceparent"]), 200, "pay")
	root.End()
	b.expect(t, b.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": pay.str("qrCode")}), 200, "sandbox buyer pays")
	testkit.Eventually(t, 30*time.Second, func() bool {
		return b.do(t, "GET", "/v1/orders/"+orderID, nil).str("status") == "PAID"
	}, "order %s never became PAID", orderID)

	traceID := root.SpanContext().TraceID()
	want := []string{
		"POST gateway", // the gateway's server span
		"paysuite.payment.v1.PaymentService/CreatePayment",
		"paysuite.order.v1.OrderService/GetOrder",
		"POST /notify/alipay", // the provider's notify at the payment service
		"publish paysuite.payment.results",
		"process paysuite.order.payment-results",
		"process paysuite.course.payment-results",
		"process paysuite.notification.payment-results",
	}
	spans := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	names := func() []string {
		for _, sp := range exp.GetSpans().Snapshots() {
			if sp.SpanContext().TraceID() == traceID {
				spans[sp.SpanContext().SpanID()] = sp
			}
		}
		var out []string
		for _, sp := range spans {
			out = append(out, sp.Name())
		}
		sort.Strings(out)
		return out
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("spans of the trace %s: %q", traceID, names())
		}
	})
	testkit.Eventually(t, 30*time.Second, func() bool {
		have := strings.Join(names(), "\n") + "\n"
		for _, w := range want {
			if !strings.Contains(have, w+"\n") {
				return false
			}
		}
		return true
	}, "trace lacks spans: want %v", want)

	// Every span but the root has its parent in the trace: nothing was cut off on the way.
	var provider bool
	for _, sp := range spans {
		if sp.SpanContext().SpanID() == root.SpanContext().SpanID() {
			continue
		}
		if _, ok := spans[sp.Parent().SpanID()]; !ok && sp.Parent().SpanID() != root.SpanContext().SpanID() {
			t.Errorf("span %q's parent %s is not in the trace", sp.Name(), sp.Parent().SpanID())
		}
		if sp.SpanKind() == trace.SpanKindClient && strings.Contains(sp.Name(), http.MethodPost) {
			provider = true // the gopay call to the provider (otelhttp's client span)
		}
	}
	if !provider {
		t.Errorf("no provider call among the trace's spans: %v", names())
	}
}
