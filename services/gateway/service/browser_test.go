package service_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paysuite/paysuite/pkg/testkit"
)

// TestCashierPageBuysACourseInABrowser drives the cashier page in headless Chromium the way a
// person would: pick a course, order, choose Alipay, see the QR and countdown, pay with the
// sandbox button, watch the status turn PAID, and find the enrolment listed.
func TestCashierPageBuysACourseInABrowser(t *testing.T) {
	chromium := findChromium(t)
	s := startStack(t)
	user := testkit.UniqueName("web")
	const course = "course-payments-101"

	ctx := browser(t, chromium)
	shot := screenshotter(t, ctx)
	step := stepper(t, ctx, shot)

	var orderID, status, countdown, qrText string
	var qrWidth int
	step("open the page as "+user, openPageAs(s.baseURL, user, course)...)
	step("order the course",
		chromedp.Click(`#sku-list [data-sku-id="`+course+`"]`),
		chromedp.Click(`#place-order`),
		chromedp.WaitVisible(`#order-status.PENDING_PAYMENT`),
		chromedp.Text(`#order-id`, &orderID),
	)
	if !regexp.MustCompile(`^\d+$`).MatchString(orderID) {
		t.Fatalf("order id on the page: %q", orderID)
	}
	step("choose Alipay and see the QR code",
		append(chooseAlipay(&qrWidth, &countdown, &qrText), chromedp.WaitVisible(`#sandbox-pay`))...)
	if !regexp.MustCompile(`^\d\d:\d\d$`).MatchString(countdown) {
		t.Fatalf("countdown shows %q", countdown)
	}
	if qrWidth == 0 || !strings.HasPrefix(qrText, "http") {
		t.Fatalf("QR image width %d, code %q", qrWidth, qrText)
	}
	shot("cashier-qr.png")
	step("pay with the sandbox and watch the order turn PAID",
		chromedp.Click(`#sandbox-pay`),
		chromedp.WaitVisible(`#order-status.PAID`),
		chromedp.WaitVisible(`#payment-status.SUCCEEDED`),
		chromedp.Text(`#order-status`, &status),
	)
	if status != "PAID" {
		t.Fatalf("order status %q", status)
	}
	step("find the enrolment and the order in the lists",
		chromedp.WaitVisible(`#enrollments-list li[data-order-id="`+orderID+`"][data-course-id="`+course+`"]`),
		chromedp.WaitVisible(`#orders-list li[data-order-id="`+orderID+`"] .badge.PAID`),
	)
	shot("cashier-paid.png")
}

// screenshotter returns a function that saves a full-page screenshot under $ARTIFACTS_DIR (a
// temporary directory when unset). A failed screenshot is logged, not fatal.
// openPageAs opens the cashier page as user (kept in localStorage, as the page does) and waits
// for sku in the catalog.
func openPageAs(baseURL, user, sku string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Navigate(baseURL + "/"),
		chromedp.Evaluate(fmt.Sprintf(`localStorage.setItem('paysuite.userId', %q)`, user), nil),
		chromedp.Navigate(baseURL + "/"),
		chromedp.WaitVisible(`#sku-list [data-sku-id="` + sku + `"]`),
	}
}

// chooseAlipay pays the open order by Alipay and waits for the QR image, reading what it shows.
func chooseAlipay(qrWidth *int, countdown, qrText *string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Click(`#pay-alipay`),
		chromedp.WaitVisible(`#qr-img`),
		chromedp.Poll(`document.getElementById('qr-img').naturalWidth`, qrWidth),
		chromedp.Text(`#countdown`, countdown),
		chromedp.Text(`#qr-code`, qrText),
		chromedp.WaitVisible(`#payment-status.WAITING`),
	}
}

func screenshotter(t *testing.T, ctx context.Context) func(name string) {
	return func(name string) {
		t.Helper()
		var png []byte
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Run(sctx, chromedp.FullScreenshot(&png, 100)); err != nil {
			t.Logf("screenshot %s: %v", name, err)
			return
		}
		dir := os.Getenv("ARTIFACTS_DIR")
		if dir == "" {
			dir = t.TempDir()
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Logf("artifacts dir: %v", err)
			return
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Logf("write screenshot: %v", err)
			return
		}
		t.Logf("screenshot: %s", path)
	}
}

// stepper returns a function that runs browser actions with a generous bound and, on failure,
// saves cashier-failed.png and fails the test.
func stepper(t *testing.T, ctx context.Context, shot func(string)) func(what string, actions ...chromedp.Action) {
	return func(what string, actions ...chromedp.Action) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Run(sctx, actions...); err != nil {
			shot("cashier-failed.png")
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// findChromium returns the browser to drive. A missing browser fails the test: skipping would
// hide that the page is untested.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium not found: install it with `apt-get install -y chromium` (.ci/run does this), or set CHROMIUM_PATH")
	return ""
}

// browser starts headless Chromium with a fresh profile and the flags this offline machine
// needs (no sandboxing as root, no network chatter to Google).
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 1100),
	)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser and binds it to its context: no timeout here.
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start Chromium at %s: %v", path, err)
	}
	return ctx
}
