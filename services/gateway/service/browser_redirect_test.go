package service_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/paysuite/paysuite/pkg/testkit"
)

// TestCashierPageBuysACourseWithAlipayPagePay drives the PC flow in headless Chromium: order a
// course, choose Alipay (page pay), leave for the sandbox's Alipay cashier, log in and pay there,
// come back to the return page with Alipay's signed parameters, and see the order PAID — shown
// from the server, not from the link. Then a forged return link (another trade's number put on
// the genuine parameters) for a second, unpaid order shows it still unpaid and changes nothing.
func TestCashierPageBuysACourseWithAlipayPagePay(t *testing.T) {
	chromium := findChromium(t)
	s := startStack(t)
	user := testkit.UniqueName("web-page")
	buyer := s.asUser(user)
	const course = "course-payments-101"

	ctx := browser(t, chromium)
	shot := screenshotter(t, ctx)
	step := stepper(t, ctx, shot)

	var orderID, cashierURL, returnURL, device string
	step("open the page as "+user, openPageAs(s.baseURL, user, course)...)
	step("order the course",
		chromedp.Click(`#sku-list [data-sku-id="`+course+`"]`),
		chromedp.Click(`#place-order`),
		chromedp.WaitVisible(`#order-status.PENDING_PAYMENT`),
		chromedp.Text(`#order-id`, &orderID),
	)
	step("a computer is offered Alipay page pay and the two QR codes, not WAP, H5 or JSAPI",
		chromedp.Text(`#device`, &device),
		chromedp.WaitVisible(`#pay-alipay-page`), chromedp.WaitVisible(`#pay-alipay`), chromedp.WaitVisible(`#pay-wechat`),
		chromedp.WaitNotVisible(`#pay-alipay-wap`), chromedp.WaitNotVisible(`#pay-wechat-h5`), chromedp.WaitNotVisible(`#pay-wechat-jsapi`),
	)
	if device != "a computer" {
		t.Fatalf("device shown: %q", device)
	}
	step("choose Alipay and land on the provider's cashier",
		chromedp.Click(`#pay-alipay-page`),
		chromedp.WaitVisible(`#login`),
		chromedp.Location(&cashierURL),
	)
	if !strings.HasPrefix(cashierURL, s.sandboxURL+"/") {
		t.Fatalf("the browser went to %s, not the sandbox's cashier at %s", cashierURL, s.sandboxURL)
	}
	shot("alipay-page-cashier.png")
	step("log in and pay on the cashier; the browser comes back to the return page",
		chromedp.Click(`#login`),
		chromedp.WaitVisible(`#logged-in`),
		chromedp.Click(`#pay`),
		chromedp.WaitVisible(`#return-panel`),
		chromedp.WaitVisible(`#return-check.verified`),
		chromedp.WaitVisible(`#return-order-status.PAID`),
		chromedp.WaitVisible(`#return-payment-status.SUCCEEDED`),
		chromedp.Location(&returnURL),
	)
	if !strings.HasPrefix(returnURL, s.baseURL+"/result?") || !strings.Contains(returnURL, "sign=") {
		t.Fatalf("returned to %s, want %s/result with Alipay's signed parameters", returnURL, s.baseURL)
	}
	shot("alipay-page-result.png")
	testkit.Eventually(t, 30*time.Second, func() bool {
		r := buyer.do(t, http.MethodGet, "/v1/users/"+user+"/enrollments", nil)
		return r.Status == http.StatusOK && strings.Contains(r.Raw, course) && strings.Contains(r.Raw, orderID)
	}, "the course was never enrolled for order %s", orderID)

	// A second order, left unpaid on the cashier; then a forged return for it.
	var unpaidOrderID string
	step("order again and leave for the cashier without paying",
		chromedp.Navigate(s.baseURL+"/"),
		chromedp.WaitVisible(`#sku-list [data-sku-id="goods-sticker-pack"]`),
		chromedp.Click(`#sku-list [data-sku-id="goods-sticker-pack"]`),
		chromedp.Click(`#place-order`),
		chromedp.WaitVisible(`#order-status.PENDING_PAYMENT`),
		chromedp.Text(`#order-id`, &unpaidOrderID),
		chromedp.Click(`#pay-alipay-page`),
		chromedp.WaitVisible(`#login`),
	)
	payments := buyer.do(t, http.MethodGet, "/v1/orders/"+unpaidOrderID+"/payments", nil)
	list, _ := payments.JSON["payments"].([]any)
	if payments.Status != http.StatusOK || len(list) != 1 {
		t.Fatalf("payments of the unpaid order: %d %s", payments.Status, payments.Raw)
	}
	unpaid, _ := list[0].(map[string]any)
	u, err := url.Parse(returnURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("out_trade_no", unpaid["outTradeNo"].(string))
	q.Set("total_amount", "0.01")
	u.RawQuery = q.Encode()
	step("a forged return link shows the true state: unpaid",
		chromedp.Navigate(u.String()),
		chromedp.WaitVisible(`#return-check.forged`),
		chromedp.WaitVisible(`#return-payment-status.WAITING`),
		chromedp.WaitVisible(`#return-order-status.PENDING_PAYMENT`),
	)
	shot("alipay-page-forged-return.png")
	if r := buyer.do(t, http.MethodGet, "/v1/orders/"+unpaidOrderID, nil); r.str("status") != "PENDING_PAYMENT" {
		t.Fatalf("after a forged return the order is %s", r.Raw)
	}
}

// TestCashierPagePaysWithWechatH5OnAPhone: a phone's browser is offered Alipay WAP and WeChat
// H5; H5 goes to the sandbox's WeChat cashier and comes back to the return page without any
// parameters, which asks the server and shows the order PAID.
func TestCashierPagePaysWithWechatH5OnAPhone(t *testing.T) {
	chromium := findChromium(t)
	s := startStack(t)
	user := testkit.UniqueName("web-h5")
	const sku = "goods-sticker-pack"

	ctx := browser(t, chromium)
	shot := screenshotter(t, ctx)
	step := stepper(t, ctx, shot)

	var returnURL string
	step("open the page on a phone as "+user,
		chromedp.Navigate(s.baseURL+"/?device=mobile"),
		chromedp.Evaluate(`localStorage.setItem('paysuite.userId', '`+user+`')`, nil),
		chromedp.Navigate(s.baseURL+"/?device=mobile"),
		chromedp.WaitVisible(`#sku-list [data-sku-id="`+sku+`"]`),
	)
	step("order; a phone is offered Alipay WAP and WeChat H5 only",
		chromedp.Click(`#sku-list [data-sku-id="`+sku+`"]`),
		chromedp.Click(`#place-order`),
		chromedp.WaitVisible(`#order-status.PENDING_PAYMENT`),
		chromedp.WaitVisible(`#pay-alipay-wap`), chromedp.WaitVisible(`#pay-wechat-h5`),
		chromedp.WaitNotVisible(`#pay-alipay-page`), chromedp.WaitNotVisible(`#pay-alipay`), chromedp.WaitNotVisible(`#pay-wechat-jsapi`),
	)
	step("pay with WeChat H5 on the sandbox's cashier",
		chromedp.Click(`#pay-wechat-h5`),
		chromedp.WaitVisible(`#pay`),
		chromedp.Click(`#pay`),
		chromedp.WaitVisible(`#return-check.unverified`),
		chromedp.WaitVisible(`#return-order-status.PAID`),
		chromedp.WaitVisible(`#return-payment-status.SUCCEEDED`),
		chromedp.Location(&returnURL),
	)
	if returnURL != s.baseURL+"/result" {
		t.Fatalf("returned to %s, want %s/result", returnURL, s.baseURL)
	}
	shot("wechat-h5-result.png")
}

// TestCashierPagePaysWithJSAPIInsideWeChat: inside WeChat (told by the user agent) the page
// offers JSAPI only; the signed parameters go to the WeChat client, here the sandbox playing it
// (dev mode, no WeixinJSBridge), which checks paySign before paying; the order turns PAID live.
func TestCashierPagePaysWithJSAPIInsideWeChat(t *testing.T) {
	chromium := findChromium(t)
	s := startStack(t)
	user := testkit.UniqueName("web-jsapi")
	const sku = "goods-sticker-pack"

	ctx := browser(t, chromium)
	shot := screenshotter(t, ctx)
	step := stepper(t, ctx, shot)

	const weChatUA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) " +
		"Chrome/120.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) NetType/WIFI Language/zh_CN"
	step("open the page inside WeChat as "+user, append(chromedp.Tasks{emulation.SetUserAgentOverride(weChatUA)},
		openPageAs(s.baseURL, user, sku)...)...)
	step("order; WeChat is offered JSAPI only",
		chromedp.Click(`#sku-list [data-sku-id="`+sku+`"]`),
		chromedp.Click(`#place-order`),
		chromedp.WaitVisible(`#order-status.PENDING_PAYMENT`),
		chromedp.WaitVisible(`#pay-wechat-jsapi`),
		chromedp.WaitNotVisible(`#pay-alipay-page`), chromedp.WaitNotVisible(`#pay-alipay-wap`), chromedp.WaitNotVisible(`#pay-wechat-h5`),
		chromedp.WaitNotVisible(`#pay-wechat`), chromedp.WaitNotVisible(`#pay-alipay`),
	)
	step("pay with JSAPI through the WeChat client (the sandbox) and watch the order turn PAID",
		chromedp.Click(`#pay-wechat-jsapi`),
		chromedp.WaitVisible(`#payment-status.WAITING`),
		chromedp.WaitNotVisible(`#qr-figure`),
		chromedp.Click(`#sandbox-pay`),
		chromedp.WaitVisible(`#order-status.PAID`),
		chromedp.WaitVisible(`#payment-status.SUCCEEDED`),
	)
	shot("wechat-jsapi-paid.png")
}
