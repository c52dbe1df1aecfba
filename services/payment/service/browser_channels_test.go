package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
)

// returnURL is where the tests' buyers come back to; the allowlist holds its directory.
const (
	returnAllowlist = "https://shop.example/pay/"
	returnURL       = "https://shop.example/pay/result"
	testOpenID      = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	testClientIP    = "203.0.113.7"
)

func withReturnAllowlist(c *service.Config) { c.ReturnURLAllowlist = returnAllowlist }

var browserChannels = []paymentv1.Channel{
	paymentv1.Channel_ALIPAY_PAGE, paymentv1.Channel_ALIPAY_WAP, paymentv1.Channel_WECHAT_JSAPI, paymentv1.Channel_WECHAT_H5,
}

// TestBrowserChannelsPayCloseRefund takes each of the four new channels through the whole life
// with the real gopay clients against the sandbox: create (the checkout fits the channel), pay as
// the buyer's browser or WeChat client would, notify, order PAID, a full refund settled
// everywhere; a second attempt closed and no longer payable; a payment whose notify is dropped
// found by polling.
func TestBrowserChannelsPayCloseRefund(t *testing.T) {
	e := start(t, withReturnAllowlist)
	ctx := context.Background()
	for _, ch := range browserChannels {
		t.Run(ch.String(), func(t *testing.T) {
			e := e.in(t)
			o := e.order("goods-hoodie", 1)
			p := e.payOn(o, ch)
			e.wantCheckout(p)
			again := e.payOn(o, ch)
			if again.GetPaymentId() != p.GetPaymentId() || again.GetOutTradeNo() != p.GetOutTradeNo() {
				t.Fatalf("asking again while WAITING gave another attempt: %v vs %v", again, p)
			}
			e.wantCheckout(again) // fresh, and payable: the buyer pays the second one

			code, ans := e.buyerPaysCheckout(again)
			if code != http.StatusOK {
				t.Fatalf("buyer pays: HTTP %d %s", code, ans.Error)
			}
			paid := e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
			if paid.GetProviderTradeNo() == "" || paid.GetPaidAt() == nil || paid.GetPayUrl() != "" || paid.GetJsapiParams() != nil {
				t.Fatalf("paid payment %v", paid)
			}
			e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
			// The provider's notify reaches the provider's one endpoint and verifies for this channel
			// (DUPLICATE when the poller, asking at once under PAYMENT_POLL_SCALE 0.01, was first).
			var n map[string]int
			testkit.Eventually(t, wait, func() bool {
				n = e.notifies(p.GetOutTradeNo())
				return n["ACCEPTED"]+n["DUPLICATE"] >= 1
			}, "no verified notify for %s: %v", ch, testkit.Lazy(func() any { return n }))
			if n["REFUSED"] != 0 || n["ACCEPTED"] > 1 {
				t.Fatalf("notify log %v: want the notify verified, and accepted at most once", n)
			}
			if strings.HasPrefix(ch.String(), "ALIPAY") {
				// The browser is sent back with Alipay's signed parameters; they name this payment.
				if !strings.HasPrefix(ans.ReturnURL, returnURL+"?") {
					t.Fatalf("sandbox sends the browser to %q, want %s?…", ans.ReturnURL, returnURL)
				}
				got, err := e.payments.VerifyReturn(ctx, &paymentv1.VerifyReturnRequest{Query: queryOf(t, ans.ReturnURL)})
				if err != nil || got.GetPaymentId() != p.GetPaymentId() || got.GetStatus() != paymentv1.PaymentStatus_SUCCEEDED {
					t.Fatalf("VerifyReturn = %v, %v", got, err)
				}
			}

			r, err := e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(),
				AmountFen: p.GetAmountFen(), RequestId: "full-" + ch.String(), Reason: "test"})
			if err != nil {
				t.Fatalf("refund: %v", err)
			}
			testkit.Eventually(t, wait, func() bool {
				got, err := e.payments.GetRefund(ctx, &paymentv1.GetRefundRequest{RefundId: r.GetRefundId()})
				return err == nil && got.GetStatus() == paymentv1.RefundStatus_REFUND_SUCCEEDED
			}, "the refund never succeeded")
			e.waitRefundsSettled(p.GetPaymentId())
			e.wantRefunded(o, p, p.GetAmountFen())
			e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_REFUNDED)

			// Close: a second order's attempt, opened by the buyer (an Alipay trade exists only
			// once the buyer logged in on the cashier), closed, then refused by the provider.
			o2 := e.order("goods-sticker-pack", 1)
			p2 := e.payOn(o2, ch)
			e.buyerOpens(p2)
			res, err := e.payments.ClosePayments(ctx, &paymentv1.ClosePaymentsRequest{OrderId: o2.GetOrderId()})
			if err != nil || len(res.GetClosed()) != 1 || res.GetPaidPayment() != nil {
				t.Fatalf("ClosePayments = %v, %v", res, err)
			}
			if got := e.payment(p2.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_CLOSED {
				t.Fatalf("closed attempt is %s", got.GetStatus())
			}
			// Refused: 409 (WeChat; Alipay's cashier when already open) or 400 ACQ.TRADE_HAS_CLOSE
			// (Alipay's gateway refusing the payUrl of a closed trade).
			if code, ans := e.buyerPaysCheckout(p2); code != http.StatusConflict && code != http.StatusBadRequest {
				t.Fatalf("paying the closed trade: HTTP %d %+v, want it refused", code, ans)
			}
			if got := e.payment(p2.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_CLOSED {
				t.Fatalf("closed attempt is %s after the buyer tried to pay", got.GetStatus())
			}

			// Notify dropped: the poller finds the payment.
			o3 := e.order("goods-sticker-pack", 2)
			p3 := e.payOn(o3, ch)
			e.faults(map[string]int{"dropNotifies": 1})
			if code, ans := e.buyerPaysCheckout(p3); code != http.StatusOK {
				t.Fatalf("buyer pays: HTTP %d %s", code, ans.Error)
			}
			e.waitPaymentStatus(p3.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
			e.waitOrderStatus(o3.GetOrderId(), orderv1.OrderStatus_PAID)
			if n := e.notifies(p3.GetOutTradeNo()); n["ACCEPTED"] != 0 {
				t.Fatalf("notify log %v: the dropped notify was accepted, so polling was not what found the payment", n)
			}
		})
	}
}

// TestBrowserChannelsRefuseBadInput: what a channel cannot serve is refused before anything is
// stored or sent to the provider.
func TestBrowserChannelsRefuseBadInput(t *testing.T) {
	e := start(t, withReturnAllowlist)
	ctx := context.Background()
	o := e.order("goods-sticker-pack", 1)
	for _, tc := range []struct {
		name string
		req  *paymentv1.CreatePaymentRequest
	}{
		{"JSAPI without openId", &paymentv1.CreatePaymentRequest{Channel: paymentv1.Channel_WECHAT_JSAPI}},
		{"H5 without client IP", &paymentv1.CreatePaymentRequest{Channel: paymentv1.Channel_WECHAT_H5}},
		{"H5 with a client IP that is none", &paymentv1.CreatePaymentRequest{Channel: paymentv1.Channel_WECHAT_H5, ClientIp: "localhost"}},
		{"returnUrl on another host", &paymentv1.CreatePaymentRequest{Channel: paymentv1.Channel_ALIPAY_PAGE, ReturnUrl: "https://evil.example/pay/result"}},
		{"returnUrl on a look-alike host", &paymentv1.CreatePaymentRequest{Channel: paymentv1.Channel_ALIPAY_WAP, ReturnUrl: "https://shop.example.evil.example/pay/result"}},
		{"returnUrl outside the allowed path", &paymentv1.CreatePaymentRequest{Channel: paymentv1.Channel_ALIPAY_PAGE, ReturnUrl: "https://shop.example/account"}},
		{"returnUrl climbing out of the allowed path", &paymentv1.CreatePaymentRequest{Channel: paymentv1.Channel_WECHAT_H5, ClientIp: testClientIP, ReturnUrl: "https://shop.example/pay/../account"}},
		{"returnUrl over http", &paymentv1.CreatePaymentRequest{Channel: paymentv1.Channel_ALIPAY_PAGE, ReturnUrl: "http://shop.example/pay/result"}},
		{"returnUrl with credentials", &paymentv1.CreatePaymentRequest{Channel: paymentv1.Channel_ALIPAY_PAGE, ReturnUrl: "https://shop.example@evil.example/pay/result"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.OrderId = o.GetOrderId()
			_, err := e.payments.CreatePayment(ctx, tc.req)
			wantCode(t, err, "InvalidArgument")
		})
	}
	if n := e.count("SELECT COUNT(*) FROM payments WHERE order_id = ?", o.GetOrderId()); n != 0 {
		t.Fatalf("%d attempts stored by refused requests", n)
	}
	if n := len(e.sandboxTrades()); n != 0 {
		t.Fatalf("the provider saw %d trades from refused requests", n)
	}
}

// TestForgedAlipayReturnChangesNothing: a return URL whose parameters were tampered with (the
// amount, a trade_status added, another trade's number) does not verify; it shows nothing and
// changes nothing. A genuine one proves only that the buyer came back.
func TestForgedAlipayReturnChangesNothing(t *testing.T) {
	e := start(t, withReturnAllowlist, func(c *service.Config) { c.PollScale = 100 }) // only the return could speed things up
	ctx := context.Background()
	paidOrder := e.order("goods-sticker-pack", 1)
	paid := e.payOn(paidOrder, paymentv1.Channel_ALIPAY_PAGE)
	e.faults(map[string]int{"dropNotifies": 1}) // nothing but the return's query can record it soon
	code, ans := e.buyerPaysCheckout(paid)
	if code != http.StatusOK {
		t.Fatalf("buyer pays: HTTP %d %s", code, ans.Error)
	}
	genuine, err := url.ParseQuery(queryOf(t, ans.ReturnURL))
	if err != nil {
		t.Fatal(err)
	}
	unpaidOrder := e.order("goods-sticker-pack", 2)
	unpaid := e.payOn(unpaidOrder, paymentv1.Channel_ALIPAY_PAGE)

	alipayKey, _ := e.platformSecrets()
	tamper := func(f func(url.Values)) string {
		v := url.Values{}
		for k, vs := range genuine {
			v[k] = append([]string(nil), vs...)
		}
		f(v)
		return v.Encode()
	}
	for name, q := range map[string]string{
		"amount raised":        tamper(func(v url.Values) { v.Set("total_amount", "9999.00") }),
		"trade_status added":   tamper(func(v url.Values) { v.Set("trade_status", "TRADE_SUCCESS") }),
		"another trade's no":   tamper(func(v url.Values) { v.Set("out_trade_no", unpaid.GetOutTradeNo()) }),
		"signature removed":    tamper(func(v url.Values) { v.Del("sign") }),
		"sign_type downgraded": tamper(func(v url.Values) { v.Set("sign_type", "RSA") }),
		"signature of another": tamper(func(v url.Values) { v.Set("sign", strings.Repeat("A", 344)) }),
		"empty":                "",
		// Alipay's own signature, but over an async notify, not a return to this product.
		"a signed notify passed off as a return": string(alipayNotify(t, parseKey(t, alipayKey), e.creds.Alipay.AppID,
			paid.GetOutTradeNo(), fmt.Sprintf("%d.%02d", paid.GetAmountFen()/100, paid.GetAmountFen()%100), "forged-1")),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := e.payments.VerifyReturn(ctx, &paymentv1.VerifyReturnRequest{Query: q})
			wantCode(t, err, "InvalidArgument")
			if got != nil {
				t.Fatalf("a forged return showed %v", got)
			}
		})
	}
	for _, p := range []*paymentv1.Payment{paid, unpaid} {
		if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_WAITING {
			t.Fatalf("after forged returns payment %d is %s, want WAITING", p.GetPaymentId(), got.GetStatus())
		}
	}
	if got := e.getOrder(unpaidOrder.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_PENDING_PAYMENT {
		t.Fatalf("unpaid order is %s", got.GetStatus())
	}
	// Another customer holding the genuine link learns nothing from it.
	asOther := metadata.AppendToOutgoingContext(ctx, principal.MetadataUser, "u-someone-else")
	_, err = e.payments.VerifyReturn(asOther, &paymentv1.VerifyReturnRequest{Query: genuine.Encode()})
	wantCode(t, err, "InvalidArgument")
	if got := e.payment(paid.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_WAITING {
		t.Fatalf("another user's return recorded payment %d as %s", paid.GetPaymentId(), got.GetStatus())
	}
	// The genuine return: the provider is asked now, and its word (paid) is recorded.
	got, err := e.payments.VerifyReturn(ctx, &paymentv1.VerifyReturnRequest{Query: genuine.Encode()})
	if err != nil || got.GetStatus() != paymentv1.PaymentStatus_SUCCEEDED || got.GetPaymentId() != paid.GetPaymentId() {
		t.Fatalf("genuine return: %v, %v", got, err)
	}
	e.waitOrderStatus(paidOrder.GetOrderId(), orderv1.OrderStatus_PAID)
}

// TestSandboxChecksPaySign: the sandbox's WeChat client refuses JSAPI parameters whose paySign
// does not verify with the merchant key, and takes ours.
func TestSandboxChecksPaySign(t *testing.T) {
	e := start(t, withReturnAllowlist)
	o := e.order("goods-sticker-pack", 1)
	p := e.payOn(o, paymentv1.Channel_WECHAT_JSAPI)
	j := p.GetJsapiParams()
	for name, bad := range map[string]func(map[string]string){
		"nonce changed after signing": func(m map[string]string) { m["nonceStr"] = "x" + m["nonceStr"][1:] },
		"timestamp changed":           func(m map[string]string) { m["timeStamp"] = "1700000000" },
		"signature of another":        func(m map[string]string) { m["paySign"] = strings.Repeat("A", 344) },
	} {
		t.Run(name, func(t *testing.T) {
			m := jsapiBody(j)
			bad(m)
			code, ans := e.sandboxPay(m)
			if code != http.StatusBadRequest || !strings.Contains(ans.Error, "paySign") {
				t.Fatalf("sandbox took a bad paySign: HTTP %d %q", code, ans.Error)
			}
		})
	}
	if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_WAITING {
		t.Fatalf("after refused paySigns payment is %s", got.GetStatus())
	}
	if code, ans := e.sandboxPay(jsapiBody(j)); code != http.StatusOK {
		t.Fatalf("our paySign refused: HTTP %d %q", code, ans.Error)
	}
	e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
}

func (e *env) payOn(o *orderv1.Order, ch paymentv1.Channel) *paymentv1.Payment {
	e.t.Helper()
	req := &paymentv1.CreatePaymentRequest{OrderId: o.GetOrderId(), Channel: ch, ReturnUrl: returnURL}
	switch ch {
	case paymentv1.Channel_WECHAT_JSAPI:
		req.OpenId, req.ReturnUrl = testOpenID, ""
	case paymentv1.Channel_WECHAT_H5:
		req.ClientIp = testClientIP
	}
	p, err := e.payments.CreatePayment(context.Background(), req)
	if err != nil {
		e.t.Fatalf("CreatePayment(%s): %v", ch, err)
	}
	return p
}

// wantCheckout checks that a fresh attempt carries what its channel's buyer opens, and only that.
func (e *env) wantCheckout(p *paymentv1.Payment) {
	e.t.Helper()
	if p.GetStatus() != paymentv1.PaymentStatus_WAITING || p.GetQrCode() != "" || p.GetQrPngBase64() != "" {
		e.t.Fatalf("created %v", p)
	}
	switch p.GetChannel() {
	case paymentv1.Channel_ALIPAY_PAGE, paymentv1.Channel_ALIPAY_WAP:
		// gopay builds the URL for the real gateway; it must point at ALIPAY_BASE_URL.
		u, err := url.Parse(p.GetPayUrl())
		if err != nil || !strings.HasPrefix(p.GetPayUrl(), e.sandbox.URL+"/gateway.do?") {
			e.t.Fatalf("payUrl %q is not on the sandbox's gateway", p.GetPayUrl())
		}
		method := map[paymentv1.Channel]string{paymentv1.Channel_ALIPAY_PAGE: "alipay.trade.page.pay",
			paymentv1.Channel_ALIPAY_WAP: "alipay.trade.wap.pay"}[p.GetChannel()]
		if q := u.Query(); q.Get("method") != method || q.Get("return_url") != returnURL || q.Get("sign") == "" {
			e.t.Fatalf("payUrl parameters %v", q)
		}
	case paymentv1.Channel_WECHAT_H5:
		u, err := url.Parse(p.GetPayUrl())
		if err != nil || !strings.HasSuffix(u.Path, "/h5/checkmweb") || u.Query().Get("redirect_url") != returnURL {
			e.t.Fatalf("payUrl %q is not an h5_url redirecting to %s", p.GetPayUrl(), returnURL)
		}
	case paymentv1.Channel_WECHAT_JSAPI:
		j := p.GetJsapiParams()
		if p.GetPayUrl() != "" || j.GetAppId() != e.creds.Wechat.AppID || !strings.HasPrefix(j.GetPackage(), "prepay_id=") ||
			j.GetSignType() != "RSA" || j.GetPaySign() == "" || len(j.GetTimeStamp()) != 10 || j.GetNonceStr() == "" {
			e.t.Fatalf("jsapiParams %v", j)
		}
	default:
		e.t.Fatalf("not a browser channel: %s", p.GetChannel())
	}
}

// sandboxAnswer is what POST /sandbox/pay answers.
type sandboxAnswer struct {
	Error     string `json:"error"`
	ReturnURL string `json:"returnUrl"`
}

// buyerPaysCheckout pays as the buyer: the payUrl's cashier, or the WeChat client with the JSAPI
// parameters (which checks paySign first).
func (e *env) buyerPaysCheckout(p *paymentv1.Payment) (int, sandboxAnswer) {
	e.t.Helper()
	if j := p.GetJsapiParams(); j != nil {
		return e.sandboxPay(jsapiBody(j))
	}
	return e.sandboxPay(map[string]string{"payUrl": p.GetPayUrl()})
}

// buyerOpens opens the checkout without paying: the Alipay cashier's login (from then on the
// trade exists at the gateway), the H5 cashier page; a JSAPI prepay needs nothing.
func (e *env) buyerOpens(p *paymentv1.Payment) {
	e.t.Helper()
	if p.GetPayUrl() == "" {
		return
	}
	resp, err := http.Get(p.GetPayUrl())
	if err != nil {
		e.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("cashier page: HTTP %d %s", resp.StatusCode, page)
	}
	if m := regexp.MustCompile(`action="(/cashier/alipay/[^"]+/login)"`).FindSubmatch(page); m != nil {
		resp, err := http.Post(e.sandbox.URL+string(m[1]), "application/x-www-form-urlencoded", nil)
		if err != nil {
			e.t.Fatal(err)
		}
		resp.Body.Close()
	}
}

func (e *env) sandboxPay(body map[string]string) (int, sandboxAnswer) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(e.sandbox.URL+"/sandbox/pay", "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var a sandboxAnswer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a
}

func (e *env) sandboxTrades() []json.RawMessage {
	e.t.Helper()
	resp, err := http.Get(e.sandbox.URL + "/sandbox/trades")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var trades []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&trades); err != nil {
		e.t.Fatal(err)
	}
	return trades
}

func jsapiBody(j *paymentv1.JsapiParams) map[string]string {
	return map[string]string{"prepayId": strings.TrimPrefix(j.GetPackage(), "prepay_id="), "appId": j.GetAppId(),
		"timeStamp": j.GetTimeStamp(), "nonceStr": j.GetNonceStr(), "package": j.GetPackage(), "signType": j.GetSignType(),
		"paySign": j.GetPaySign()}
}
