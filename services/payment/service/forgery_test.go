package service_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

// Every untrustworthy notify is refused with no state change and kept in the notify log; a
// replay of a genuine one is acknowledged as a duplicate and changes nothing more.
func TestForgedNotifiesChangeNothing(t *testing.T) {
	e := start(t)
	alipayKey, wechatKey := e.platformSecrets()

	t.Run("alipay", func(t *testing.T) {
		e := e.in(t)
		o := e.order("goods-gopher-mug", 1)
		p := e.pay(o, paymentv1.Channel_ALIPAY_QR)
		yuan, other := money.Fen(p.GetAmountFen()).Yuan(), money.Fen(p.GetAmountFen()-1).Yuan()
		real, app := parseKey(t, alipayKey), e.creds.Alipay.AppID
		form := "application/x-www-form-urlencoded"
		refused := []struct {
			name string
			body []byte
		}{
			{"forged signature", alipayNotify(t, otherKey(t), app, p.GetOutTradeNo(), yuan, "n-forged")},
			{"tampered amount", alipayNotify(t, real, app, p.GetOutTradeNo(), other, "n-amount")},
			{"foreign app id", alipayNotify(t, real, "2021000000000000", p.GetOutTradeNo(), yuan, "n-app")},
			{"unsigned", []byte("out_trade_no=" + p.GetOutTradeNo() + "&trade_status=TRADE_SUCCESS&total_amount=" + yuan + "&app_id=" + app)},
		}
		for _, c := range refused {
			if code, body := e.postNotify("/notify/alipay", form, c.body, nil); code != http.StatusOK || body != "failure" {
				t.Fatalf("%s: answered %d %q, want failure", c.name, code, body)
			}
		}
		if code, body := e.postNotify("/notify/alipay", form, alipayNotify(t, real, app, "PS404", yuan, "n-unknown"), nil); body != "failure" {
			t.Fatalf("unknown out_trade_no: answered %d %q", code, body)
		}
		if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_WAITING {
			t.Fatalf("after refused notifies the payment is %s", got.GetStatus())
		}
		if n := e.notifies(p.GetOutTradeNo()); n["REFUSED"] != len(refused) || n["ACCEPTED"] != 0 {
			t.Fatalf("notify log %v, want %d REFUSED", n, len(refused))
		}
		if n := e.notifies("PS404"); n["REFUSED"] != 1 {
			t.Fatalf("unknown trade not logged: %v", n)
		}

		genuine := alipayNotify(t, real, app, p.GetOutTradeNo(), yuan, "n-genuine")
		for i := 0; i < 2; i++ { // the second is a replay
			if _, body := e.postNotify("/notify/alipay", form, genuine, nil); body != "success" {
				t.Fatalf("genuine notify #%d answered %q", i+1, body)
			}
		}
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		if n := e.notifies(p.GetOutTradeNo()); n["ACCEPTED"] != 1 || n["DUPLICATE"] != 1 {
			t.Fatalf("notify log %v, want one ACCEPTED and one DUPLICATE", n)
		}
		if n := e.count("SELECT COUNT(*) FROM notify_log WHERE out_trade_no = ? AND body <> '' AND headers <> ''", p.GetOutTradeNo()); n != len(refused)+2 {
			t.Fatalf("%d notifies kept with body and headers, want %d", n, len(refused)+2)
		}
	})

	t.Run("wechat", func(t *testing.T) {
		e := e.in(t)
		o := e.order("goods-gopher-mug", 2)
		p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
		w := e.creds.Wechat
		real, no, fen := parseKey(t, wechatKey), p.GetOutTradeNo(), p.GetAmountFen()
		type notify struct {
			name string
			mk   func() ([]byte, http.Header)
		}
		refused := []notify{
			{"forged signature", func() ([]byte, http.Header) {
				return wechatNotify(t, otherKey(t), w.APIv3Key, w.WechatPayPublicKeyID, w.AppID, w.MchID, no, fen, "ev-forged")
			}},
			{"tampered amount", func() ([]byte, http.Header) {
				return wechatNotify(t, real, w.APIv3Key, w.WechatPayPublicKeyID, w.AppID, w.MchID, no, fen+100, "ev-amount")
			}},
			{"foreign mch id", func() ([]byte, http.Header) {
				return wechatNotify(t, real, w.APIv3Key, w.WechatPayPublicKeyID, w.AppID, "1900000000", no, fen, "ev-mch")
			}},
			{"foreign app id", func() ([]byte, http.Header) {
				return wechatNotify(t, real, w.APIv3Key, w.WechatPayPublicKeyID, "wx0000000000000000", w.MchID, no, fen, "ev-app")
			}},
			{"wrong key serial", func() ([]byte, http.Header) {
				return wechatNotify(t, real, w.APIv3Key, "PUB_KEY_ID_OTHER", w.AppID, w.MchID, no, fen, "ev-serial")
			}},
			{"unknown out_trade_no", func() ([]byte, http.Header) {
				return wechatNotify(t, real, w.APIv3Key, w.WechatPayPublicKeyID, w.AppID, w.MchID, "PS405", fen, "ev-unknown")
			}},
		}
		for _, c := range refused {
			body, h := c.mk()
			// Refused for good: 400 with WeChat's FAIL body (a 5xx would mean "our fault, retry").
			if code, resp := e.postNotify("/notify/wechat", "application/json", body, h); code != http.StatusBadRequest || !strings.Contains(resp, `"code":"FAIL"`) {
				t.Fatalf("%s: answered %d %s, want 400 with code FAIL", c.name, code, resp)
			}
		}
		if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_WAITING {
			t.Fatalf("after refused notifies the payment is %s", got.GetStatus())
		}
		// The forged-signature and wrong-serial notifies cannot even be attributed to a trade;
		// they are kept all the same.
		if n := e.count("SELECT COUNT(*) FROM notify_log WHERE channel = 'WECHAT_NATIVE' AND outcome = 'REFUSED'"); n != len(refused) {
			t.Fatalf("%d refused WeChat notifies logged, want %d", n, len(refused))
		}

		body, h := wechatNotify(t, real, w.APIv3Key, w.WechatPayPublicKeyID, w.AppID, w.MchID, no, fen, "ev-genuine")
		for i := 0; i < 2; i++ {
			if code, resp := e.postNotify("/notify/wechat", "application/json", body, h); code != http.StatusNoContent {
				t.Fatalf("genuine notify #%d answered %d %s", i+1, code, resp)
			}
		}
		e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
		e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
		testkit.Eventually(t, wait, func() bool {
			n := e.notifies(no)
			return n["ACCEPTED"] == 1 && n["DUPLICATE"] == 1
		}, "want one ACCEPTED and one DUPLICATE notify: %v", testkit.Lazy(func() any { return e.notifies(no) }))
	})
}
