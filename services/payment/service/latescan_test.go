package service_test

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
)

// realAlipayClose stands between the payment service and the sandbox's Alipay gateway and
// answers alipay.trade.close for the trades marked unscanned the way the real gateway does:
// ACQ.TRADE_NOT_EXIST, and the QR stays payable until its time_expire. (The sandbox answers
// the same code but also kills the QR, so on its own it cannot show a late scan.) Everything
// else goes to the sandbox unchanged.
type realAlipayClose struct {
	proxy *httputil.ReverseProxy
	key   *rsa.PrivateKey // the Alipay platform key, to sign the answer like the gateway
	t     *testing.T

	mu        sync.Mutex
	unscanned map[string]bool
}

// withRealAlipayClose points the payment service's Alipay channel at a realAlipayClose in
// front of the sandbox.
func withRealAlipayClose(t *testing.T, gw **realAlipayClose) func(*service.Config) {
	return func(c *service.Config) {
		target, err := url.Parse(c.Alipay.BaseURL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(c.MerchantFile), "sandbox.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Alipay string `json:"alipayPlatformPrivateKey"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		g := &realAlipayClose{proxy: httputil.NewSingleHostReverseProxy(target), key: parseKey(t, s.Alipay), t: t, unscanned: map[string]bool{}}
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		c.Alipay.BaseURL = srv.URL
		*gw = g
	}
}

func (g *realAlipayClose) set(outTradeNo string, unscanned bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unscanned[outTradeNo] = unscanned
}

func (g *realAlipayClose) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	var biz struct {
		OutTradeNo string `json:"out_trade_no"`
	}
	_ = json.Unmarshal([]byte(form.Get("biz_content")), &biz)
	g.mu.Lock()
	swallow := form.Get("method") == "alipay.trade.close" && g.unscanned[biz.OutTradeNo]
	g.mu.Unlock()
	if !swallow {
		g.proxy.ServeHTTP(w, r)
		return
	}
	inner := `{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}`
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	_, _ = io.WriteString(w, `{"alipay_trade_close_response":`+inner+`,"sign":"`+rsaSign(g.t, g.key, inner)+`"}`)
}

// Alipay gap: a close of an unscanned precreate trade closes nothing at the real gateway, so
// the attempt is watched until its expiry (+ a margin) instead of being forgotten at the close.
func TestClosedUnscannedAlipayTradeIsStillWatched(t *testing.T) {
	var gw *realAlipayClose
	e := start(t, withRealAlipayClose(t, &gw))
	ctx := t.Context()

	cancelWithAlipayAttempt := func(t *testing.T) (*orderv1.Order, *paymentv1.Payment) {
		o := e.order("goods-sticker-pack", 1)
		p := e.pay(o, paymentv1.Channel_ALIPAY_QR)
		gw.set(p.GetOutTradeNo(), true)
		if got, err := e.orders.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()}); err != nil || got.GetStatus() != orderv1.OrderStatus_CANCELLED {
			t.Fatalf("cancel = %v, %v", got, err)
		}
		if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_CLOSED {
			t.Fatalf("after the cancel the attempt is %s, want CLOSED", got.GetStatus())
		}
		return o, p
	}

	t.Run("scanned and paid after the close, notify lost: found by polling and refunded", func(t *testing.T) {
		e.t = t
		o, p := cancelWithAlipayAttempt(t)
		e.faults(map[string]int{"dropNotifies": 1})
		e.buyerPays(p.GetQrCode()) // the real gateway still takes the money
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
		if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND auto AND reason = 'ORDER_CANCELLED' AND status = 'SUCCEEDED'", p.GetPaymentId()); n != 1 {
			t.Fatalf("%d ORDER_CANCELLED refunds, want 1", n)
		}
		if n := e.notifies(p.GetOutTradeNo()); len(n) != 0 {
			t.Fatalf("no notify was sent, yet the log has %v", n)
		}
		testkit.Eventually(t, wait, func() bool { return e.getOrder(o.GetOrderId()).GetRefundedFen() == o.GetTotalFen() },
			"the cancelled order never showed the refund")
		if got := e.getOrder(o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_CANCELLED {
			t.Fatalf("order is %s, want CANCELLED", got.GetStatus())
		}
	})

	t.Run("scanned after the close but not paid yet: closed for real", func(t *testing.T) {
		e.t = t
		_, p := cancelWithAlipayAttempt(t)
		resp, err := http.Get(p.GetQrCode()) // the buyer opens the QR: the trade now exists at the gateway
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		gw.set(p.GetOutTradeNo(), false)
		testkit.Eventually(t, wait, func() bool {
			return e.count("SELECT COUNT(*) FROM tasks WHERE kind = 'poll-trade' AND ref_id = ?", p.GetPaymentId()) == 0
		}, "the watch never confirmed the close")
		if code := buyerTriesToPay(e.sandbox.URL, p.GetQrCode()); code != http.StatusConflict {
			t.Fatalf("paying the scanned QR of a cancelled order: HTTP %d, want 409", code)
		}
		if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_CLOSED {
			t.Fatalf("payment is %s, want CLOSED", got.GetStatus())
		}
	})
}

// The watch of a closed attempt ends once the trade has expired at the provider (+ the margin):
// no attempt is polled forever.
func TestWatchOfAClosedAttemptEndsAfterItsExpiry(t *testing.T) {
	var gw *realAlipayClose
	e := start(t, withRealAlipayClose(t, &gw), func(c *service.Config) {
		c.OrderPayTimeout, c.ProviderTradeTimeout = time.Hour, 2*time.Second
	})
	o := e.order("goods-sticker-pack", 1)
	p := e.pay(o, paymentv1.Channel_ALIPAY_QR)
	gw.set(p.GetOutTradeNo(), true) // the expiry close is answered TRADE_NOT_EXIST
	e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_CLOSED)
	testkit.Eventually(t, wait, func() bool {
		return e.count("SELECT COUNT(*) FROM tasks WHERE kind = 'poll-trade' AND ref_id = ?", p.GetPaymentId()) == 0
	}, "the closed attempt is still polled long after its expiry")
	if !time.Now().After(p.GetExpireAt().AsTime()) {
		t.Fatalf("polling stopped before the trade expired at %s", p.GetExpireAt().AsTime())
	}
}
