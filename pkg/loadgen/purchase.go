package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Mix is the share of arrivals doing each optional part of a purchase (0..1).
type Mix struct {
	Browse    float64 // GET /v1/skus first
	Course    float64 // buy a course (a fresh user each time) instead of goods
	NeverPay  float64 // order and payment made, the buyer never pays (the deadline cancels it)
	PayTwice  float64 // a second payment on the other channel, both paid: one is auto-refunded
	Refund    float64 // of the paid ones: merchant staff refunds (half of them in full)
	Stream    float64 // watch the order's live status (SSE) until PAID
	HotSKU    float64 // goods orders on the one hot SKU instead of one of the many
	ShareUser int     // goods buyers are drawn from this many users (tokens cached)
}

// DefaultMix is the mix `make load` and `make chaos` drive.
var DefaultMix = Mix{Browse: 0.25, Course: 0.10, NeverPay: 0.08, PayTwice: 0.03, Refund: 0.05, Stream: 0.02,
	HotSKU: 0.2, ShareUser: 2000}

// Driver runs purchases through the gateway and the sandbox's buyer endpoint.
type Driver struct {
	Gateway, Sandbox string // base URLs
	Goods            []string
	HotSKU           string
	Courses          []string
	Mix              Mix
	RunID            string // makes user and request ids unique to the run
	Rec              *Recorder
	Seed             uint64
	// PaidWait bounds how long an arrival that refunds or streams waits for PAID.
	PaidWait time.Duration

	client *http.Client
	once   sync.Once
	mu     sync.Mutex
	tokens map[string]string
}

func (d *Driver) init() {
	d.once.Do(func() {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 4096, 4096
		d.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
		d.tokens = map[string]string{}
		if d.PaidWait == 0 {
			d.PaidWait = 30 * time.Second
		}
	})
}

// Purchase runs the mix for one arrival. The first step (create_order, or browse) is timed from
// a.Intended, so time spent waiting for a slow suite counts.
func (d *Driver) Purchase(ctx context.Context, a Arrival) {
	d.init()
	rng := rand.New(rand.NewPCG(d.Seed, uint64(a.N)))
	roll := func(p float64) bool { return rng.Float64() < p }
	course := roll(d.Mix.Course) && len(d.Courses) > 0
	var user, sku string
	if course {
		user, sku = fmt.Sprintf("%s-c%d", d.RunID, a.N), d.Courses[rng.IntN(len(d.Courses))]
	} else {
		user = fmt.Sprintf("%s-u%d", d.RunID, rng.IntN(max(d.Mix.ShareUser, 1)))
		sku = d.Goods[rng.IntN(len(d.Goods))]
		if d.HotSKU != "" && roll(d.Mix.HotSKU) {
			sku = d.HotSKU
		}
	}
	from := a.Intended
	step := func(name string, fn func() error) bool {
		err := fn()
		d.Rec.Observe(name, time.Since(from), err)
		from = time.Now()
		return err == nil
	}
	if roll(d.Mix.Browse) && !step("browse", func() error { return d.call(ctx, "GET", "/v1/skus", "", "", nil) }) {
		return
	}
	var token string
	if !step("token", func() (err error) { token, err = d.token(ctx, user, false); return err }) {
		return
	}
	var order struct {
		OrderID string `json:"orderId"`
	}
	body := fmt.Sprintf(`{"userId":%q,"requestId":"r%d","items":[{"skuId":%q,"quantity":1}]}`, user, a.N, sku)
	if !step("create_order", func() error { return d.call(ctx, "POST", "/v1/orders", token, body, &order) }) {
		return
	}
	channels := []string{"ALIPAY_QR", "WECHAT_NATIVE"}
	ch := rng.IntN(2)
	var pay struct {
		PaymentID string `json:"paymentId"`
		QRCode    string `json:"qrCode"`
	}
	payBody := fmt.Sprintf(`{"channel":%q}`, channels[ch])
	if !step("create_payment", func() error {
		return d.call(ctx, "POST", "/v1/orders/"+order.OrderID+"/payments", token, payBody, &pay)
	}) {
		return
	}
	if roll(d.Mix.NeverPay) {
		return
	}
	qrs := []string{pay.QRCode}
	if roll(d.Mix.PayTwice) {
		var second struct {
			QRCode string `json:"qrCode"`
		}
		b := fmt.Sprintf(`{"channel":%q}`, channels[1-ch])
		if step("create_payment_2nd", func() error {
			return d.call(ctx, "POST", "/v1/orders/"+order.OrderID+"/payments", token, b, &second)
		}) {
			qrs = append(qrs, second.QRCode)
		}
	}
	var streamed chan error
	if roll(d.Mix.Stream) {
		streamed = make(chan error, 1)
		go func() { streamed <- d.waitPaidSSE(ctx, order.OrderID, token) }()
	}
	paidAt := time.Now()
	for _, qr := range qrs {
		step("buyer_pay", func() error {
			return d.call(ctx, "POST", d.Sandbox+"/sandbox/pay", "", fmt.Sprintf(`{"qrCode":%q}`, qr), nil)
		})
	}
	if streamed != nil {
		err := <-streamed
		d.Rec.Observe("pay_to_sse_paid", time.Since(paidAt), err)
	}
	if !roll(d.Mix.Refund) {
		return
	}
	// Merchant staff refunds the order's payment (the one it kept, which may be the second
	// attempt) once the order is PAID, half in full, half partially.
	paymentID, err := d.waitPaid(ctx, order.OrderID, token)
	if err != nil {
		d.Rec.Observe("refund", 0, fmt.Errorf("order never PAID: %w", err))
		return
	}
	staff, err := d.token(ctx, d.RunID+"-staff", true)
	if err != nil {
		d.Rec.Observe("refund", 0, err)
		return
	}
	var p struct {
		AmountFen string `json:"amountFen"`
	}
	_ = d.call(ctx, "GET", "/v1/payments/"+paymentID, staff, "", &p)
	amount := p.AmountFen
	if roll(0.5) {
		amount = "1"
	}
	from = time.Now()
	step("refund", func() error {
		return d.call(ctx, "POST", "/v1/payments/"+paymentID+":refund", staff,
			fmt.Sprintf(`{"requestId":"rf%d","amountFen":%q}`, a.N, amount), nil)
	})
}

// token is user's bearer token from the gateway's dev issuer, cached.
func (d *Driver) token(ctx context.Context, user string, merchant bool) (string, error) {
	d.init()
	d.mu.Lock()
	t, ok := d.tokens[user]
	d.mu.Unlock()
	if ok {
		return t, nil
	}
	body := fmt.Sprintf(`{"userId":%q}`, user)
	if merchant {
		body = fmt.Sprintf(`{"userId":%q,"roles":["merchant"]}`, user)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := d.call(ctx, "POST", "/dev/token", "", body, &out); err != nil {
		return "", err
	}
	d.mu.Lock()
	d.tokens[user] = out.Token
	d.mu.Unlock()
	return out.Token, nil
}

// waitPaid polls the order until it is PAID and returns the payment it kept.
func (d *Driver) waitPaid(ctx context.Context, orderID, token string) (string, error) {
	deadline := time.Now().Add(d.PaidWait)
	for {
		var o struct {
			Status    string `json:"status"`
			PaymentID string `json:"paymentId"`
		}
		err := d.call(ctx, "GET", "/v1/orders/"+orderID, token, "", &o)
		if err == nil && o.Status != "PENDING_PAYMENT" {
			if o.Status == "PAID" {
				return o.PaymentID, nil
			}
			return "", fmt.Errorf("order %s is %s", orderID, o.Status)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("order %s not PAID within %s (last error %v)", orderID, d.PaidWait, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitPaidSSE watches GET /v1/orders/{id}/events until a status event says PAYMENT_SUCCEEDED,
// reconnecting when the stream ends early, as a browser's EventSource does.
func (d *Driver) waitPaidSSE(ctx context.Context, orderID, token string) error {
	ctx, cancel := context.WithTimeout(ctx, d.PaidWait)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		paid, err := d.streamOnce(ctx, orderID, token)
		if paid {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("events: not PAID within %s (last: %v)", d.PaidWait, last)
}

func (d *Driver) streamOnce(ctx context.Context, orderID, token string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", d.Gateway+"/v1/orders/"+orderID+"/events", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := (&http.Client{Transport: d.client.Transport}).Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("events: HTTP %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "data:") && strings.Contains(line, "PAYMENT_SUCCEEDED") {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return false, errors.New("events: stream ended before PAID")
}

// call sends a JSON request (path relative to the gateway unless absolute) and decodes a 200's
// body into out; anything else is an error carrying the status and body.
func (d *Driver) call(ctx context.Context, method, path, token, body string, out any) error {
	d.init()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = d.Gateway + path
	}
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d %s", method, strings.SplitN(path, "?", 2)[0], resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
