package service_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/testkit"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

// Refunds by order line: a course and a good in one order, paid; refunding the course line
// refunds its price, the event names the course line (which is what revokes it in the course
// service), the good stays paid; the same line again is refused, a line the order does not hold
// or an amount that is not the lines' price is InvalidArgument, and an amount-only (goodwill)
// refund is still possible and names no line.
func TestRefundsByOrderLine(t *testing.T) {
	e := start(t)
	events := listen(t, e.amqpURL)
	ctx := context.Background()
	o, err := e.orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{
		UserId: "u-" + testkit.UniqueName(""), RequestId: testkit.UniqueName("r"),
		Items: []*orderv1.CreateOrderItem{{SkuId: "course-payments-101", Quantity: 1}, {SkuId: "goods-hoodie", Quantity: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
	e.buyerPays(p.GetQrCode())
	e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
	course := &paymentv1.RefundItem{SkuId: "course-payments-101", Quantity: 1}
	ask := func(id string, amount int64, items ...*paymentv1.RefundItem) (*paymentv1.Refund, error) {
		return e.payments.RefundPayment(ctx, &paymentv1.RefundPaymentRequest{PaymentId: p.GetPaymentId(), RequestId: id,
			AmountFen: amount, Items: items})
	}

	for name, c := range map[string]struct {
		amount int64
		items  []*paymentv1.RefundItem
	}{
		"a line the order does not hold":  {0, []*paymentv1.RefundItem{{SkuId: "goods-gopher-mug", Quantity: 1}}},
		"more than was bought":            {0, []*paymentv1.RefundItem{{SkuId: "goods-hoodie", Quantity: 2}}},
		"an amount that is not the price": {100, []*paymentv1.RefundItem{course}},
		"a line twice":                    {0, []*paymentv1.RefundItem{course, course}},
	} {
		_, err := ask("bad-"+name, c.amount, c.items...)
		if code := status.Code(err).String(); code != "InvalidArgument" {
			t.Fatalf("%s: %v, want InvalidArgument", name, err)
		}
	}

	r, err := ask("course-line", 0, course)
	if err != nil {
		t.Fatal(err)
	}
	if r.GetAmountFen() != 9900 || len(r.GetItems()) != 1 || r.GetItems()[0].GetSkuId() != course.GetSkuId() {
		t.Fatalf("refund of the course line: %v, want 9900 fen naming the line", r)
	}
	e.waitRefund(r.GetRefundId(), paymentv1.RefundStatus_REFUND_SUCCEEDED)
	e.waitRefundsSettled(p.GetPaymentId())
	got := e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
	if got.GetRefundedFen() != 9900 {
		t.Fatalf("order refunded %d, want the course's 9900", got.GetRefundedFen())
	}
	var ev *eventsv1.PaymentResult
	testkit.Eventually(t, wait, func() bool {
		list, _, _ := events.of(p.GetPaymentId())
		for _, m := range list {
			if m.GetRefundId() == r.GetRefundId() {
				ev = m
			}
		}
		return ev != nil
	}, "no event for the line refund")
	if len(ev.GetRefundedItems()) != 1 || ev.GetRefundedItems()[0].GetSkuId() != course.GetSkuId() ||
		ev.GetRefundedItems()[0].GetKind() != orderv1.SkuKind_COURSE || ev.GetFullRefund() {
		t.Fatalf("refund event %v, want a partial refund naming the COURSE line", ev)
	}

	// What is left to refund (the hoodie's 16800) would cover it: only the line rule refuses.
	_, err = ask("course-line-again", 0, course)
	wantCode(t, err, "FailedPrecondition")
	goodwill, err := ask("goodwill", 500)
	if err != nil {
		t.Fatal(err)
	}
	e.waitRefund(goodwill.GetRefundId(), paymentv1.RefundStatus_REFUND_SUCCEEDED)
	e.waitRefundsSettled(p.GetPaymentId())
	if len(goodwill.GetItems()) != 0 {
		t.Fatalf("an amount-only refund names lines: %v", goodwill)
	}
	e.wantRefunded(o, p, 9900+500)
}
