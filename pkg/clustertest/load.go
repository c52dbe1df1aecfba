package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LoadConfig is a bounded purchase load through the gateways.
type LoadConfig struct {
	Gateways []string // base URLs of the gateway replicas, used in turn, failing over
	Sandbox  string   // base URL of the provider sandbox (the buyer pays there)
	Run      string   // unique per run: user ids and idempotency keys start with it
	Duration time.Duration
	Rate     float64 // purchases started per second
	Workers  int
	PayShare float64 // share of orders paid; the rest are left to expire
}

// LoadResult is what the load did, for the invariant checks and the figures.
type LoadResult struct {
	Started, Refused, Failed int64
	Paid                     []string // order ids the sandbox paid
	Abandoned                []string // order ids left unpaid
	Errors                   map[string]int
	Elapsed                  time.Duration
	LongestGap               time.Duration // longest stretch without any successful call
	Retries                  int64         // calls sent again after a 5xx or a broken connection
}

var skus = []string{"goods-gopher-mug", "goods-sticker-pack", "goods-hoodie", "course-go-concurrency", "course-payments-101"}

type driver struct {
	cfg    LoadConfig
	client *http.Client
	next   atomic.Int64

	mu      sync.Mutex
	res     LoadResult
	lastOK  time.Time
	started time.Time
}

// RunLoad drives cfg's purchases until its Duration has passed, then returns what happened.
func RunLoad(ctx context.Context, cfg LoadConfig) LoadResult {
	d := &driver{cfg: cfg, client: &http.Client{Timeout: 10 * time.Second}}
	d.res.Errors = map[string]int{}
	d.started = time.Now()
	d.lastOK = d.started
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(func() {
			for i := range jobs {
				d.purchase(ctx, i)
			}
		})
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			close(jobs)
			wg.Wait()
			d.res.Elapsed = time.Since(d.started)
			d.noteOK() // the gap still open at the end counts too
			return d.res
		case <-tick.C:
			select {
			case jobs <- i:
			default: // every worker busy: this purchase is skipped, not queued
			}
		}
	}
}

func (d *driver) noteOK() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if gap := now.Sub(d.lastOK); gap > d.res.LongestGap {
		d.res.LongestGap = gap
	}
	d.lastOK = now
}

func (d *driver) fail(what string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.res.Errors[what]++
}

// purchase: a token, an order (one good or course), then a payment and the buyer paying, or
// nothing (the order expires).
func (d *driver) purchase(ctx context.Context, i int) {
	atomic.AddInt64(&d.res.Started, 1)
	user := fmt.Sprintf("%s-u%d", d.cfg.Run, i)
	var tok struct{ Token string }
	if !d.call(ctx, "token", d.gateway, "POST", "/dev/token", "", map[string]any{"userId": user}, &tok) {
		atomic.AddInt64(&d.res.Failed, 1)
		return
	}
	sku := skus[rand.IntN(len(skus))]
	var o struct{ OrderID string }
	body := map[string]any{"userId": user, "requestId": fmt.Sprintf("%s-r%d", d.cfg.Run, i),
		"items": []map[string]any{{"skuId": sku, "quantity": 1}}}
	code, ok := d.callCode(ctx, "create order", d.gateway, "POST", "/v1/orders", tok.Token, body, &o)
	if !ok {
		if code == http.StatusConflict || code == http.StatusTooManyRequests || code == http.StatusBadRequest {
			atomic.AddInt64(&d.res.Refused, 1) // out of stock, too many pending: a clear refusal
			return
		}
		atomic.AddInt64(&d.res.Failed, 1)
		return
	}
	if rand.Float64() >= d.cfg.PayShare {
		d.mu.Lock()
		d.res.Abandoned = append(d.res.Abandoned, o.OrderID)
		d.mu.Unlock()
		return
	}
	channel := "ALIPAY_QR"
	if i%2 == 1 {
		channel = "WECHAT_NATIVE"
	}
	var p struct{ QRCode string }
	if !d.call(ctx, "create payment", d.gateway, "POST", "/v1/orders/"+o.OrderID+"/payments", tok.Token, map[string]any{"channel": channel}, &p) {
		atomic.AddInt64(&d.res.Failed, 1)
		d.mu.Lock()
		d.res.Abandoned = append(d.res.Abandoned, o.OrderID) // may have a live payment nobody pays
		d.mu.Unlock()
		return
	}
	sandbox := func() string { return d.cfg.Sandbox }
	if !d.call(ctx, "sandbox pay", sandbox, "POST", "/sandbox/pay", "", map[string]any{"qrCode": p.QRCode, "buyerId": user}, nil) {
		atomic.AddInt64(&d.res.Failed, 1)
		d.mu.Lock()
		d.res.Abandoned = append(d.res.Abandoned, o.OrderID)
		d.mu.Unlock()
		return
	}
	d.mu.Lock()
	d.res.Paid = append(d.res.Paid, o.OrderID)
	d.mu.Unlock()
}

func (d *driver) gateway() string {
	return d.cfg.Gateways[int(d.next.Add(1))%len(d.cfg.Gateways)]
}

func (d *driver) call(ctx context.Context, what string, base func() string, method, path, token string, body, out any) bool {
	_, ok := d.callCode(ctx, what, base, method, path, token, body, out)
	return ok
}

// callCode sends one call, again (on the next gateway) after a broken connection or a 5xx, for
// up to 30s: the same request id or live payment makes that safe. It returns the last status.
func (d *driver) callCode(ctx context.Context, what string, base func() string, method, path, token string, body, out any) (int, bool) {
	payload, _ := json.Marshal(body)
	deadline := time.Now().Add(30 * time.Second)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			atomic.AddInt64(&d.res.Retries, 1)
			time.Sleep(200 * time.Millisecond)
		}
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), method, base()+path, bytes.NewReader(payload))
		if err != nil {
			d.fail(what + ": " + err.Error())
			return 0, false
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := d.client.Do(req)
		if err != nil {
			if time.Now().After(deadline) {
				d.fail(what + ": " + firstWords(err.Error()))
				return 0, false
			}
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 && time.Now().Before(deadline) {
			continue
		}
		if resp.StatusCode != http.StatusOK {
			d.fail(fmt.Sprintf("%s: HTTP %d %s", what, resp.StatusCode, firstWords(string(raw))))
			return resp.StatusCode, false
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				d.fail(what + ": " + err.Error())
				return resp.StatusCode, false
			}
		}
		d.noteOK()
		return resp.StatusCode, true
	}
}

func firstWords(s string) string {
	if len(s) > 80 {
		s = s[:80]
	}
	return strings.TrimSpace(s)
}

// ErrorSummary lists the error kinds, most frequent first.
func (r LoadResult) ErrorSummary() []string {
	var out []string
	for k, v := range r.Errors {
		out = append(out, fmt.Sprintf("%5d  %s", v, k))
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}
