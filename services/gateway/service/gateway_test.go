package service_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/paysuite/paysuite/pkg/testkit"
)

// TestGatewayRoutes calls every route of the README's REST reference through the gateway with a
// good and a bad request, asserting what an HTTP client sees (purchaseRoutes holds those that
// need money to move); the OpenAPI check below then finds each of them in /openapi.json.
func TestGatewayRoutes(t *testing.T) {
	anonymous := startStack(t)
	user := testkit.UniqueName("u")
	s := anonymous.asUser(user)

	t.Run("GET /v1/skus", func(t *testing.T) {
		r := s.expect(t, s.do(t, "GET", "/v1/skus", nil), 200, "list skus")
		skus, _ := r.JSON["skus"].([]any)
		if len(skus) == 0 {
			t.Fatalf("empty catalog: %s", r.Raw)
		}
		first := skus[0].(map[string]any)
		for _, f := range []string{"skuId", "title", "kind", "priceFen", "stock"} {
			if _, ok := first[f]; !ok {
				t.Fatalf("sku lacks %q: %v", f, first)
			}
		}
		if _, ok := first["priceFen"].(string); !ok {
			t.Fatalf("priceFen is not an int64 string: %v", first["priceFen"])
		}
		if k := first["kind"]; k != "COURSE" && k != "GOODS" {
			t.Fatalf("kind is not an enum name: %v", k)
		}
		s.expect(t, s.do(t, "DELETE", "/v1/skus", nil), 405, "wrong method")
	})

	var orderID string
	t.Run("POST /v1/orders", func(t *testing.T) {
		body := map[string]any{"userId": user, "requestId": "r-1", "items": []map[string]any{{"skuId": "goods-sticker-pack", "quantity": 2}}}
		r := s.expect(t, s.do(t, "POST", "/v1/orders", body), 200, "create order")
		orderID = r.str("orderId")
		if orderID == "" || r.str("status") != "PENDING_PAYMENT" || r.str("totalFen") != "1980" || r.str("userId") != user {
			t.Fatalf("order: %s", r.Raw)
		}
		if _, ok := r.JSON["paidAt"]; !ok {
			t.Fatalf("unpopulated paidAt not emitted: %s", r.Raw)
		}
		again := s.expect(t, s.do(t, "POST", "/v1/orders", body), 200, "same requestId again")
		if again.str("orderId") != orderID {
			t.Fatalf("replay made order %s, want %s", again.str("orderId"), orderID)
		}

		other := map[string]any{"userId": user, "requestId": "r-1", "items": []map[string]any{{"skuId": "goods-gopher-mug", "quantity": 1}}}
		s.expect(t, s.do(t, "POST", "/v1/orders", other), 400, "reused requestId with other items")
		s.expect(t, s.do(t, "POST", "/v1/orders", map[string]any{"userId": user, "requestId": "r-2",
			"items": []map[string]any{{"skuId": "goods-gopher-mug", "quantity": 0}}}), 400, "quantity 0")
		s.expect(t, s.do(t, "POST", "/v1/orders", map[string]any{"userId": user, "requestId": "r-3",
			"items": []map[string]any{{"skuId": "no-such-sku", "quantity": 1}}}), 404, "unknown sku")
		s.expect(t, s.do(t, "POST", "/v1/orders", `{"userId":`), 400, "malformed JSON")
		s.expect(t, s.do(t, "POST", "/v1/orders", map[string]any{"userId": user, "requestID": "typo",
			"items": []map[string]any{{"skuId": "goods-gopher-mug", "quantity": 1}}}), 400, "unknown field")
		big := `{"userId":"` + strings.Repeat("x", 2<<20) + `"}`
		s.expect(t, s.do(t, "POST", "/v1/orders", big), 413, "body over 1 MiB")
	})

	t.Run("POST /v1/orders with Idempotency-Key", func(t *testing.T) {
		body := map[string]any{"userId": user, "items": []map[string]any{{"skuId": "goods-gopher-mug", "quantity": 1}}}
		r := s.expect(t, s.do(t, "POST", "/v1/orders", body, "Idempotency-Key", "idem-1"), 200, "keyed create")
		if r.str("requestId") != "idem-1" {
			t.Fatalf("Idempotency-Key not mapped onto requestId: %s", r.Raw)
		}
		again := s.expect(t, s.do(t, "POST", "/v1/orders", body, "Idempotency-Key", "idem-1"), 200, "keyed retry")
		if again.str("orderId") != r.str("orderId") {
			t.Fatalf("retry with the same key made a second order: %s vs %s", again.str("orderId"), r.str("orderId"))
		}
		body["requestId"] = "something-else"
		s.expect(t, s.do(t, "POST", "/v1/orders", body, "Idempotency-Key", "idem-1"), 400, "header and body disagree")
	})

	t.Run("GET /v1/orders/{orderId}", func(t *testing.T) {
		r := s.expect(t, s.do(t, "GET", "/v1/orders/"+orderID, nil), 200, "get order")
		items, _ := r.JSON["items"].([]any)
		if r.str("orderId") != orderID || len(items) != 1 || r.str("createdAt") == "" || r.str("payDeadline") == "" {
			t.Fatalf("order: %s", r.Raw)
		}
		s.expect(t, s.do(t, "GET", "/v1/orders/123456789", nil), 404, "unknown order")
		s.expect(t, s.do(t, "GET", "/v1/orders/not-a-number", nil), 400, "non-numeric id")
	})

	t.Run("GET /v1/users/{userId}/orders", func(t *testing.T) {
		r := s.expect(t, s.do(t, "GET", "/v1/users/"+user+"/orders?pageSize=1", nil), 200, "list orders page 1")
		orders, _ := r.JSON["orders"].([]any)
		token := r.str("nextPageToken")
		if len(orders) != 1 || token == "" {
			t.Fatalf("page 1: %s", r.Raw)
		}
		newest := orders[0].(map[string]any)["orderId"]
		if newest == orderID {
			t.Fatalf("newest first: the Idempotency-Key order came later than %s: %s", orderID, r.Raw)
		}
		r = s.expect(t, s.do(t, "GET", "/v1/users/"+user+"/orders?pageSize=1&pageToken="+token, nil), 200, "page 2")
		orders, _ = r.JSON["orders"].([]any)
		if len(orders) != 1 || orders[0].(map[string]any)["orderId"] != orderID {
			t.Fatalf("page 2 should hold the first order %s: %s", orderID, r.Raw)
		}
		s.expect(t, s.do(t, "GET", "/v1/users/"+user+"/orders?pageSize=abc", nil), 400, "non-numeric pageSize")
		s.expect(t, s.do(t, "GET", "/v1/users/"+user+"/orders?pageToken=garbage!", nil), 400, "forged pageToken")
	})

	t.Run("POST /v1/orders/{orderId}:cancel", func(t *testing.T) {
		r := s.expect(t, s.do(t, "POST", "/v1/orders/"+orderID+":cancel", map[string]any{}), 200, "cancel")
		if r.str("status") != "CANCELLED" || r.str("cancelledAt") == "" {
			t.Fatalf("cancelled order: %s", r.Raw)
		}
		s.expect(t, s.do(t, "POST", "/v1/orders/"+orderID+":cancel", map[string]any{}), 400, "cancel twice")
		s.expect(t, s.do(t, "POST", "/v1/orders/987654321:cancel", map[string]any{}), 404, "cancel unknown")
	})

	purchaseRoutes(t, s)

	t.Run("GET /openapi.json", func(t *testing.T) {
		r := s.expect(t, s.do(t, "GET", "/openapi.json", nil), 200, "openapi")
		var doc struct {
			Paths map[string]map[string]any `json:"paths"`
		}
		if err := json.Unmarshal([]byte(r.Raw), &doc); err != nil {
			t.Fatal(err)
		}
		for _, route := range publicRoutes {
			methods, ok := doc.Paths[route.path]
			if !ok {
				t.Errorf("openapi.json lacks %s", route.path)
				continue
			}
			if _, ok := methods[strings.ToLower(route.method)]; !ok {
				t.Errorf("openapi.json lacks %s %s", route.method, route.path)
			}
		}
	})

	t.Run("GET /", func(t *testing.T) {
		r := s.do(t, "GET", "/", nil)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("page: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		for _, id := range []string{`id="sku-list"`, `id="place-order"`, `id="qr-img"`, `id="sandbox-pay"`, `/assets/app.js`} {
			if !strings.Contains(r.Raw, id) {
				t.Fatalf("page lacks %s", id)
			}
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Fatalf("CSP: %q", csp)
		}
		if r := s.do(t, "GET", "/assets/app.js", nil); r.Status != 200 || !strings.Contains(r.Raw, "/v1/orders") {
			t.Fatalf("app.js: %d", r.Status)
		}
		if r := s.do(t, "GET", "/assets/nope.js", nil); r.Status != 404 {
			t.Fatalf("missing asset: %d", r.Status)
		}
		r = s.expect(t, s.do(t, "GET", "/ui/config.json", nil), 200, "page config")
		if r.JSON["devMode"] != true {
			t.Fatalf("dev mode: %s", r.Raw)
		}
	})

	t.Run("request id", func(t *testing.T) {
		r := s.do(t, "GET", "/v1/skus", nil, "X-Request-Id", "trace-me-42")
		if got := r.Header.Get("X-Request-Id"); got != "trace-me-42" {
			t.Fatalf("X-Request-Id echoed as %q", got)
		}
		if got := s.do(t, "GET", "/v1/skus", nil).Header.Get("X-Request-Id"); got == "" {
			t.Fatal("no X-Request-Id minted")
		}
	})

	t.Run("CORS is off unless configured", func(t *testing.T) {
		r := s.do(t, "OPTIONS", "/v1/orders", nil, "Origin", "https://elsewhere.example", "Access-Control-Request-Method", "POST")
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight allowed without GATEWAY_CORS_ORIGINS: %v", r.Header)
		}
	})
}

// publicRoutes are the JSON routes of proto/gateway.yaml (README, "Reference: REST"), as OpenAPI
// spells their paths.
var publicRoutes = []struct{ method, path string }{
	{"GET", "/v1/skus"},
	{"POST", "/v1/orders"},
	{"GET", "/v1/orders/{orderId}"},
	{"GET", "/v1/users/{userId}/orders"},
	{"POST", "/v1/orders/{orderId}:cancel"},
	{"POST", "/v1/orders/{orderId}/payments"},
	{"GET", "/v1/orders/{orderId}/payments"},
	{"GET", "/v1/payments/{paymentId}"},
	{"POST", "/v1/payments/{paymentId}:refund"},
	{"GET", "/v1/refunds/{refundId}"},
	{"GET", "/v1/anomalies"},
	{"GET", "/v1/users/{userId}/enrollments"},
	{"GET", "/v1/users/{userId}/courses/{courseId}/access"},
	{"GET", "/v1/users/{userId}/notifications"},
	{"GET", "/v1/orders/{orderId}/events"},
	{"POST", "/v1/webhooks"},
	{"GET", "/v1/webhooks"},
	{"DELETE", "/v1/webhooks/{subscriptionId}"},
	{"GET", "/v1/webhooks/{subscriptionId}/deliveries"},
	{"POST", "/v1/webhook-deliveries/{deliveryId}:resend"},
	{"POST", "/v1/reconciliations"},
	{"GET", "/v1/reconciliations"},
	{"GET", "/v1/reconciliations/{reconciliationId}"},
}
