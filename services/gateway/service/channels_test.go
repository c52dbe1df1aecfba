package service_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
)

// TestPaymentChannelsThroughTheGateway: what the REST surface asks of each new channel. The
// buyer's IP for H5 is the one the gateway saw, whatever the body claims; JSAPI needs an openId;
// a returnUrl off the allowlist is refused; nothing is created by a refused request.
func TestPaymentChannelsThroughTheGateway(t *testing.T) {
	s := startStack(t)
	user := testkit.UniqueName("rest-ch")
	buyer := s.asUser(user)
	o := s.expect(t, buyer.do(t, http.MethodPost, "/v1/orders", order(user, testkit.UniqueName("r"), "goods-sticker-pack")),
		http.StatusOK, "create order")
	pay := "/v1/orders/" + o.str("orderId") + "/payments"
	returnURL := s.baseURL + "/result"

	s.expect(t, buyer.do(t, http.MethodPost, pay, map[string]any{"channel": "WECHAT_JSAPI"}), http.StatusBadRequest, "JSAPI without openId")
	s.expect(t, buyer.do(t, http.MethodPost, pay, map[string]any{"channel": "ALIPAY_PAGE", "returnUrl": "https://evil.example/result"}),
		http.StatusBadRequest, "returnUrl off the allowlist")
	s.expect(t, buyer.do(t, http.MethodPost, pay, map[string]any{"channel": "ALIPAY_WAP", "returnUrl": s.baseURL + "/v1/skus"}),
		http.StatusBadRequest, "returnUrl on the gateway but off the allowed path")
	if r := buyer.do(t, http.MethodGet, pay, nil); strings.Contains(r.Raw, "paymentId") {
		t.Fatalf("refused requests created payments: %s", r.Raw)
	}

	// H5 with a made-up client IP in the body: the gateway's own view of the buyer wins.
	h5 := s.expect(t, buyer.do(t, http.MethodPost, pay, map[string]any{"channel": "WECHAT_H5", "clientIp": "not an address",
		"returnUrl": returnURL}), http.StatusOK, "H5")
	u, err := url.Parse(h5.str("payUrl"))
	if err != nil || !strings.HasSuffix(u.Path, "/h5/checkmweb") || u.Query().Get("redirect_url") != returnURL {
		t.Fatalf("H5 payUrl %q", h5.str("payUrl"))
	}
	page := s.expect(t, buyer.do(t, http.MethodPost, pay, map[string]any{"channel": "ALIPAY_PAGE", "returnUrl": returnURL}),
		http.StatusOK, "page pay")
	if !strings.HasPrefix(page.str("payUrl"), s.sandboxURL+"/gateway.do?") {
		t.Fatalf("page pay payUrl %q is not on the sandbox", page.str("payUrl"))
	}
	jsapi := s.expect(t, buyer.do(t, http.MethodPost, pay, map[string]any{"channel": "WECHAT_JSAPI", "openId": "oDevOpenId0000000000000000001"}),
		http.StatusOK, "JSAPI")
	params, _ := jsapi.JSON["jsapiParams"].(map[string]any)
	for _, k := range []string{"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} {
		if v, _ := params[k].(string); v == "" {
			t.Fatalf("jsapiParams lacks %s: %s", k, jsapi.Raw)
		}
	}
	// The WeChat client (the sandbox, through the dev shortcut) takes the signed parameters.
	body := map[string]any{"prepayId": strings.TrimPrefix(params["package"].(string), "prepay_id=")}
	for k, v := range params {
		body[k] = v
	}
	s.expect(t, buyer.do(t, http.MethodPost, "/dev/sandbox/pay", body), http.StatusOK, "JSAPI pay in the sandbox")
	testkit.Eventually(t, 30*time.Second, func() bool {
		return buyer.do(t, http.MethodGet, "/v1/orders/"+o.str("orderId"), nil).str("status") == "PAID"
	}, "the JSAPI payment never made the order PAID")

	// Each new channel buys a course end to end: paid through the sandbox (the dev shortcut plays
	// the browser or the WeChat client), order PAID, course enrolled.
	for _, ch := range []string{"ALIPAY_PAGE", "ALIPAY_WAP", "WECHAT_JSAPI", "WECHAT_H5"} {
		t.Run(ch+" enrols the course", func(t *testing.T) {
			user := testkit.UniqueName("rest-course")
			buyer := s.asUser(user)
			o := s.expect(t, buyer.do(t, http.MethodPost, "/v1/orders", order(user, testkit.UniqueName("r"), "course-go-concurrency")),
				http.StatusOK, "create order")
			req := map[string]any{"channel": ch, "returnUrl": returnURL}
			if ch == "WECHAT_JSAPI" {
				req = map[string]any{"channel": ch, "openId": "oDevOpenId0000000000000000002"}
			}
			p := s.expect(t, buyer.do(t, http.MethodPost, "/v1/orders/"+o.str("orderId")+"/payments", req), http.StatusOK, "pay "+ch)
			body := map[string]any{"payUrl": p.str("payUrl")}
			if j, ok := p.JSON["jsapiParams"].(map[string]any); ok && ch == "WECHAT_JSAPI" {
				body = map[string]any{"prepayId": strings.TrimPrefix(j["package"].(string), "prepay_id=")}
				for k, v := range j {
					body[k] = v
				}
			}
			s.expect(t, buyer.do(t, http.MethodPost, "/dev/sandbox/pay", body), http.StatusOK, "the buyer pays")
			testkit.Eventually(t, 30*time.Second, func() bool {
				r := buyer.do(t, http.MethodGet, "/v1/users/"+user+"/enrollments", nil)
				return buyer.do(t, http.MethodGet, "/v1/orders/"+o.str("orderId"), nil).str("status") == "PAID" &&
					strings.Contains(r.Raw, "course-go-concurrency") && strings.Contains(r.Raw, o.str("orderId"))
			}, "%s: the order never became PAID with the course enrolled", ch)
		})
	}

	// A forged return for somebody's payment is a 400 with nothing in it.
	r := s.expect(t, buyer.do(t, http.MethodPost, "/v1/payments:verifyReturn", map[string]any{"query": "out_trade_no=" + page.str("outTradeNo") + "&sign=AAAA&sign_type=RSA2"}),
		http.StatusBadRequest, "forged return")
	if strings.Contains(r.Raw, "paymentId") {
		t.Fatalf("forged return answered %s", r.Raw)
	}
}
