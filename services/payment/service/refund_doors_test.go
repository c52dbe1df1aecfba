package service_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
)

// providerCalls counts the payment service's calls to the provider APIs, by kind, through a
// reverse proxy in front of the sandbox.
type providerCalls struct {
	URL string
	mu  sync.Mutex
	n   map[string]int
}

func countProviderCalls(t *testing.T, target string) *providerCalls {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	pc := &providerCalls{n: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := r.Method + " " + r.URL.Path
		switch {
		case r.URL.Path == "/gateway.do":
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			f, _ := url.ParseQuery(string(body))
			kind = f.Get("method")
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v3/refund/domestic/refunds/"):
			kind = "wechat.refund.query"
		case r.Method == http.MethodPost && r.URL.Path == "/v3/refund/domestic/refunds":
			kind = "wechat.refund"
		}
		pc.mu.Lock()
		pc.n[kind]++
		pc.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	pc.URL = srv.URL
	return pc
}

func (pc *providerCalls) count(kind string) int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.n[kind]
}

// viaCounter points both channels at a counting proxy in front of the sandbox.
func viaCounter(t *testing.T, pc **providerCalls) func(*service.Config) {
	return func(c *service.Config) {
		*pc = countProviderCalls(t, c.Alipay.BaseURL)
		c.Alipay.BaseURL, c.Wechat.BaseURL = (*pc).URL, (*pc).URL
	}
}

// refundQueries is how many refund queries the channel's provider received.
func (pc *providerCalls) refundQueries(ch paymentv1.Channel) int {
	if ch == paymentv1.Channel_ALIPAY_QR {
		return pc.count("alipay.trade.fastpay.refund.query")
	}
	return pc.count("wechat.refund.query")
}

func (pc *providerCalls) refundCalls(ch paymentv1.Channel) int {
	if ch == paymentv1.Channel_ALIPAY_QR {
		return pc.count("alipay.trade.refund")
	}
	return pc.count("wechat.refund")
}

var bothChannels = []paymentv1.Channel{paymentv1.Channel_ALIPAY_QR, paymentv1.Channel_WECHAT_NATIVE}

// paidOrder is an order of one hoodie (168.00) paid on ch.
func (e *env) paidOrder(ch paymentv1.Channel) (*orderv1.Order, *paymentv1.Payment) {
	e.t.Helper()
	o := e.order("goods-hoodie", 1)
	p := e.pay(o, ch)
	e.buyerPays(p.GetQrCode())
	e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
	return o, p
}

func (e *env) refund(p *paymentv1.Payment, fen int64, requestID string) *paymentv1.Refund {
	e.t.Helper()
	r, err := e.payments.RefundPayment(context.Background(), &paymentv1.RefundPaymentRequest{
		PaymentId: p.GetPaymentId(), AmountFen: fen, RequestId: requestID, Reason: "customer changed their mind"})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) waitRefund(id int64, want paymentv1.RefundStatus) *paymentv1.Refund {
	e.t.Helper()
	var r *paymentv1.Refund
	testkit.Eventually(e.t, wait, func() bool {
		var err error
		r, err = e.payments.GetRefund(context.Background(), &paymentv1.GetRefundRequest{RefundId: id})
		return err == nil && r.GetStatus() == want
	}, "refund %d never became %s (last %v)", id, want, testkit.Lazy(func() any { return r }))
	return r
}

// A refund that stays PROCESSING for a while and whose notify is lost still ends SUCCEEDED, by
// spaced refund queries: Alipay's refund query shows nothing until the refund went through, which
// is "not yet", never "failed", and nothing is submitted twice. PAYMENT_POLL_SCALE 0.01: the
// schedule's 1 min, 6 min … are 0.6 s, 3.6 s …, while a refund processing 2 s would have cost a
// tight loop dozens of queries.
func TestProcessingRefundWithALostNotifyEndsByQuery(t *testing.T) {
	var pc *providerCalls
	e := start(t, viaCounter(t, &pc))
	for _, ch := range bothChannels {
		t.Run(ch.String(), func(t *testing.T) {
			e := e.in(t)
			o, p := e.paidOrder(ch)
			queries, calls := pc.refundQueries(ch), pc.refundCalls(ch)
			e.faults(map[string]int{"refundProcessingMs": 2000, "dropNotifies": 1})
			t.Cleanup(func() { e.sandboxDo("DELETE", "/sandbox/faults", nil) })
			r := e.refund(p, 1000, "slow-1")
			if r.GetStatus() != paymentv1.RefundStatus_REFUND_PROCESSING {
				t.Fatalf("a refund the provider holds PROCESSING answered %s", r.GetStatus())
			}
			e.waitRefund(r.GetRefundId(), paymentv1.RefundStatus_REFUND_SUCCEEDED)
			e.waitRefundsSettled(p.GetPaymentId())
			e.wantRefunded(o, p, 1000)
			q, c := pc.refundQueries(ch)-queries, pc.refundCalls(ch)-calls
			// Load only delays the checks (the schedule is by the refund's age), so it can only
			// lower the count; a second call is the synchronous request meeting its own task.
			if c < 1 || c > 2 || q < 1 || q > 4 {
				t.Fatalf("%d refund calls and %d refund queries for a refund processing 2 s; want 1 call and a few spaced queries", c, q)
			}
		})
	}
}

// Refund notifies are a door of their own: with polling 100× slower than real life, a refund
// settles by its notify alone (WeChat REFUND.SUCCESS at /notify/wechat/refund; Alipay's refund
// fields on the trade's notify_url, which are a refund and never a second payment), and a
// REFUND.ABNORMAL notify opens an anomaly.
func TestRefundNotifiesSettleRefunds(t *testing.T) {
	var pc *providerCalls
	e := start(t, viaCounter(t, &pc), func(c *service.Config) { c.PollScale = 100 })
	for _, ch := range bothChannels {
		t.Run("success by notify "+ch.String(), func(t *testing.T) {
			e := e.in(t)
			o, p := e.paidOrder(ch)
			queries := pc.refundQueries(ch)
			// Alipay answers fund_change N while the refund processes: only its notify can tell.
			e.faults(map[string]int{"refundProcessingMs": 300})
			t.Cleanup(func() { e.sandboxDo("DELETE", "/sandbox/faults", nil) })
			r := e.refund(p, 1000, "by-notify")
			e.waitRefund(r.GetRefundId(), paymentv1.RefundStatus_REFUND_SUCCEEDED)
			e.waitRefundsSettled(p.GetPaymentId())
			e.wantRefunded(o, p, 1000)
			if q := pc.refundQueries(ch) - queries; q != 0 {
				t.Fatalf("%d refund queries: the refund should have settled by its notify", q)
			}
			if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_SUCCEEDED || got.GetAmountFen() != p.GetAmountFen() {
				t.Fatalf("after a partial refund's notify the payment is %v", got)
			}
			if n := e.count("SELECT COUNT(*) FROM notify_log WHERE out_trade_no = ? AND outcome = 'ACCEPTED'", p.GetOutTradeNo()); n != 2 {
				t.Fatalf("%d ACCEPTED notifies, want the payment's and the refund's", n)
			}
		})
	}
	t.Run("REFUND.ABNORMAL by notify", func(t *testing.T) {
		e := e.in(t)
		_, p := e.paidOrder(paymentv1.Channel_WECHAT_NATIVE)
		e.faults(map[string]int{"refundAbnormal": 1})
		t.Cleanup(func() { e.sandboxDo("DELETE", "/sandbox/faults", nil) })
		r := e.refund(p, 1000, "abnormal")
		testkit.Eventually(t, wait, func() bool { return len(e.anomalies(p.GetPaymentId())) == 1 },
			"REFUND.ABNORMAL opened no anomaly")
		if a := e.anomalies(p.GetPaymentId())[0]; a.GetKind() != "REFUND_ABNORMAL" || a.GetRefundId() != r.GetRefundId() {
			t.Fatalf("anomaly %v", a)
		}
		if got := e.waitRefund(r.GetRefundId(), paymentv1.RefundStatus_REFUND_PROCESSING); got == nil {
			t.Fatal("no refund")
		}
	})
}

// A refund reason longer than the provider takes (WeChat: 80 characters) is refused before
// anything is sent or reserved, never cut; 80 characters go through.
func TestRefundReasonOverTheProvidersLimit(t *testing.T) {
	e := start(t)
	o, p := e.paidOrder(paymentv1.Channel_WECHAT_NATIVE)
	ask := func(id string, chars int) (*paymentv1.Refund, error) {
		return e.payments.RefundPayment(context.Background(), &paymentv1.RefundPaymentRequest{
			PaymentId: p.GetPaymentId(), AmountFen: 100, RequestId: id, Reason: strings.Repeat("退", chars)})
	}
	_, err := ask("reason-81", 81)
	wantCode(t, err, "InvalidArgument")
	if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ?", p.GetPaymentId()); n != 0 {
		t.Fatalf("a refused refund left %d refund rows", n)
	}
	r, err := ask("reason-80", 80)
	if err != nil {
		t.Fatalf("an 80-character reason: %v", err)
	}
	e.waitRefund(r.GetRefundId(), paymentv1.RefundStatus_REFUND_SUCCEEDED)
	e.waitRefundsSettled(p.GetPaymentId())
	e.wantRefunded(o, p, 100)
}
