package service_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paysuite/paysuite/pkg/testkit"
)

// TestCashierPageShowsTheDeadlineCancel drives the other live outcome of the cashier page: an
// order left unpaid turns CANCELLED at its deadline while the page stays open (no reload), its
// payment is closed, the stock comes back, and the closed QR code can no longer be paid.
func TestCashierPageShowsTheDeadlineCancel(t *testing.T) {
	chromium := findChromium(t)
	// Short deadlines so the test watches a real expiry in seconds. The provider trade must end
	// before the order (PROVIDER_TRADE_TIMEOUT < ORDER_PAY_TIMEOUT), and a payment is refused when
	// under a second of it would be left, so the order gets enough time for the page to choose a
	// channel even on a loaded machine.
	s := startStack(t, withShortDeadlines(6*time.Second, 5*time.Second))
	user := testkit.UniqueName("web-unpaid")
	browserless := s.asUser(user) // what the test itself reads, as the buyer
	const sku, quantity = "goods-hoodie", 2
	stockBefore := s.stock(t, sku)

	ctx := browser(t, chromium)
	shot := screenshotter(t, ctx)
	step := stepper(t, ctx, shot)

	var orderID, countdown, qrText, result string
	var qrWidth int
	step("open the page as "+user, append(openPageAs(s.baseURL, user, sku),
		// A reload would drop this mark: at the end it proves the page changed by itself.
		chromedp.Evaluate(`window.paysuiteTestMark = 'same page'`, nil))...)
	step(fmt.Sprintf("order %d × %s", quantity, sku),
		chromedp.Click(`#sku-list [data-sku-id="`+sku+`"]`),
		chromedp.SetValue(`#qty`, fmt.Sprint(quantity), chromedp.ByQuery),
		chromedp.Click(`#place-order`),
		chromedp.WaitVisible(`#order-status.PENDING_PAYMENT`),
		chromedp.Text(`#order-id`, &orderID),
	)
	if !regexp.MustCompile(`^\d+$`).MatchString(orderID) {
		t.Fatalf("order id on the page: %q", orderID)
	}
	step("choose Alipay and see the QR code and countdown", chooseAlipay(&qrWidth, &countdown, &qrText)...)
	// The countdown is a few seconds at most; a slow machine may already show it expired.
	if !regexp.MustCompile(`^(\d\d:\d\d|expired)$`).MatchString(countdown) {
		t.Fatalf("countdown shows %q", countdown)
	}
	if qrWidth == 0 || !strings.HasPrefix(qrText, "http") {
		t.Fatalf("QR image width %d, code %q", qrWidth, qrText)
	}

	// The order holds its stock while unpaid. Read the stock, then the order: if the order was
	// still unpaid after the stock was read, the stock must have been held at that moment.
	if held := s.stock(t, sku); browserless.do(t, "GET", "/v1/orders/"+orderID, nil).str("status") == "PENDING_PAYMENT" && held != stockBefore-quantity {
		t.Fatalf("stock of %s while the order is unpaid: %d, want %d", sku, held, stockBefore-quantity)
	}

	// Nobody pays. The page must show the cancel by itself (SSE / poll), however long it takes.
	var mark string
	var sandboxHidden bool
	var paymentURLs []string
	step("wait, without paying, until the page shows the order CANCELLED",
		chromedp.WaitVisible(`#order-status.CANCELLED`),
		chromedp.WaitVisible(`#payment-status.CLOSED`),
		chromedp.WaitVisible(`#result.CANCELLED`),
		chromedp.Text(`#result`, &result),
		chromedp.WaitVisible(`#orders-list li[data-order-id="`+orderID+`"] .badge.CANCELLED`),
		chromedp.Evaluate(`window.paysuiteTestMark || ''`, &mark),
		chromedp.Evaluate(`document.getElementById('sandbox-pay').hidden`, &sandboxHidden),
		// The payment id is not shown; the page's own polls of GET /v1/payments/{id} name it.
		chromedp.Evaluate(`performance.getEntriesByType('resource').map((e) => e.name)`, &paymentURLs),
	)
	shot("cashier-cancelled.png")
	if mark != "same page" {
		t.Fatalf("the page was reloaded (mark %q)", mark)
	}
	if !strings.Contains(result, "TIMEOUT") {
		t.Fatalf("result line %q does not name the TIMEOUT", result)
	}
	// The sandbox pay button is gone once the order is over, so a person cannot even try.
	if !sandboxHidden {
		t.Fatal("the sandbox pay button is still offered after the cancel")
	}

	o := s.expect(t, browserless.do(t, "GET", "/v1/orders/"+orderID, nil), 200, "cancelled order")
	if o.str("status") != "CANCELLED" || o.str("cancelReason") != "TIMEOUT" || o.str("cancelledAt") == "" || o.str("paidAt") != "" {
		t.Fatalf("order after the deadline: %s", o.Raw)
	}
	paymentID := ""
	re := regexp.MustCompile(`/v1/payments/(\d+)$`)
	for _, u := range paymentURLs {
		if m := re.FindStringSubmatch(u); m != nil {
			paymentID = m[1]
		}
	}
	if paymentID == "" {
		t.Fatalf("the page never fetched its payment; resources: %v", paymentURLs)
	}
	p := s.expect(t, browserless.do(t, "GET", "/v1/payments/"+paymentID, nil), 200, "closed payment")
	if p.str("status") != "CLOSED" || p.str("orderId") != orderID || p.str("qrCode") != qrText || p.str("paidAt") != "" {
		t.Fatalf("payment after the deadline: %s", p.Raw)
	}
	if got := s.stock(t, sku); got != stockBefore {
		t.Fatalf("stock of %s after the cancel: %d, want %d back", sku, got, stockBefore)
	}

	// A buyer scanning the closed QR anyway: the sandbox refuses, and nothing turns PAID.
	s.expect(t, s.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": qrText}), http.StatusConflict, "pay a closed QR")
	if o := browserless.do(t, "GET", "/v1/orders/"+orderID, nil); o.str("status") != "CANCELLED" {
		t.Fatalf("order after paying the closed QR: %s", o.Raw)
	}
	if p := browserless.do(t, "GET", "/v1/payments/"+paymentID, nil); p.str("status") != "CLOSED" {
		t.Fatalf("payment after paying the closed QR: %s", p.Raw)
	}
}

// stock returns the catalog's stock for one SKU.
func (s *stack) stock(t *testing.T, skuID string) int64 {
	t.Helper()
	r := s.expect(t, s.do(t, "GET", "/v1/skus", nil), http.StatusOK, "list skus")
	skus, _ := r.JSON["skus"].([]any)
	for _, v := range skus {
		if m, _ := v.(map[string]any); m["skuId"] == skuID {
			var n int64
			if _, err := fmt.Sscan(fmt.Sprint(m["stock"]), &n); err != nil {
				t.Fatalf("stock of %s: %v", skuID, m["stock"])
			}
			return n
		}
	}
	t.Fatalf("sku %s not in the catalog: %s", skuID, r.Raw)
	return 0
}
