package service_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
)

// TestEveryRouteAgainstEveryToken sends every /v1 route with each kind of token a client may
// bring (none, expired, wrong issuer, wrong audience, alg none, HS256 signed with the public
// key, a foreign key, another user, the owner, merchant staff), checks the status each gets and
// that the refused ones changed nothing: orders, payments, refunds, stock, webhooks. Another
// user's resource answers exactly as an id nobody has.
func TestEveryRouteAgainstEveryToken(t *testing.T) {
	base := startStack(t)
	owner, other := testkit.UniqueName("owner"), testkit.UniqueName("other")
	merchant := base.as(base.tokens.Merchant(testkit.UniqueName("staff")))
	buyer := base.asUser(owner)
	const good, course = "goods-sticker-pack", "course-mysql-tuning"

	// The owner's world: a paid order with a refund, an unpaid one, webhooks with a delivery.
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()
	sub := merchant.expect(t, merchant.do(t, "POST", "/v1/webhooks", map[string]any{"url": hook.URL}), 200, "subscribe")
	subID := sub.str("subscriptionId")
	spare := merchant.expect(t, merchant.do(t, "POST", "/v1/webhooks", map[string]any{"url": hook.URL + "/spare"}), 200, "subscribe again").str("subscriptionId")
	paid := buyer.expect(t, buyer.do(t, "POST", "/v1/orders", order(owner, "paid", good)), 200, "order").str("orderId")
	pay := buyer.expect(t, buyer.do(t, "POST", "/v1/orders/"+paid+"/payments", map[string]any{"channel": "ALIPAY_QR"}), 200, "pay")
	paymentID := pay.str("paymentId")
	base.expect(t, base.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": pay.str("qrCode")}), 200, "buyer pays")
	testkit.Eventually(t, 30*time.Second, func() bool { return buyer.do(t, "GET", "/v1/orders/"+paid, nil).str("status") == "PAID" }, "never PAID")
	refundID := merchant.expect(t, merchant.do(t, "POST", "/v1/payments/"+paymentID+":refund",
		map[string]any{"amountFen": "10", "requestId": "setup"}), 200, "refund").str("refundId")
	unpaid := buyer.expect(t, buyer.do(t, "POST", "/v1/orders", order(owner, "unpaid", good)), 200, "order").str("orderId")
	var deliveryID string
	testkit.Eventually(t, 30*time.Second, func() bool {
		list, _ := merchant.do(t, "GET", "/v1/webhooks/"+subID+"/deliveries", nil).JSON["deliveries"].([]any)
		if len(list) > 0 {
			deliveryID, _ = list[0].(map[string]any)["deliveryId"].(string)
		}
		return deliveryID != ""
	}, "no webhook delivery for the payment")

	tokens := []struct{ kind, token string }{
		{"no token", ""},
		{"expired", base.tokens.Expired(owner)},
		{"wrong issuer", base.tokens.WrongIssuer(owner)},
		{"wrong audience", base.tokens.WrongAudience(owner)},
		{"alg none", base.tokens.AlgNone(owner)},
		{"HS256 with the public key", base.tokens.HS256WithPublicKey(owner)},
		{"foreign key", base.tokens.ForeignKey(owner)},
		{"another user", base.tokens.For(other)},
		{"merchant", merchant.token},
		{"owner", buyer.token}, // last: the owner's successes change things
	}
	type want struct{ other, merchant, owner int } // the bad tokens all get 401
	seq := 0
	routes := []struct {
		method, path string
		body         func() any
		accept       string
		want         want
	}{
		{"GET", "/v1/skus", nil, "", want{200, 200, 200}},
		{"POST", "/v1/orders", func() any { seq++; return order(owner, fmt.Sprint("new-", seq), good) }, "", want{403, 403, 200}},
		{"GET", "/v1/orders/" + paid, nil, "", want{404, 200, 200}},
		{"GET", "/v1/users/" + owner + "/orders", nil, "", want{403, 200, 200}},
		{"POST", "/v1/orders/" + unpaid + "/payments", func() any { return map[string]any{"channel": "WECHAT_NATIVE"} }, "", want{404, 403, 200}},
		{"POST", "/v1/orders/" + unpaid + ":cancel", func() any { return map[string]any{} }, "", want{404, 403, 200}},
		{"GET", "/v1/orders/" + paid + "/payments", nil, "", want{404, 200, 200}},
		{"GET", "/v1/payments/" + paymentID, nil, "", want{404, 200, 200}},
		{"POST", "/v1/payments/" + paymentID + ":refund", func() any { seq++; return map[string]any{"amountFen": "1", "requestId": fmt.Sprint("r-", seq)} }, "", want{403, 200, 403}},
		{"GET", "/v1/refunds/" + refundID, nil, "", want{404, 200, 200}},
		{"GET", "/v1/anomalies", nil, "", want{403, 200, 403}},
		{"GET", "/v1/users/" + owner + "/enrollments", nil, "", want{403, 200, 200}},
		{"GET", "/v1/users/" + owner + "/courses/" + course + "/access", nil, "", want{403, 200, 200}},
		{"GET", "/v1/users/" + owner + "/notifications", nil, "", want{403, 200, 200}},
		{"GET", "/v1/orders/" + paid + "/events", nil, "text/event-stream", want{404, 200, 200}},
		{"GET", "/v1/orders/" + paid + "/events", nil, "application/json", want{404, 200, 200}},
		{"POST", "/v1/webhooks", func() any { return map[string]any{"url": hook.URL + "/more"} }, "", want{403, 200, 403}},
		{"GET", "/v1/webhooks", nil, "", want{403, 200, 403}},
		{"GET", "/v1/webhooks/" + subID + "/deliveries", nil, "", want{403, 200, 403}},
		{"POST", "/v1/webhook-deliveries/" + deliveryID + ":resend", func() any { return map[string]any{} }, "", want{403, 200, 403}},
		{"DELETE", "/v1/webhooks/" + spare, nil, "", want{403, 200, 403}},
		// Reconciliation is staff's; today's bill is not ready yet at the sandbox (as at the
		// providers), which staff are told with 400 (FailedPrecondition).
		{"POST", "/v1/reconciliations", func() any {
			return map[string]any{"channel": "ALIPAY_QR", "billDate": time.Now().UTC().Add(8 * time.Hour).Format("2006-01-02")}
		}, "", want{403, 400, 403}},
		{"GET", "/v1/reconciliations", nil, "", want{403, 200, 403}},
		{"GET", "/v1/reconciliations/" + unknownID, nil, "", want{403, 404, 403}},
	}
	deliveries := func() []any {
		ds, _ := merchant.do(t, "GET", "/v1/webhooks/"+subID+"/deliveries", nil).JSON["deliveries"].([]any)
		return ds
	}
	snapshot := func() map[string]any {
		facts := map[string]any{"stock": base.stock(t, good)}
		for _, id := range []string{paid, unpaid} {
			o := merchant.do(t, "GET", "/v1/orders/"+id, nil)
			facts["order "+id] = o.str("status") + " refunded " + o.str("refundedFen")
			ps, _ := merchant.do(t, "GET", "/v1/orders/"+id+"/payments", nil).JSON["payments"].([]any)
			facts["payments of "+id] = len(ps)
		}
		p := merchant.do(t, "GET", "/v1/payments/"+paymentID, nil)
		facts["payment"] = p.str("status") + " refunded " + p.str("refundedFen")
		os, _ := merchant.do(t, "GET", "/v1/users/"+owner+"/orders?pageSize=100", nil).JSON["orders"].([]any)
		facts["orders of the owner"] = len(os)
		subs, _ := merchant.do(t, "GET", "/v1/webhooks", nil).JSON["subscriptions"].([]any)
		facts["subscriptions"] = len(subs)
		ds, _ := merchant.do(t, "GET", "/v1/webhooks/"+subID+"/deliveries", nil).JSON["deliveries"].([]any)
		facts["deliveries"] = fmt.Sprint(ds)
		return facts
	}

	for _, rt := range routes {
		name := rt.method + " " + strings.Replace(rt.path, owner, "{owner}", 1)
		if rt.accept != "" {
			name += " (" + rt.accept + ")"
		}
		t.Run(name, func(t *testing.T) {
			// Each run of refused requests is checked against the state before it; a success
			// (the owner's, or staff's) takes a fresh picture.
			before, refusedSince := snapshot(), false
			checkUnchanged := func() {
				if after := snapshot(); refusedSince && !reflect.DeepEqual(before, after) {
					t.Fatalf("refused requests changed something:\nbefore %v\nafter  %v", before, after)
				}
				refusedSince = false
			}
			defer checkUnchanged()
			for _, tk := range tokens {
				status := http.StatusUnauthorized
				switch {
				case rt.path == "/v1/skus":
					status = http.StatusOK
				case tk.kind == "another user":
					status = rt.want.other
				case tk.kind == "merchant":
					status = rt.want.merchant
				case tk.kind == "owner":
					status = rt.want.owner
				}
				if status < 400 {
					checkUnchanged()
				}
				var body any
				if rt.body != nil {
					body = rt.body()
				}
				headers := []string{}
				if rt.accept != "" {
					headers = append(headers, "Accept", rt.accept)
				}
				refund := rt.method == "POST" && strings.HasSuffix(rt.path, ":refund") && status < 400
				delivered := 0
				if refund {
					delivered = len(deliveries())
				}
				r := base.as(tk.token).do(t, rt.method, rt.path, body, headers...)
				if refund && r.Status == status {
					// A refund settles and its webhook goes out after the answer: take the fresh
					// picture once that is over, or the refused requests after it seem to change it.
					testkit.Eventually(t, 30*time.Second, func() bool {
						ds := deliveries()
						return len(ds) > delivered && !strings.Contains(fmt.Sprint(ds), "status:PENDING")
					}, "the refund's webhook was never delivered")
				}
				if status < 400 {
					before = snapshot()
				} else {
					refusedSince = true
				}
				if rt.accept == "application/json" && r.JSON["error"] != nil {
					r.JSON, _ = r.JSON["error"].(map[string]any) // grpc-gateway's error chunk of a stream
				}
				if r.Status != status {
					t.Errorf("%s: HTTP %d, want %d; body %.200s", tk.kind, r.Status, status, r.Raw)
					continue
				}
				if status == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
					t.Errorf("%s: 401 without the Bearer challenge: %q", tk.kind, r.Header.Get("WWW-Authenticate"))
				}
				if status >= 400 && (r.JSON["code"] == nil || r.str("message") == "") {
					t.Errorf("%s: error body lacks code/message: %.200s", tk.kind, r.Raw)
				}
				if status == http.StatusOK && tk.kind != "owner" && tk.kind != "merchant" && rt.path != "/v1/skus" {
					t.Errorf("%s got through", tk.kind)
				}
				if tk.kind == "another user" && status == http.StatusNotFound {
					// Its existence is not revealed: the same answer as for an id nobody has.
					id := idIn(rt.path, paid, unpaid, paymentID, refundID)
					unknown := base.as(tk.token).do(t, rt.method, strings.Replace(rt.path, id, unknownID, 1), body, headers...)
					if rt.accept == "application/json" && unknown.JSON["error"] != nil {
						unknown.JSON, _ = unknown.JSON["error"].(map[string]any)
					}
					if unknown.Status != r.Status || strings.ReplaceAll(r.str("message"), id, unknownID) != unknown.str("message") {
						t.Errorf("another user's resource answers %d %q, an unknown one %d %q", r.Status, r.str("message"), unknown.Status, unknown.str("message"))
					}
				}
			}
		})
	}
}

// unknownID is an id no order, payment or refund has (ids are snowflakes, far larger).
const unknownID = "4242"

// idIn returns the one of ids that path names.
func idIn(path string, ids ...string) string {
	for _, id := range ids {
		if strings.Contains(path, "/"+id) {
			return id
		}
	}
	return ""
}

func order(user, request, sku string) map[string]any {
	return map[string]any{"userId": user, "requestId": request, "items": []map[string]any{{"skuId": sku, "quantity": 1}}}
}
