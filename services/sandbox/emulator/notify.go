package emulator

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// Async notifies: one worker goroutine per pending notify (a payment, an Alipay WAP close, a
// refund) sends it signed and retries on the provider's schedule (× TimeScale) until the merchant
// acknowledges it.

var (
	// Alipay: 8 notifies within 25 hours.
	alipaySchedule = []time.Duration{4 * time.Minute, 10 * time.Minute, 10 * time.Minute, time.Hour,
		2 * time.Hour, 6 * time.Hour, 15 * time.Hour}
	// WeChat: 16 notifies within about 24 hours.
	wechatSchedule = []time.Duration{15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute,
		10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, time.Hour,
		3 * time.Hour, 3 * time.Hour, 3 * time.Hour, 6 * time.Hour, 6 * time.Hour}
)

// Answer deadlines. WeChat counts a notify not answered within 5 s as failed; this is the
// provider's rule for a real HTTP exchange, so SANDBOX_TIME_SCALE does not shrink it. Alipay
// publishes no deadline; the sandbox waits 10 s.
const (
	wechatAnswerWithin = 5 * time.Second
	alipayAnswerWithin = 10 * time.Second
)

func schedule(provider string) []time.Duration {
	if provider == ProviderAlipay {
		return alipaySchedule
	}
	return wechatSchedule
}

type notifyKind int

const (
	payNotify notifyKind = iota
	closeNotify
	refundNotify
)

// notifyRef names one notify of a trade.
type notifyRef struct {
	key    string // trade key
	kind   notifyKind
	refund string // out_refund_no, for refund notifies
}

func payRef(t *Trade) notifyRef { return notifyRef{key: tradeKey(t.Provider, t.OutTradeNo)} }
func closeRef(t *Trade) notifyRef {
	return notifyRef{key: tradeKey(t.Provider, t.OutTradeNo), kind: closeNotify}
}
func refundRef(t *Trade, r *Refund) notifyRef {
	return notifyRef{key: tradeKey(t.Provider, t.OutTradeNo), kind: refundNotify, refund: r.OutRefundNo}
}

func (ref notifyRef) locate(t *Trade) *Notify {
	if t == nil {
		return nil
	}
	switch ref.kind {
	case payNotify:
		return &t.Notify
	case closeNotify:
		return t.Closing
	}
	if r := t.refund(ref.refund); r != nil {
		return r.Notify
	}
	return nil
}

// url is where the notify goes: the trade's notify_url, or for a WeChat refund the refund's.
func (ref notifyRef) url(t *Trade) string {
	if ref.kind == refundNotify && t.Provider == ProviderWechat {
		if r := t.refund(ref.refund); r != nil {
			return r.NotifyURL
		}
		return ""
	}
	return t.NotifyURL
}

// newNotifyLocked prepares a notify due at `at`, consuming the notify faults.
func (e *Emulator) newNotifyLocked(provider, url string, at time.Time) Notify {
	n := Notify{ID: randHex(16), NextAt: at}
	if url == "" {
		n.GaveUp = true // nowhere to send it
		return n
	}
	if take(&e.faults.DropNotifies) {
		n.Dropped = true
		return n
	}
	n.Duplicate = take(&e.faults.DuplicateNotifies)
	if e.faults.DelayNotifyMs > 0 {
		// A real-time delay on purpose: it is there to race the merchant's own polling.
		n.NextAt = at.Add(time.Duration(e.faults.DelayNotifyMs) * time.Millisecond)
	}
	if provider == ProviderWechat {
		n.Probe = take(&e.faults.SignatureProbes)
		n.SkewSec, e.faults.NotifyTimestampSkewSeconds = e.faults.NotifyTimestampSkewSeconds, 0
	}
	return n
}

// armNotifyLocked prepares the payment notify of a trade that was just paid.
func (e *Emulator) armNotifyLocked(t *Trade) {
	t.Notify = e.newNotifyLocked(t.Provider, t.NotifyURL, t.PaidAt)
}

func (e *Emulator) startNotifyLocked(ref notifyRef) {
	if e.closed {
		return
	}
	if n := ref.locate(e.st.trades[ref.key]); n == nil || n.done() {
		return
	}
	e.wg.Add(1)
	go e.notifyWorker(ref)
}

// resumeNotifiesLocked restarts every notify a previous run left unacknowledged.
func (e *Emulator) resumeNotifiesLocked() {
	for _, t := range e.st.trades {
		if !t.PaidAt.IsZero() {
			e.startNotifyLocked(payRef(t))
		}
		if t.Closing != nil {
			e.startNotifyLocked(closeRef(t))
		}
		for _, r := range t.Refunds {
			if r.Notify != nil {
				e.startNotifyLocked(refundRef(t, r))
			}
		}
		e.watchExpiryLocked(t)
	}
}

func (e *Emulator) notifyWorker(ref notifyRef) {
	defer e.wg.Done()
	for {
		e.mu.Lock()
		t := e.st.trades[ref.key]
		n := ref.locate(t)
		if n == nil || n.done() {
			e.mu.Unlock()
			return
		}
		wait := n.NextAt.Sub(e.now())
		e.mu.Unlock()
		if !e.sleep(wait) {
			return
		}
		e.mu.Lock()
		snap, ns, url := t.clone(), *n, ref.url(t)
		e.mu.Unlock()

		ok, probeAcked := e.deliver(&snap, ref, ns, url)
		if !ok && e.ctx.Err() != nil {
			return // stopped mid-attempt: it does not count, it resumes after restart
		}
		e.mu.Lock()
		if n = ref.locate(t); n == nil {
			e.mu.Unlock()
			return
		}
		n.ProbeAcked = n.ProbeAcked || probeAcked
		n.Attempts++
		sched := schedule(t.Provider)
		switch {
		case ok:
			n.Acked, n.AckedAt = true, time.Now()
		case n.Attempts > len(sched):
			n.GaveUp = true
		default:
			n.NextAt = e.now().Add(e.scaled(sched[n.Attempts-1]))
		}
		e.changedLocked(t)
		attempts, acked, gaveUp := n.Attempts, n.Acked, n.GaveUp
		e.mu.Unlock()
		e.log.Info("notify attempt", "provider", snap.Provider, "out_trade_no", snap.OutTradeNo, "kind", int(ref.kind),
			"refund", ref.refund, "attempt", attempts, "acked", acked, "gave_up", gaveUp)
	}
}

// sleep waits d, or until the emulator closes (false).
func (e *Emulator) sleep(d time.Duration) bool {
	if d <= 0 {
		return e.ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-e.ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// deliver sends one notify attempt (twice, concurrently, under the duplicate fault; after a
// signature probe when the probe fault marked it) and reports whether the merchant acknowledged
// it, and whether it acknowledged the probe.
func (e *Emulator) deliver(t *Trade, ref notifyRef, n Notify, url string) (acked, probeAcked bool) {
	first := n.Attempts == 0
	body, header, err := e.buildNotify(t, ref, n, first)
	if err != nil {
		e.log.Error("build notify", "out_trade_no", t.OutTradeNo, "err", err)
		return false, false
	}
	if n.Probe && first {
		probe := header.Clone()
		probe.Set("Wechatpay-Signature", signTestProbe())
		probeAcked = e.post(t, url, body, probe)
		e.log.Info("signature probe sent", "out_trade_no", t.OutTradeNo, "acknowledged", probeAcked)
	}
	copies := 1
	if n.Duplicate {
		copies = 2
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e.post(t, url, body, header) {
				mu.Lock()
				acked = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acked, probeAcked
}

func (e *Emulator) buildNotify(t *Trade, ref notifyRef, n Notify, first bool) ([]byte, http.Header, error) {
	if t.Provider == ProviderAlipay {
		return e.alipayNotify(t, ref, n)
	}
	skew := time.Duration(0)
	if first {
		skew = time.Duration(n.SkewSec) * time.Second
	}
	return e.wechatNotify(t, ref, n, skew)
}

func (e *Emulator) post(t *Trade, url string, body []byte, header http.Header) bool {
	within := wechatAnswerWithin
	if t.Provider == ProviderAlipay {
		within = alipayAnswerWithin
	}
	ctx, cancel := context.WithTimeout(e.ctx, within)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		e.log.Warn("notify url", "out_trade_no", t.OutTradeNo, "err", err)
		return false
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if t.Traceparent != "" {
		req.Header.Set("traceparent", t.Traceparent)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.log.Info("notify not delivered", "out_trade_no", t.OutTradeNo, "err", err)
		return false
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return false // the answer did not complete in time
	}
	if t.Provider == ProviderAlipay {
		// Alipay wants the bare body "success"; anything else means "send it again".
		return resp.StatusCode == http.StatusOK && string(answer) == "success"
	}
	return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent
}
