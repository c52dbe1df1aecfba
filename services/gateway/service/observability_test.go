package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/cli"
	"github.com/paysuite/paysuite/pkg/metrics"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// scrape reads name's /metrics with the Prometheus text parser.
func (s *stack) scrape(t *testing.T, name string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := s.client.Get("http://" + s.opsAddrs[name] + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", name, err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s's /metrics: %v", name, err)
	}
	return mfs
}

// sample is the value of family name's series with exactly labels (name=value pairs), or -1.
func sample(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && have[labels[i]] == labels[i+1]
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// After one purchase, one refused notify and one parked message, each service's /metrics
// (parsed, not grepped) shows them; and every series paysuite defines (metrics.Catalog, what
// the alert rules may name) is served by some service.
func TestMetricsShowAPurchaseARefusedNotifyAndAParkedMessage(t *testing.T) {
	s := startStack(t, withOps())
	user := testkit.UniqueName("buyer")
	b := s.asUser(user)
	order := b.expect(t, b.do(t, "POST", "/v1/orders", map[string]any{"userId": user, "requestId": "m-1",
		"items": []map[string]any{{"skuId": "course-go-concurrency", "quantity": 1}}}), 200, "order a course")
	orderID := order.str("orderId")
	pay := b.expect(t, b.do(t, "POST", "/v1/orders/"+orderID+"/payments", map[string]any{"channel": "ALIPAY_QR"}), 200, "pay")
	b.expect(t, b.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": pay.str("qrCode")}), 200, "sandbox buyer pays")
	testkit.Eventually(t, 30*time.Second, func() bool {
		return b.do(t, "GET", "/v1/orders/"+orderID, nil).str("status") == "PAID"
	}, "order %s never became PAID", orderID)

	// A notify that fails verification is refused (and answered "failure").
	resp, err := http.PostForm(s.notifyURL+"/notify/alipay", url.Values{"out_trade_no": {"nope"}, "sign": {"forged"},
		"sign_type": {"RSA2"}, "trade_status": {"TRADE_SUCCESS"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// A payment result not published by the payment service's broker user is parked unhandled.
	const courseQueue = "paysuite.course.payment-results"
	ch := testkit.AMQPChannel(t, s.infra.AdminAMQPURL())
	if err := ch.PublishWithContext(context.Background(), "", courseQueue, false, false,
		amqp.Publishing{MessageId: testkit.UniqueName("forged"), Body: []byte("x"), DeliveryMode: amqp.Persistent}); err != nil {
		t.Fatal(err)
	}

	testkit.Eventually(t, 30*time.Second, func() bool {
		return sample(s.scrape(t, tlsx.Course), amqpx.MetricParked, "queue", courseQueue) == 1
	}, "the forged message was never counted as parked")
	testkit.Eventually(t, 30*time.Second, func() bool {
		return sample(s.scrape(t, tlsx.Course), amqpx.MetricParkedNow, "queue", courseQueue) == 1
	}, "the parking queue's depth never showed the parked message")

	payment := s.scrape(t, tlsx.Payment)
	order2 := s.scrape(t, tlsx.Order)
	course := s.scrape(t, tlsx.Course)
	gateway := s.scrape(t, tlsx.Gateway)
	checks := []struct {
		what string
		got  float64
		want float64
	}{
		{"accepted Alipay notifies", sample(payment, metrics.NotifiesName, "channel", "ALIPAY_QR", "result", "accepted"), 1},
		{"refused Alipay notifies", sample(payment, metrics.NotifiesName, "channel", "ALIPAY_QR", "result", "refused"), 1},
		{"succeeded Alipay payments", sample(payment, metrics.Payments.Name, "channel", "ALIPAY_QR", "status", "SUCCEEDED"), 1},
		{"payments waiting past expiry", sample(payment, metrics.PaymentsWaitingExpired.Name), 0},
		{"CreatePayment calls served", sample(payment, metrics.GRPCServerHandled, "grpc_service", "paysuite.payment.v1.PaymentService",
			"grpc_method", "CreatePayment", "grpc_code", "OK"), 1},
		{"payment's outbox backlog", sample(payment, amqpx.MetricBacklog), 0},
		{"payment's relay is the leader", sample(payment, metrics.LeaderName, "lock", "amqpx_relay"), 1},
		{"paid orders", sample(order2, metrics.Orders.Name, "status", "PAID"), 1},
		{"course deliveries (the result and the forgery)", sample(course, amqpx.MetricDeliveries, "queue", courseQueue), 2},
		{"gateway order creations", sample(gateway, metrics.HTTPRequests, "server", "gateway", "route", "POST /v1/orders", "code", "200"), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if got := sample(payment, amqpx.MetricPublished); got < 1 {
		t.Errorf("payment published %v outbox rows, want at least the SUCCEEDED result", got)
	}

	t.Run("the paysuite CLI as admin", func(t *testing.T) { cliAgainstTheSuite(t, s, orderID, pay.str("paymentId")) })

	served := map[string]bool{}
	for _, name := range []string{tlsx.Order, tlsx.Payment, tlsx.Notification, tlsx.Course, tlsx.Gateway} {
		for n := range s.scrape(t, name) {
			served[strings.TrimSuffix(n, "_total")] = true
			served[n] = true
		}
	}
	var missing []string
	for _, n := range metrics.Catalog() {
		if !served[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("series in metrics.Catalog that no service serves: %v", missing)
	}
}

// cliAgainstTheSuite runs bin/paysuite's commands against the running services over mutual TLS
// as admin: what it shows is what the services hold, and a missing or malformed id says so with
// the documented exit code.
func cliAgainstTheSuite(t *testing.T, s *stack, orderID, paymentID string) {
	paysuite := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		args = append([]string{"--tls-dir", s.infra.TLSDir(), "--order-addr", s.grpcAddrs[tlsx.Order],
			"--payment-addr", s.grpcAddrs[tlsx.Payment], "--notification-addr", s.grpcAddrs[tlsx.Notification]}, args...)
		code := cli.Execute(args, strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	var got map[string]any
	code, out, errOut := paysuite("order", "get", orderID, "-o", "json")
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got["status"] != "PAID" || got["paymentId"] != paymentID {
		t.Fatalf("order get: exit %d: %s %s", code, out, errOut)
	}
	code, out, errOut = paysuite("payment", "get", paymentID)
	if code != 0 || !strings.Contains(out, "SUCCEEDED") || !strings.Contains(out, "ALIPAY_QR") {
		t.Fatalf("payment get: exit %d: %s %s", code, out, errOut)
	}
	if code, _, errOut := paysuite("order", "get", "123456789"); code != 1 || !strings.Contains(errOut, "NotFound") {
		t.Fatalf("order get of an unknown order: exit %d: %s", code, errOut)
	}
	if code, _, errOut := paysuite("payment", "get", "x1"); code != 2 {
		t.Fatalf("payment get x1: exit %d: %s", code, errOut)
	}
	code, out, errOut = paysuite("anomalies", "-o", "json")
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("anomalies: exit %d: %s %s", code, out, errOut)
	}
}
