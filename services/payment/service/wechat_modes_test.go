package service_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
	"github.com/paysuite/paysuite/services/sandbox/emulatortest"
)

// A merchant on platform certificates, and one in the middle of the migration to the public key
// (notifies signed by either at random): paying, its notify, a refund and its notify all work,
// and WeChat's signature probes (WECHATPAY/SIGNTEST/, a bad signature on purpose) before each
// notify are refused (4xx FAIL) without changing anything. Polling is 100× slower than real
// life, so only the notifies can complete the payment and the refund.
func TestWechatVerificationModes(t *testing.T) {
	for _, mode := range []string{emulator.WechatModeCertificate, emulator.WechatModeBoth} {
		t.Run(mode, func(t *testing.T) {
			e := newEnvOn(t, []emulatortest.Option{func(c *emulator.Config) { c.WechatMode = mode }}, nil,
				func(c *service.Config) { c.Wechat.VerifyMode, c.PollScale = mode, 100 })
			e.run()
			o := e.order("goods-hoodie", 1)
			p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
			e.faults(map[string]int{"signatureProbes": 2})
			e.buyerPays(p.GetQrCode())
			e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
			e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)

			r := e.refund(p, 1000, "mode-refund")
			e.waitRefund(r.GetRefundId(), paymentv1.RefundStatus_REFUND_SUCCEEDED)
			e.waitRefundsSettled(p.GetPaymentId())
			e.wantRefunded(o, p, 1000)
			testkit.Eventually(t, wait, func() bool {
				return e.count("SELECT COUNT(*) FROM notify_log WHERE out_trade_no = '' AND outcome = 'REFUSED' AND refuse_reason LIKE '%signature probe (WECHATPAY/SIGNTEST/)%'") == 2
			}, "want both signature probes refused and logged (log: %v)", testkit.Lazy(func() any { return e.notifies("") }))
			if n := e.notifies(p.GetOutTradeNo()); n["ACCEPTED"] != 2 {
				t.Fatalf("notify log %v, want the payment's and the refund's notify ACCEPTED", n)
			}
		})
	}
}

// A probe answered like a real WeChat merchant: a 4xx with {"code":"FAIL"}, never 200/204, at
// both WeChat doors; a notify in another currency than CNY likewise.
func TestSignatureProbeIsAnsweredAsFailure(t *testing.T) {
	e := start(t, func(c *service.Config) { c.PollScale = 100 })
	_, wechatKey := e.platformSecrets()
	o := e.order("goods-gopher-mug", 1)
	p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
	w := e.creds.Wechat
	body, h := wechatNotify(t, parseKey(t, wechatKey), w.APIv3Key, w.WechatPayPublicKeyID, w.AppID, w.MchID, p.GetOutTradeNo(), p.GetAmountFen(), "ev-probe")
	h.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature")[19:])
	for _, path := range []string{"/notify/wechat", "/notify/wechat/refund"} {
		code, answer := e.postNotify(path, "application/json", body, h)
		if code < 400 || code >= 600 || !containsFail(answer) {
			t.Fatalf("%s: probe answered %d %q, want 4xx/5xx FAIL", path, code, answer)
		}
	}
	// Genuinely signed, but not in CNY: refused too (the domestic API only knows CNY).
	body, h = wechatNotifyIn(t, parseKey(t, wechatKey), w.APIv3Key, w.WechatPayPublicKeyID, w.AppID, w.MchID, p.GetOutTradeNo(), p.GetAmountFen(), "USD", "ev-usd")
	if code, answer := e.postNotify("/notify/wechat", "application/json", body, h); code != http.StatusBadRequest || !containsFail(answer) {
		t.Fatalf("a USD notify answered %d %q, want 400 FAIL", code, answer)
	}
	if got := e.payment(p.GetPaymentId()); got.GetStatus() != paymentv1.PaymentStatus_WAITING {
		t.Fatalf("a probe or a USD notify changed the payment to %s", got.GetStatus())
	}
	// The genuine notify after it still pays.
	body, h = wechatNotify(t, parseKey(t, wechatKey), w.APIv3Key, w.WechatPayPublicKeyID, w.AppID, w.MchID, p.GetOutTradeNo(), p.GetAmountFen(), "ev-real")
	if code, answer := e.postNotify("/notify/wechat", "application/json", body, h); code != http.StatusNoContent {
		t.Fatalf("genuine notify after a probe answered %d %q", code, answer)
	}
	e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
}

func containsFail(s string) bool { return strings.Contains(s, `"code":"FAIL"`) }
