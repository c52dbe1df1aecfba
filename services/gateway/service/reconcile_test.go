package service_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
)

// What `make demo` ends with, through the gateway: merchant staff refund a course in the
// provider's console, outside paysuite; the reconciliation of today's bill finds it, records the
// refund, the order becomes REFUNDED and the course is revoked.
func TestReconciliationFindsConsoleRefund(t *testing.T) {
	s := startStack(t, func(o *stackOptions) { o.billsNow = true })
	user := testkit.UniqueName("buyer")
	buyer := s.asUser(user)
	merchant := s.as(s.tokens.Merchant("staff"))
	const course = "course-payments-101"
	orderID := buyer.expect(t, buyer.do(t, "POST", "/v1/orders", order(user, "c-1", course)), 200, "order").str("orderId")
	pay := buyer.expect(t, buyer.do(t, "POST", "/v1/orders/"+orderID+"/payments", map[string]any{"channel": "ALIPAY_QR"}), 200, "pay")
	s.expect(t, s.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": pay.str("qrCode")}), 200, "buyer pays")
	testkit.Eventually(t, 30*time.Second, func() bool {
		return enrolled(t, buyer, user, orderID)
	}, "never enrolled")
	p := buyer.expect(t, buyer.do(t, "GET", "/v1/payments/"+pay.str("paymentId"), nil), 200, "payment")

	b, _ := json.Marshal(map[string]any{"outTradeNo": p.str("outTradeNo"), "amountFen": 9900})
	res, err := http.Post(s.sandboxURL+"/sandbox/console/refund", "application/json", bytes.NewReader(b))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("console refund: %v %v", res, err)
	}
	res.Body.Close()
	day := time.Now().UTC().Add(8 * time.Hour).Format("2006-01-02")
	buyer.expect(t, buyer.do(t, "POST", "/v1/reconciliations", map[string]any{"channel": "ALIPAY_QR", "billDate": day}), 403, "a customer reconciles")
	r := merchant.expect(t, merchant.do(t, "POST", "/v1/reconciliations", map[string]any{"channel": "ALIPAY_QR", "billDate": day}), 200, "reconcile")
	if !strings.Contains(r.Raw, `"CONSOLE_REFUND"`) || !strings.Contains(r.Raw, p.str("outTradeNo")) || r.str("status") != "SUCCEEDED" {
		t.Fatalf("reconciliation: %s", r.Raw)
	}
	testkit.Eventually(t, 30*time.Second, func() bool {
		o := buyer.do(t, "GET", "/v1/orders/"+orderID, nil)
		return o.str("status") == "REFUNDED" && o.str("refundedFen") == "9900"
	}, "the order never followed the console refund")
	testkit.Eventually(t, 30*time.Second, func() bool { return !enrolled(t, buyer, user, orderID) }, "the course was not revoked")
	got := merchant.expect(t, merchant.do(t, "GET", "/v1/reconciliations/"+r.str("reconciliationId"), nil), 200, "get")
	if !strings.Contains(got.Raw, `"CONSOLE_REFUND"`) {
		t.Fatalf("stored reconciliation: %s", got.Raw)
	}
}

func enrolled(t *testing.T, s *stack, user, orderID string) bool {
	list, _ := s.do(t, "GET", "/v1/users/"+user+"/enrollments", nil).JSON["enrollments"].([]any)
	for _, e := range list {
		if e := e.(map[string]any); e["orderId"] == orderID && e["active"] == true {
			return true
		}
	}
	return false
}
