package service_test

import (
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
)

// The provider reports another paid amount than the trade's (the sandbox's paidAmountDeltaFen):
// an AMOUNT_MISMATCH anomaly keeps both amounts, the attempt is closed (never pays the order, no
// more polling), the order is cancelled at its deadline like any unpaid order, and what the
// provider took is refunded automatically. Once through the notify door (polling far away),
// once through the poller (notify dropped).
func TestProviderReportingAnotherAmount(t *testing.T) {
	const payTimeout = 6 * time.Second
	for _, tc := range []struct {
		name   string
		ch     paymentv1.Channel
		poll   float64
		faults map[string]int
	}{
		{"notify door " + paymentv1.Channel_WECHAT_NATIVE.String(), paymentv1.Channel_WECHAT_NATIVE, 100, nil},
		{"poller " + paymentv1.Channel_ALIPAY_QR.String(), paymentv1.Channel_ALIPAY_QR, 0.01, map[string]int{"dropNotifies": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startWith(t, func(o *orderConfig) {
				o.PayTimeout, o.SweepInterval, o.SweepGrace = payTimeout, 500*time.Millisecond, time.Second
			}, func(c *service.Config) {
				c.OrderPayTimeout, c.ProviderTradeTimeout, c.PollScale = payTimeout, payTimeout-time.Second, tc.poll
			})
			o := e.order("goods-hoodie", 1)
			p := e.pay(o, tc.ch)
			e.sandboxDo("POST", "/sandbox/faults", map[string]int64{"paidAmountDeltaFen": -100})
			if tc.faults != nil {
				e.faults(tc.faults)
			}
			e.buyerPays(p.GetQrCode())
			provider := p.GetAmountFen() - 100

			var list []*paymentv1.Anomaly
			testkit.Eventually(t, wait, func() bool { list = e.anomalies(p.GetPaymentId()); return len(list) > 0 },
				"no anomaly for a payment the provider reports at another amount")
			a := list[0]
			if len(list) != 1 || a.GetKind() != "AMOUNT_MISMATCH" || a.GetAmountFen() != p.GetAmountFen() || a.GetProviderAmountFen() != provider {
				t.Fatalf("anomalies %v, want one AMOUNT_MISMATCH of ours %d, provider's %d", list, p.GetAmountFen(), provider)
			}
			got := e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_CLOSED)
			if got.GetPaidAt() != nil {
				t.Fatalf("a mismatched payment carries paid_at: %v", got)
			}
			e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_CANCELLED)
			e.waitRefundsSettled(p.GetPaymentId())
			refunds := e.providerRefunds(p.GetOutTradeNo())
			if len(refunds) != 1 || refunds[0].Status != "SUCCESS" || refunds[0].AmountFen != provider {
				t.Fatalf("provider refunds %+v, want one SUCCESS of the %d fen it took", refunds, provider)
			}
			if n := e.count("SELECT COUNT(*) FROM tasks WHERE kind = 'poll-trade' AND ref_id = ?", p.GetPaymentId()); n != 0 {
				t.Fatal("the mismatched attempt is still polled")
			}
		})
	}
}
