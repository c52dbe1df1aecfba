package service_test

import (
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
)

// A course and a good in one order, paid, through the whole suite: merchant staff refund the
// course line over REST; the course service revokes that course while the good stays paid, the
// order has refunded exactly the course's price, and the same line cannot be refunded again.
func TestRefundingACourseLineRevokesTheCourse(t *testing.T) {
	s := startStack(t)
	user := testkit.UniqueName("buyer")
	buyer := s.asUser(user)
	merchant := s.as(s.tokens.Merchant("staff"))
	const course = "course-payments-101"
	o := buyer.expect(t, buyer.do(t, "POST", "/v1/orders", map[string]any{"userId": user, "requestId": "mixed",
		"items": []map[string]any{{"skuId": course, "quantity": 1}, {"skuId": "goods-hoodie", "quantity": 1}}}), 200, "order")
	orderID := o.str("orderId")
	pay := buyer.expect(t, buyer.do(t, "POST", "/v1/orders/"+orderID+"/payments", map[string]any{"channel": "WECHAT_NATIVE"}), 200, "pay")
	s.expect(t, s.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": pay.str("qrCode")}), 200, "buyer pays")
	access := func() bool {
		return buyer.do(t, "GET", "/v1/users/"+user+"/courses/"+course+"/access", nil).JSON["hasAccess"] == true
	}
	testkit.Eventually(t, 30*time.Second, access, "the buyer never got the course")

	refundLine := map[string]any{"requestId": "course-line", "items": []map[string]any{{"skuId": course, "quantity": 1}}}
	r := merchant.expect(t, merchant.do(t, "POST", "/v1/payments/"+pay.str("paymentId")+":refund", refundLine), 200, "refund the course line")
	if r.str("amountFen") != "9900" {
		t.Fatalf("refund of the course line: %s", r.Raw)
	}
	testkit.Eventually(t, 30*time.Second, func() bool {
		return merchant.do(t, "GET", "/v1/refunds/"+r.str("refundId"), nil).str("status") == "REFUND_SUCCEEDED"
	}, "the refund never succeeded")
	testkit.Eventually(t, 30*time.Second, func() bool { return !access() }, "the refunded course was never revoked")
	testkit.Eventually(t, 30*time.Second, func() bool {
		got := buyer.do(t, "GET", "/v1/orders/"+orderID, nil)
		return got.str("status") == "PAID" && got.str("refundedFen") == "9900"
	}, "the order never showed the course's price refunded and the good still paid")

	refundLine["requestId"] = "course-line-again"
	merchant.expect(t, merchant.do(t, "POST", "/v1/payments/"+pay.str("paymentId")+":refund", refundLine), 400, "the same line again")
}
