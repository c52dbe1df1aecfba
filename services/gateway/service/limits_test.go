package service_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
)

// TestPendingOrderCapUnderABurst: 20 concurrent creates by one user with the default cap of 10:
// exactly 10 orders, the other 10 answered 429, and only 10 orders' stock is held.
func TestPendingOrderCapUnderABurst(t *testing.T) {
	s := startStack(t)
	user := testkit.UniqueName("burst")
	buyer := s.asUser(user)
	const sku = "goods-sticker-pack"
	stock := s.stock(t, sku)

	codes := make(chan int, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { codes <- buyer.do(t, "POST", "/v1/orders", order(user, fmt.Sprint("burst-", i), sku)).Status })
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[200] != 10 || count[429] != 10 {
		t.Fatalf("statuses %v, want exactly 10 × 200 and 10 × 429", count)
	}
	list, _ := buyer.do(t, "GET", "/v1/users/"+user+"/orders?pageSize=100", nil).JSON["orders"].([]any)
	if len(list) != 10 || s.stock(t, sku) != stock-10 {
		t.Fatalf("%d orders stored and stock %d → %d; want 10 orders holding 10", len(list), stock, s.stock(t, sku))
	}
}

// TestGatewayRateLimits: past its burst a user gets 429 with Retry-After; another user is not
// affected.
func TestGatewayRateLimits(t *testing.T) {
	s := startStack(t, func(o *stackOptions) { o.userLimit = stackRate(0.2, 3) })
	alice, bob := s.asUser("alice-rl"), s.asUser("bob-rl")
	var last response
	for range 4 {
		last = alice.do(t, "GET", "/v1/users/alice-rl/orders", nil)
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("4th request in a burst of 3: HTTP %d, Retry-After %q; want 429 with Retry-After", last.Status, last.Header.Get("Retry-After"))
	}
	s.expect(t, last, http.StatusTooManyRequests, "over the limit")
	s.expect(t, bob.do(t, "GET", "/v1/users/bob-rl/orders", nil), http.StatusOK, "another user")
}

// TestLiveOrderStream: another user's order is refused before any stream opens; the owner's
// stream closes by itself once the order is PAID; a user holds at most 5 streams.
func TestLiveOrderStream(t *testing.T) {
	s := startStack(t)
	user := testkit.UniqueName("watcher")
	buyer := s.asUser(user)
	o := buyer.expect(t, buyer.do(t, "POST", "/v1/orders", order(user, "watched", "goods-sticker-pack")), 200, "order").str("orderId")

	refused := s.asUser(testkit.UniqueName("snoop")).do(t, "GET", "/v1/orders/"+o+"/events", nil, "Accept", "text/event-stream")
	if refused.Status != http.StatusNotFound || strings.HasPrefix(refused.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("another user's stream: HTTP %d %s, want a 404 JSON error and no stream", refused.Status, refused.Header.Get("Content-Type"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events := buyer.openStream(t, ctx, "/v1/orders/"+o+"/events")
	p := buyer.expect(t, buyer.do(t, "POST", "/v1/orders/"+o+"/payments", map[string]any{"channel": "ALIPAY_QR"}), 200, "pay")
	s.expect(t, s.do(t, "POST", "/dev/sandbox/pay", map[string]any{"qrCode": p.str("qrCode")}), 200, "buyer pays")
	var seen []string
	for line := range events { // ends when the gateway closes the stream
		seen = append(seen, line)
	}
	all := strings.Join(seen, "\n")
	if ctx.Err() != nil || !strings.Contains(all, `"status":"PAYMENT_SUCCEEDED"`) || !strings.Contains(all, "event: end") {
		t.Fatalf("the stream did not end at PAID (ctx %v):\n%s", ctx.Err(), all)
	}

	// At most 5 live streams per user.
	pending := buyer.expect(t, buyer.do(t, "POST", "/v1/orders", order(user, "watched-2", "goods-sticker-pack")), 200, "order").str("orderId")
	var cancels []context.CancelFunc
	for range 5 {
		c, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		buyer.openStream(t, c, "/v1/orders/"+pending+"/events")
	}
	sixth := buyer.do(t, "GET", "/v1/orders/"+pending+"/events", nil, "Accept", "text/event-stream")
	s.expect(t, sixth, http.StatusTooManyRequests, "a sixth live stream")
	cancels[0]()
	testkit.Eventually(t, 10*time.Second, func() bool {
		c, cancel := context.WithCancel(context.Background())
		defer cancel()
		return buyer.tryStream(c, "/v1/orders/"+pending+"/events") == http.StatusOK
	}, "a closed stream did not free its place")
	for _, c := range cancels {
		c()
	}
}

// openStream opens an SSE stream that must be accepted, and returns its lines until it ends.
func (s *stack) openStream(t *testing.T, ctx context.Context, path string) <-chan string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.baseURL+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET %s: HTTP %d %s", path, resp.StatusCode, raw)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		defer resp.Body.Close()
		for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return lines
}

// tryStream opens an SSE stream and reports its status, closing it when ctx ends.
func (s *stack) tryStream(ctx context.Context, path string) int {
	req, _ := http.NewRequestWithContext(ctx, "GET", s.baseURL+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func stackRate(perSecond float64, burst int) stackRateLimit {
	return stackRateLimit{PerSecond: perSecond, Burst: burst}
}
