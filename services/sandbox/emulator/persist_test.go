package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

// readTradesFile is what trades.json in dir holds now, by out_trade_no.
func readTradesFile(t *testing.T, dir string) map[string]emulator.Trade {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "trades.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Trades []emulator.Trade }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("trades.json: %v", err)
	}
	out := map[string]emulator.Trade{}
	for _, tr := range f.Trades {
		out[tr.OutTradeNo] = tr
	}
	return out
}

// Close right after a burst of payments, before any background write is due, must still leave
// every paid trade (and refund) for the next start.
func TestRestartAfterCloseKeepsPaidTrades(t *testing.T) {
	dir := keysDir(t)
	s1 := startSandbox(t, dir)
	ali := s1.alipayClient(t, s1.creds.Alipay.AppPrivateKey, s1.creds.Alipay.AlipayPublicKey)
	wx := s1.wechatClient(t, s1.creds.Wechat.MerchantPrivateKey, s1.creds.Wechat.WechatPayPublicKey)
	aliRC, wxRC := newReceiver(t, alipayOK), newReceiver(t, wechatOK)
	for i := range 3 {
		if code := s1.pay(t, precreate(t, ali, fmt.Sprintf("RA%d", i), "1.00", aliRC.srv.URL)); code != http.StatusOK {
			t.Fatalf("alipay pay %d: %d", i, code)
		}
		if code := s1.pay(t, mustNative(t, s1, wx, fmt.Sprintf("RW%04d", i), 100, wxRC.srv.URL)); code != http.StatusOK {
			t.Fatalf("wechat pay %d: %d", i, code)
		}
	}
	if rsp, err := wxRefund(wx, "RW0000", "RF0000", 40, 100); err != nil || rsp.Code != 0 {
		t.Fatalf("refund: %+v %v", rsp, err)
	}
	s1.stop()

	s2 := startSandbox(t, dir)
	ali2 := s2.alipayClient(t, s2.creds.Alipay.AppPrivateKey, s2.creds.Alipay.AlipayPublicKey)
	wx2 := s2.wechatClient(t, s2.creds.Wechat.MerchantPrivateKey, s2.creds.Wechat.WechatPayPublicKey)
	for i := range 3 {
		q, err := alipayQuery(ali2, fmt.Sprintf("RA%d", i))
		if err != nil || q.Response.TradeStatus != "TRADE_SUCCESS" {
			t.Fatalf("alipay RA%d after restart: %+v %v", i, q, err)
		}
		want := "SUCCESS"
		if i == 0 {
			want = "REFUND"
		}
		if got := wxQuery(t, wx2, fmt.Sprintf("RW%04d", i)).Response.TradeState; got != want {
			t.Fatalf("wechat RW%04d after restart: %s, want %s", i, got, want)
		}
	}
	if tr := s2.trade(t, "RW0000"); len(tr.Refunds) != 1 || tr.Refunds[0].AmountFen != 40 {
		t.Fatalf("refund after restart: %+v", tr.Refunds)
	}
}

// The background writer saves without Close, so a crash loses at most the last window.
func TestChangesReachTheFileWithoutClose(t *testing.T) {
	dir := keysDir(t)
	s := startSandbox(t, dir)
	wx := s.wechatClient(t, s.creds.Wechat.MerchantPrivateKey, s.creds.Wechat.WechatPayPublicKey)
	rc := newReceiver(t, wechatOK)
	if code := s.pay(t, mustNative(t, s, wx, "BG0001", 100, rc.srv.URL)); code != http.StatusOK {
		t.Fatalf("pay: %d", code)
	}
	testkit.Eventually(t, waitLong, func() bool {
		return readTradesFile(t, dir)["BG0001"].State == emulator.StatePaid
	}, "paid trade never written by the background writer")
}

// A burst of changes inside one coalescing window is one write of trades.json, not one per change.
// The window is an hour so the count does not depend on how fast this machine runs the burst.
func TestBurstOfChangesIsOneWrite(t *testing.T) {
	dir := keysDir(t)
	s := startSandboxFlushEvery(t, dir, time.Hour)
	wx := s.wechatClient(t, s.creds.Wechat.MerchantPrivateKey, s.creds.Wechat.WechatPayPublicKey)
	rc := newReceiver(t, wechatOK)
	const n = 20
	for i := range n { // 2 changes each: created, paid (plus notify progress)
		if code := s.pay(t, mustNative(t, s, wx, fmt.Sprintf("BU%04d", i), 100+i, rc.srv.URL)); code != http.StatusOK {
			t.Fatalf("pay %d: %d", i, code)
		}
	}
	if w := emulator.FileWrites(s.emu); w != 0 {
		t.Fatalf("%d writes inside the window, want 0 (the writer waits for the window to end)", w)
	}
	if got := readTradesFile(t, dir); len(got) != 0 {
		t.Fatalf("trades.json written inside the window: %d trades", len(got))
	}
	s.stop()
	if w := emulator.FileWrites(s.emu); w != 1 {
		t.Fatalf("%d writes for %d changes, want 1 (Close's)", w, 2*n)
	}
	got := readTradesFile(t, dir)
	for i := range n {
		if tr := got[fmt.Sprintf("BU%04d", i)]; tr.State != emulator.StatePaid || tr.AmountFen != int64(100+i) {
			t.Fatalf("BU%04d in trades.json: %+v", i, tr)
		}
	}
	if err := s.emu.Close(); err != nil || emulator.FileWrites(s.emu) != 1 {
		t.Fatalf("second Close: %v, writes %d", err, emulator.FileWrites(s.emu))
	}
}

// Trades that can no longer change are dropped once older than the retention (7 days); everything
// still open, recent, or with a notify to deliver stays.
func TestOldSettledTradesArePruned(t *testing.T) {
	dir := keysDir(t)
	rc := newReceiver(t, wechatOK)
	now := time.Now()
	old := now.Add(-8 * 24 * time.Hour)
	trade := func(no, state string, at time.Time) *emulator.Trade {
		return &emulator.Trade{Provider: emulator.ProviderWechat, OutTradeNo: no, TradeNo: "T" + no, AmountFen: 100,
			NotifyURL: rc.srv.URL, Token: "tok" + no, State: state, Scanned: true, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	}
	oldClosed := trade("OLDCLOSED", emulator.StateClosed, old)
	oldClosed.ClosedAt = old
	oldExpired := trade("OLDEXPIRED", emulator.StateNotPaid, old)
	oldAcked := trade("OLDACKED", emulator.StatePaid, old)
	oldAcked.PaidAt, oldAcked.Notify = old, emulator.Notify{ID: "n1", Attempts: 1, Acked: true}
	oldUnacked := trade("OLDUNACKED", emulator.StatePaid, old) // its notify still has to be delivered
	oldUnacked.PaidAt, oldUnacked.Notify = old, emulator.Notify{ID: "n2", NextAt: old}
	oldRefundedLately := trade("OLDREFUND", emulator.StatePaid, old)
	oldRefundedLately.PaidAt, oldRefundedLately.Notify = old, emulator.Notify{ID: "n3", Attempts: 1, Acked: true}
	oldRefundedLately.Refunds = []*emulator.Refund{{OutRefundNo: "R1", RefundID: "1", AmountFen: 10, CreatedAt: now.Add(-time.Hour)}}
	recentClosed := trade("NEWCLOSED", emulator.StateClosed, now.Add(-time.Hour))
	recentClosed.ClosedAt = now.Add(-time.Hour)
	file := map[string][]*emulator.Trade{"trades": {oldClosed, oldExpired, oldAcked, oldUnacked, oldRefundedLately, recentClosed}}
	b, _ := json.Marshal(file)
	if err := os.WriteFile(filepath.Join(dir, "trades.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	s := startSandbox(t, dir)
	var list []emulator.Trade
	s.do(t, http.MethodGet, "/sandbox/trades", nil, &list)
	listed := map[string]bool{}
	for _, tr := range list {
		listed[tr.OutTradeNo] = true
	}
	s.stop()
	inFile := readTradesFile(t, dir)
	for no, keep := range map[string]bool{"OLDCLOSED": false, "OLDEXPIRED": false, "OLDACKED": false,
		"OLDUNACKED": true, "OLDREFUND": true, "NEWCLOSED": true} {
		_, saved := inFile[no]
		if listed[no] != keep || saved != keep {
			t.Errorf("%s: listed %v, in trades.json %v, want %v", no, listed[no], saved, keep)
		}
	}
}
