package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

func TestRefundsRacingOnOnePayment(t *testing.T) {
	e := start(t)
	t.Run("concurrent refunds never exceed what was paid", func(t *testing.T) { concurrentRefundsNeverExceedWhatWasPaid(t, e.in(t)) })
	t.Run("a second refund while REFUNDING is refused", func(t *testing.T) { secondRefundWhileRefundingIsRefused(t, e.in(t)) })
}

// Refunds that together ask for more than was paid, all at once. What the code guarantees: the
// amount is reserved under the payment's row lock, so what succeeds never exceeds what was paid,
// and the order takes one refund at a time (BeginRefund: PAID → REFUNDING), so a refund that
// meets another one in flight is refused as well, even if affordable, and can be asked again.
// Every refused request leaves no money moved and no reservation behind; the provider, the
// payment and the order agree on what was refunded; the rest can then be refunded to the fen.
func concurrentRefundsNeverExceedWhatWasPaid(t *testing.T, e *env) {
	ctx := context.Background()
	o := e.order("goods-hoodie", 1) // 168.00
	p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
	e.buyerPays(p.GetQrCode())
	e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
	total := p.GetAmountFen()

	const asks, each = 5, 6000 // 300.00 asked of 168.00: at most two fit
	answers := make([]*paymentv1.Refund, asks)
	errs := make([]error, asks)
	var wg sync.WaitGroup
	for i := range asks {
		wg.Go(func() {
			answers[i], errs[i] = e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{
				PaymentId: p.GetPaymentId(), AmountFen: each, RequestId: fmt.Sprint("concurrent-", i)})
		})
	}
	wg.Wait()
	var accepted []int64
	for i := range asks {
		switch {
		case errs[i] == nil:
			accepted = append(accepted, answers[i].GetRefundId())
		case status.Code(errs[i]) != codes.FailedPrecondition:
			t.Fatalf("refund %d: %v; want a refund or FailedPrecondition", i, errs[i])
		}
	}
	if len(accepted) == 0 || len(accepted)*each > int(total) {
		t.Fatalf("%d of %d refunds of %d fen accepted on a %d fen payment: errors %v", len(accepted), asks, each, total, errs)
	}
	for _, id := range accepted {
		testkit.Eventually(t, wait, func() bool {
			r, err := e.payments.GetRefund(ctx, &paymentv1.GetRefundRequest{RefundId: id})
			return err == nil && r.GetStatus() == paymentv1.RefundStatus_REFUND_SUCCEEDED
		}, "accepted refund %d never succeeded", id)
	}
	refunded := int64(len(accepted) * each)
	e.waitRefundsSettled(p.GetPaymentId())
	e.wantRefunded(o, p, refunded)

	// The rest, to the fen; then nothing more.
	if _, err := e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(), AmountFen: total - refunded, RequestId: "the-rest"}); err != nil {
		t.Fatalf("refund of the %d fen left: %v", total-refunded, err)
	}
	e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
	e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_REFUNDED)
	_, err := e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(), AmountFen: 1, RequestId: "one-more"})
	wantCode(t, err, "FailedPrecondition")
	e.waitRefundsSettled(p.GetPaymentId())
	e.wantRefunded(o, p, total)
}

// A second refund asked while the order is REFUNDING (the first still PROCESSING at the
// provider) is refused and never reaches the provider; the first settles as usual, and once the
// order is PAID again a new request for the same amount goes through.
func secondRefundWhileRefundingIsRefused(t *testing.T, e *env) {
	ctx := context.Background()
	o := e.order("goods-hoodie", 1)
	p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
	e.buyerPays(p.GetQrCode())
	e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)

	e.faults(map[string]int{"refundProcessingMs": 1500}) // the first refund stays PROCESSING a while
	first, err := e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(), AmountFen: 3000, RequestId: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.getOrder(o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_REFUNDING {
		t.Fatalf("order is %s while refund %d is in flight, want REFUNDING", got.GetStatus(), first.GetRefundId())
	}
	_, err = e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(), AmountFen: 2000, RequestId: "second"})
	wantCode(t, err, "FailedPrecondition")
	if r, err := e.payments.GetRefund(ctx, &paymentv1.GetRefundRequest{RefundId: first.GetRefundId()}); err != nil || r.GetStatus() != paymentv1.RefundStatus_REFUND_PROCESSING {
		t.Fatalf("the first refund = %v, %v; the second must have been refused while it was in flight", r, err)
	}
	if n := len(e.providerRefunds(p.GetOutTradeNo())); n != 1 {
		t.Fatalf("the provider saw %d refunds, want only the first", n)
	}

	e.faults(map[string]int{"refundProcessingMs": 0})
	testkit.Eventually(t, wait, func() bool {
		got := e.getOrder(o.GetOrderId())
		return got.GetStatus() == orderv1.OrderStatus_PAID && got.GetRefundedFen() == 3000
	}, "order never went back to PAID with the first refund: %v", testkit.Lazy(func() any { return e.getOrder(o.GetOrderId()) }))
	e.waitRefundsSettled(p.GetPaymentId())
	e.wantRefunded(o, p, 3000)

	again, err := e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(), AmountFen: 2000, RequestId: "second-again"})
	if err != nil {
		t.Fatalf("the same amount asked once the order is PAID again: %v", err)
	}
	testkit.Eventually(t, wait, func() bool {
		r, err := e.payments.GetRefund(ctx, &paymentv1.GetRefundRequest{RefundId: again.GetRefundId()})
		return err == nil && r.GetStatus() == paymentv1.RefundStatus_REFUND_SUCCEEDED
	}, "the second refund never succeeded once asked again")
	e.waitRefundsSettled(p.GetPaymentId())
	e.wantRefunded(o, p, 5000)
}

// waitRefundsSettled waits until no refund of the payment is PROCESSING and no refund task is left.
func (e *env) waitRefundsSettled(paymentID int64) {
	e.t.Helper()
	testkit.Eventually(e.t, wait, func() bool {
		return e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND status = 'PROCESSING'", paymentID) == 0 &&
			e.count("SELECT COUNT(*) FROM tasks t JOIN refunds r ON t.kind = 'refund' AND t.ref_id = r.id WHERE r.payment_id = ?", paymentID) == 0
	}, "refunds of payment %d never settled", paymentID)
}

// wantRefunded checks that the provider, the payment, its refund rows and the order all say
// that exactly fen was refunded, with nothing left reserved.
func (e *env) wantRefunded(o *orderv1.Order, p *paymentv1.Payment, fen int64) {
	e.t.Helper()
	var atProvider int64
	for _, r := range e.providerRefunds(p.GetOutTradeNo()) {
		if r.Status == "SUCCESS" {
			atProvider += r.AmountFen
		}
	}
	succeeded := int64(e.count("SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE payment_id = ? AND status = 'SUCCEEDED'", p.GetPaymentId()))
	reserved := e.count("SELECT refunding_fen FROM payments WHERE id = ?", p.GetPaymentId())
	got := e.payment(p.GetPaymentId())
	order := e.getOrder(o.GetOrderId())
	if atProvider != fen || succeeded != fen || got.GetRefundedFen() != fen || order.GetRefundedFen() != fen || reserved != 0 {
		e.t.Fatalf("refunded: provider %d, refund rows %d, payment %d (reserved %d), order %d; want %d everywhere and 0 reserved",
			atProvider, succeeded, got.GetRefundedFen(), reserved, order.GetRefundedFen(), fen)
	}
}

// sandboxRefund is a refund as the sandbox's GET /sandbox/trades lists it.
type sandboxRefund struct {
	OutRefundNo string `json:"outRefundNo"`
	AmountFen   int64  `json:"amountFen"`
	Status      string `json:"status"`
}

// providerRefunds returns the refunds the provider (the sandbox) holds for a trade.
func (e *env) providerRefunds(outTradeNo string) []sandboxRefund {
	e.t.Helper()
	resp, err := http.Get(e.sandbox.URL + "/sandbox/trades")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var trades []struct {
		OutTradeNo string          `json:"outTradeNo"`
		Refunds    []sandboxRefund `json:"refunds"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&trades); err != nil {
		e.t.Fatal(err)
	}
	for _, tr := range trades {
		if tr.OutTradeNo == outTradeNo {
			return tr.Refunds
		}
	}
	e.t.Fatalf("the sandbox has no trade %s", outTradeNo)
	return nil
}
