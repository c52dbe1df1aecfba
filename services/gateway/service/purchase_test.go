package service_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
)

// purchaseRoutes covers the routes that need money to move: payments, the sandbox proxy,
// refunds, enrolments, notifications and the order event stream.
func purchaseRoutes(t *testing.T, s *stack) {
	user := testkit.UniqueName("buyer")
	s = s.asUser(user)
	merchant := s.as(s.tokens.Merchant("staff"))
	const course = "course-go-concurrency"
	order := s.expect(t, s.do(t, "POST", "/v1/orders", map[string]any{"userId": user, "requestId": "c-1",
		"items": []map[string]any{{"skuId": course, "quantity": 1}}}), 200, "order a course")
	orderID := order.str("orderId")

	var paymentID, qrCode string
	t.Run("POST /v1/orders/{orderId}/payments", func(t *testing.T) {
		r := s.expect(t, s.do(t, "POST", "/v1/orders/"+orderID+"/payments", map[string]any{"channel": "ALIPAY_QR"}), 200, "create payment")
		paymentID, qrCode = r.str("paymentId"), r.str("qrCode")
		if paymentID == "" || r.str("orderId") != orderID || r.str("channel") != "ALIPAY_QR" || r.str("status") != "WAITING" ||
			r.str("amountFen") != order.str("totalFen") || !strings.HasPrefix(qrCode, "http") || r.str("expireAt") == "" {
			t.Fatalf("payment: %s", r.Raw)
		}
		png, err := base64.StdEncoding.DecodeString(r.str("qrPngBase64"))
		if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
			t.Fatalf("qrPngBase64 is not a PNG (err %v)", err)
		}
		s.expect(t, s.do(t, "POST", "/v1/orders/"+orderID+"/payments", map[string]any{"channel": "CHANNEL_UNSPECIFIED"}), 400, "no channel")
		s.expect(t, s.do(t, "POST", "/v1/orders/"+orderID+"/payments", map[string]any{"channel": "BITCOIN"}), 400, "unknown channel")
		s.expect(t, s.do(t, "POST", "/v1/orders/123456789/payments", map[string]any{"channel": "WECHAT_NATIVE"}), 404, "unknown order")
	})

	t.Run("GET /v1/payments/{paymentId}", func(t *testing.T) {
		r := s.expect(t, s.do(t, "GET", "/v1/payments/"+paymentID, nil), 200, "get payment")
		if r.str("status") != "WAITING" || r.str("qrCode") != qrCode {
			t.Fatalf("payment: %s", r.Raw)
		}
		s.expect(t, s.do(t, "GET", "/v1/payments/123456789", nil), 404, "unknown payment")
		s.expect(t, s.do(t, "GET", "/v1/payments/x1", nil), 400, "non-numeric payment id")
	})

	t.Run("GET /v1/orders/{orderId}/payments", func(t *testing.T) {
		r := s.expect(t, s.do(t, "GET", "/v1/orders/"+orderID+"/payments", nil), 200, "list order payments")
		list, _ := r.JSON["payments"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["paymentId"] != paymentID {
			t.Fatalf("payments of order %s: %s", orderID, r.Raw)
		}
		s.expect(t, s.do(t, "GET", "/v1/orders/x1/payments", nil), 400, "non-numeric order id")
	})

	t.Run("POST /dev/sandbox/pay then the order is PAID", func(t *testing.T) {
		s.expect(t, s.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": s.sandboxURL + "/no-such-trade"}), 404, "unknown QR")
		s.expect(t, s.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": qrCode}), 200, "sandbox buyer pays")
		testkit.Eventually(t, 30*time.Second, func() bool {
			return s.do(t, "GET", "/v1/orders/"+orderID, nil).str("status") == "PAID"
		}, "order %s never became PAID", orderID)
		p := s.expect(t, s.do(t, "GET", "/v1/payments/"+paymentID, nil), 200, "paid payment")
		if p.str("status") != "SUCCEEDED" || p.str("providerTradeNo") == "" || p.str("paidAt") == "" {
			t.Fatalf("paid payment: %s", p.Raw)
		}
	})

	t.Run("409 for a course the user already owns", func(t *testing.T) {
		s.expect(t, s.do(t, "POST", "/v1/orders", map[string]any{"userId": user, "requestId": "c-2",
			"items": []map[string]any{{"skuId": course, "quantity": 1}}}), 409, "buy an owned course")
		s.expect(t, s.do(t, "POST", "/v1/orders/"+orderID+"/payments", map[string]any{"channel": "WECHAT_NATIVE"}), 400, "pay a paid order")
		s.expect(t, s.do(t, "POST", "/v1/orders/"+orderID+":cancel", map[string]any{}), 400, "cancel a paid order")
	})

	t.Run("GET /v1/users/{userId}/enrollments", func(t *testing.T) {
		testkit.Eventually(t, 30*time.Second, func() bool {
			r := s.do(t, "GET", "/v1/users/"+user+"/enrollments", nil)
			list, _ := r.JSON["enrollments"].([]any)
			for _, e := range list {
				e := e.(map[string]any)
				if e["orderId"] == orderID && e["courseId"] == course && e["active"] == true {
					return true
				}
			}
			return false
		}, "no active enrolment in %s for order %s", course, orderID)
		s.expect(t, s.do(t, "GET", "/v1/users/"+user+"/enrollments?includeRevoked=maybe", nil), 400, "bad boolean")
	})

	t.Run("GET /v1/users/{userId}/courses/{courseId}/access", func(t *testing.T) {
		r := s.expect(t, s.do(t, "GET", "/v1/users/"+user+"/courses/"+course+"/access", nil), 200, "access to the bought course")
		if r.JSON["hasAccess"] != true {
			t.Fatalf("access: %s", r.Raw)
		}
		r = s.expect(t, s.do(t, "GET", "/v1/users/"+user+"/courses/course-never-bought/access", nil), 200, "access to another course")
		if r.JSON["hasAccess"] == true {
			t.Fatalf("access to a course never bought: %s", r.Raw)
		}
	})

	t.Run("GET /v1/users/{userId}/notifications", func(t *testing.T) {
		testkit.Eventually(t, 30*time.Second, func() bool {
			r := s.do(t, "GET", "/v1/users/"+user+"/notifications", nil)
			list, _ := r.JSON["notifications"].([]any)
			for _, n := range list {
				n := n.(map[string]any)
				if n["orderId"] == orderID && n["kind"] == "PAYMENT_SUCCEEDED" {
					return true
				}
			}
			return false
		}, "no PAYMENT_SUCCEEDED notification for order %s", orderID)
		s.expect(t, s.do(t, "GET", "/v1/users/"+user+"/notifications?pageSize=abc", nil), 400, "non-numeric pageSize")
	})

	t.Run("GET /v1/orders/{orderId}/events", func(t *testing.T) {
		line := s.firstStreamLine(t, "/v1/orders/"+orderID+"/events", "application/json", func(l string) bool { return l != "" })
		if !strings.Contains(line, `"result"`) || !strings.Contains(line, `"status":"PAYMENT_SUCCEEDED"`) && !strings.Contains(line, `"status": "PAYMENT_SUCCEEDED"`) {
			t.Fatalf("NDJSON line: %s", line)
		}
		data := s.firstStreamLine(t, "/v1/orders/"+orderID+"/events", "text/event-stream", func(l string) bool { return strings.HasPrefix(l, "data: ") })
		if !strings.Contains(data, "PAYMENT_SUCCEEDED") || !strings.Contains(data, orderID) {
			t.Fatalf("SSE data: %s", data)
		}
		s.expect(t, s.do(t, "GET", "/v1/orders/abc/events", nil), 400, "non-numeric order id")
		s.expect(t, s.do(t, "GET", "/v1/orders/0/events", nil, "Accept", "text/event-stream"), 400, "order id 0 (SSE)")
	})

	t.Run("POST /v1/payments/{paymentId}:refund", func(t *testing.T) {
		body := map[string]any{"amountFen": "500", "reason": "partial goodwill"}
		s.expect(t, s.do(t, "POST", "/v1/payments/"+paymentID+":refund", body, "Idempotency-Key", "refund-0"), 403, "the buyer refunds")
		s := merchant
		r := s.expect(t, s.do(t, "POST", "/v1/payments/"+paymentID+":refund", body, "Idempotency-Key", "refund-1"), 200, "partial refund")
		refundID := r.str("refundId")
		if refundID == "" || r.str("requestId") != "refund-1" || r.str("amountFen") != "500" || r.str("paymentId") != paymentID {
			t.Fatalf("refund: %s", r.Raw)
		}
		again := s.expect(t, s.do(t, "POST", "/v1/payments/"+paymentID+":refund", body, "Idempotency-Key", "refund-1"), 200, "refund retry")
		if again.str("refundId") != refundID {
			t.Fatalf("retry made a second refund: %s vs %s", again.str("refundId"), refundID)
		}
		s.expect(t, s.do(t, "POST", "/v1/payments/"+paymentID+":refund", map[string]any{"amountFen": "99999999", "requestId": "refund-2"}), 400, "more than was paid")
		s.expect(t, s.do(t, "POST", "/v1/payments/"+paymentID+":refund", map[string]any{"amountFen": "0", "requestId": "refund-3"}), 400, "zero amount")
		s.expect(t, s.do(t, "POST", "/v1/payments/123456789:refund", map[string]any{"amountFen": "1", "requestId": "refund-4"}), 404, "unknown payment")

		got := s.expect(t, s.do(t, "GET", "/v1/refunds/"+refundID, nil), 200, "get refund")
		if got.str("refundId") != refundID || got.str("paymentId") != paymentID || got.str("amountFen") != "500" || got.str("status") == "" {
			t.Fatalf("refund: %s", got.Raw)
		}
		s.expect(t, s.do(t, "GET", "/v1/refunds/123456789", nil), 404, "unknown refund")
		s.expect(t, s.do(t, "GET", "/v1/refunds/abc", nil), 400, "non-numeric refund id")
	})
}

// firstStreamLine opens a streaming GET and returns the first line accepted by want.
func (s *stack) firstStreamLine(t *testing.T, path, accept string, want func(string) bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.baseURL+path, nil)
	req.Header.Set("Accept", accept)
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s (%s): HTTP %d", path, accept, resp.StatusCode)
	}
	if accept == "text/event-stream" && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("SSE content type %q", resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if want(sc.Text()) {
			return sc.Text()
		}
	}
	t.Fatalf("GET %s (%s): stream ended without a wanted line: %v", path, accept, sc.Err())
	return ""
}
