package service_test

import (
	"context"
	"testing"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/pkg/principal/grpcprincipal"
	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
)

// The buyer pays one order twice: the second payment is refunded automatically, and whatever the
// provider answers that refund, the money is never lost track of — refused for now (balance too
// low) it is tried again with the same number until it goes through; refused for good or
// ABNORMAL it is an anomaly a merchant can list. PAYMENT_POLL_SCALE 0.001 compresses the refund
// schedule (1 min → 60 ms, 5 min → 300 ms …).
func TestAutomaticRefundOfASecondPaymentIsNeverLost(t *testing.T) {
	e := start(t, func(c *service.Config) { c.PollScale = 0.001 })
	for _, dupOn := range []paymentv1.Channel{paymentv1.Channel_ALIPAY_QR, paymentv1.Channel_WECHAT_NATIVE} {
		first := paymentv1.Channel_WECHAT_NATIVE
		if dupOn == paymentv1.Channel_WECHAT_NATIVE {
			first = paymentv1.Channel_ALIPAY_QR
		}
		t.Run("balance too low three times, then refunded: duplicate on "+dupOn.String(), func(t *testing.T) {
			e := e.in(t)
			o, dup := e.paidTwice(first, dupOn, map[string]int{"refundNotEnough": 3})
			e.waitPaymentStatus(dup.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
			e.waitRefundsSettled(dup.GetPaymentId())
			if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND auto AND status = 'SUCCEEDED'", dup.GetPaymentId()); n != 1 {
				t.Fatalf("%d succeeded automatic refunds, want 1", n)
			}
			refunds := e.providerRefunds(dup.GetOutTradeNo())
			if len(refunds) != 1 || refunds[0].Status != "SUCCESS" || refunds[0].AmountFen != dup.GetAmountFen() {
				t.Fatalf("provider refunds %+v, want one SUCCESS of %d", refunds, dup.GetAmountFen())
			}
			if list := e.anomalies(dup.GetPaymentId()); len(list) != 0 {
				t.Fatalf("anomalies %v for a refund that went through", list)
			}
			if got := e.getOrder(o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_PAID || got.GetRefundedFen() != 0 {
				t.Fatalf("the duplicate's refund touched the order: %v", got)
			}
		})
		t.Run("refused for good or ABNORMAL: an anomaly listed by the API, duplicate on "+dupOn.String(), func(t *testing.T) {
			e := e.in(t)
			_, dup := e.paidTwice(first, dupOn, map[string]int{"refundAbnormal": 1})
			want := "REFUND_REFUSED" // Alipay: ACQ.TRADE_NOT_ALLOW_REFUND, final
			if dupOn == paymentv1.Channel_WECHAT_NATIVE {
				want = "REFUND_ABNORMAL" // WeChat: the money waits at the provider for a person
			}
			var list []*paymentv1.Anomaly
			testkit.Eventually(t, wait, func() bool {
				list = e.anomalies(dup.GetPaymentId())
				return len(list) == 1
			}, "no anomaly for the duplicate payment %d", dup.GetPaymentId())
			a := list[0]
			if a.GetKind() != want || a.GetState() != "OPEN" || a.GetAmountFen() != dup.GetAmountFen() || a.GetRefundId() == 0 ||
				a.GetOutTradeNo() != dup.GetOutTradeNo() || a.GetDetail() == "" || a.GetTried() == "" {
				t.Fatalf("anomaly %v, want an OPEN %s of %d fen for the refund of %s", a, want, dup.GetAmountFen(), dup.GetOutTradeNo())
			}
			got := e.payment(dup.GetPaymentId())
			if got.GetRefundedFen() != 0 {
				t.Fatalf("payment %v: refunded %d though nothing went back", got, got.GetRefundedFen())
			}
			st := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND status = ?", dup.GetPaymentId(),
				map[bool]string{true: "PROCESSING", false: "FAILED"}[want == "REFUND_ABNORMAL"])
			if st != 1 {
				t.Fatalf("the automatic refund is not %s", want)
			}
		})
	}
	t.Run("anomalies are merchant staff's", func(t *testing.T) {
		ctx := grpcprincipal.OutgoingContext(context.Background(), principal.Principal{UserID: "u-customer"})
		_, err := e.payments.ListAnomalies(ctx, &paymentv1.ListAnomaliesRequest{})
		wantCode(t, err, "PermissionDenied")
		_, err = e.payments.ListAnomalies(context.Background(), &paymentv1.ListAnomaliesRequest{State: "NOPE"})
		wantCode(t, err, "InvalidArgument")
	})
}

// paidTwice pays order o on first, waits until the order is PAID, sets the sandbox faults, then
// pays the same order again on dup (opened before the first was paid, as a buyer with two tabs).
func (e *env) paidTwice(first, dup paymentv1.Channel, faults map[string]int) (*orderv1.Order, *paymentv1.Payment) {
	e.t.Helper()
	o := e.order("course-payments-101", 1)
	p1 := e.pay(o, first)
	p2 := e.pay(o, dup)
	e.buyerPays(p1.GetQrCode())
	e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
	e.faults(faults)
	e.t.Cleanup(func() { e.sandboxDo("DELETE", "/sandbox/faults", nil) })
	e.buyerPays(p2.GetQrCode())
	return o, p2
}

// anomalies lists, as merchant staff, the anomalies of one payment.
func (e *env) anomalies(paymentID int64) []*paymentv1.Anomaly {
	e.t.Helper()
	ctx := grpcprincipal.OutgoingContext(context.Background(), principal.Principal{UserID: "staff", Roles: []string{principal.RoleMerchant}})
	var out []*paymentv1.Anomaly
	token := ""
	for {
		res, err := e.payments.ListAnomalies(ctx, &paymentv1.ListAnomaliesRequest{PageSize: 50, PageToken: token})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, a := range res.GetAnomalies() {
			if a.GetPaymentId() == paymentID {
				out = append(out, a)
			}
		}
		if token = res.GetNextPageToken(); token == "" {
			return out
		}
	}
}
