package emulator

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// Async notifies: one worker goroutine per paid, unacknowledged trade sends the signed notify
// and retries on the provider's schedule (× TimeScale) until the merchant acknowledges it.

var (
	// Alipay: 8 notifies within 25 hours.
	alipaySchedule = []time.Duration{4 * time.Minute, 10 * time.Minute, 10 * time.Minute, time.Hour,
		2 * time.Hour, 6 * time.Hour, 15 * time.Hour}
	// WeChat: 16 notifies within about 24 hours.
	wechatSchedule = []time.Duration{15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute,
		10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute, time.Hour,
		3 * time.Hour, 3 * time.Hour, 3 * time.Hour, 6 * time.Hour, 6 * time.Hour}
)

func schedule(provider string) []time.Duration {
	if provider == ProviderAlipay {
		return alipaySchedule
	}
	return wechatSchedule
}

// armNotifyLocked prepares the notify of a trade that was just paid, consuming notify faults.
func (e *Emulator) armNotifyLocked(t *Trade) {
	t.Notify = Notify{ID: randHex(16), NextAt: t.PaidAt}
	if t.NotifyURL == "" {
		t.Notify.GaveUp = true // nowhere to send it
		return
	}
	if e.faults.DropNotifies > 0 {
		e.faults.DropNotifies--
		t.Notify.Dropped = true
		return
	}
	if e.faults.DuplicateNotifies > 0 {
		e.faults.DuplicateNotifies--
		t.Notify.Duplicate = true
	}
	if e.faults.DelayNotifyMs > 0 {
		// A real-time delay on purpose: it is there to race the merchant's own polling.
		t.Notify.NextAt = t.PaidAt.Add(time.Duration(e.faults.DelayNotifyMs) * time.Millisecond)
	}
}

func (e *Emulator) startNotifyLocked(t *Trade) {
	if e.closed {
		return
	}
	e.wg.Add(1)
	go e.notifyWorker(tradeKey(t.Provider, t.OutTradeNo))
}

func (e *Emulator) notifyWorker(key string) {
	defer e.wg.Done()
	for {
		e.mu.Lock()
		t := e.st.trades[key]
		if t == nil || t.Notify.Acked || t.Notify.GaveUp || t.Notify.Dropped {
			e.mu.Unlock()
			return
		}
		wait := t.Notify.NextAt.Sub(e.now())
		e.mu.Unlock()
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-e.ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		e.mu.Lock()
		snap := t.clone()
		e.mu.Unlock()

		ok := e.deliver(&snap)
		if !ok && e.ctx.Err() != nil {
			return // stopped mid-attempt: it does not count, it resumes after restart
		}
		e.mu.Lock()
		n := &t.Notify
		n.Attempts++
		sched := schedule(t.Provider)
		switch {
		case ok:
			n.Acked = true
		case n.Attempts > len(sched):
			n.GaveUp = true
		default:
			n.NextAt = e.now().Add(e.scaled(sched[n.Attempts-1]))
		}
		e.changedLocked(t)
		attempts, acked, gaveUp := n.Attempts, n.Acked, n.GaveUp
		e.mu.Unlock()
		e.log.Info("notify attempt", "provider", snap.Provider, "out_trade_no", snap.OutTradeNo,
			"attempt", attempts, "acked", acked, "gave_up", gaveUp)
	}
}

// deliver sends one notify attempt (twice, concurrently, under the duplicate fault) and reports
// whether the merchant acknowledged it.
func (e *Emulator) deliver(t *Trade) bool {
	build := e.wechatNotify
	if t.Provider == ProviderAlipay {
		build = e.alipayNotify
	}
	body, header, err := build(t)
	if err != nil {
		e.log.Error("build notify", "out_trade_no", t.OutTradeNo, "err", err)
		return false
	}
	copies := 1
	if t.Notify.Duplicate {
		copies = 2
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked bool
	)
	for range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e.post(t, body, header) {
				mu.Lock()
				acked = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acked
}

func (e *Emulator) post(t *Trade, body []byte, header http.Header) bool {
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.NotifyURL, bytes.NewReader(body))
	if err != nil {
		e.log.Warn("notify url", "out_trade_no", t.OutTradeNo, "err", err)
		return false
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.log.Info("notify not delivered", "out_trade_no", t.OutTradeNo, "err", err)
		return false
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if t.Provider == ProviderAlipay {
		// Alipay wants the bare body "success"; anything else means "send it again".
		return resp.StatusCode == http.StatusOK && string(answer) == "success"
	}
	return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent
}
