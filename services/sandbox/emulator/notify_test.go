package emulator_test

import (
	"crypto/rsa"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-pay/gopay/alipay"
	wechat "github.com/go-pay/gopay/wechat/v3"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

func TestNotifyRetriesUntilAcknowledged(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	wc := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	// Alipay: anything but the bare body "success" is a failure, even with status 200.
	ali := newReceiver(t, func(n int) (int, string) {
		if n <= 2 {
			return http.StatusOK, "fail"
		}
		return http.StatusOK, "success"
	})
	wx := newReceiver(t, func(n int) (int, string) {
		if n <= 2 {
			return http.StatusInternalServerError, `{"code":"FAIL","message":"busy"}`
		}
		return http.StatusOK, ""
	})
	s.pay(t, precreate(t, c, "N1001", "1.00", ali.srv.URL))
	s.pay(t, mustNative(t, s, wc, "N100002", 100, wx.srv.URL))

	for _, tc := range []struct {
		no string
		rc *receiver
	}{{"N1001", ali}, {"N100002", wx}} {
		testkit.Eventually(t, waitLong, func() bool { return s.trade(t, tc.no).Notify.Acked }, "%s notify never acknowledged", tc.no)
		if n := tc.rc.count(); n != 3 {
			t.Errorf("%s: %d notify attempts, want 3 (two failures, one success)", tc.no, n)
		}
		if a := s.trade(t, tc.no).Notify.Attempts; a != 3 {
			t.Errorf("%s: trade records %d attempts, want 3", tc.no, a)
		}
		// The load harness measures notify latency from the acknowledgement's real time.
		if tr := s.trade(t, tc.no); tr.Notify.AckedAt.Before(tr.PaidAt) {
			t.Errorf("%s: ackedAt %v, want a time after paidAt %v", tc.no, tr.Notify.AckedAt, tr.PaidAt)
		}
	}
	// Every retry is a fresh, valid notify.
	for i := range 3 {
		bm, err := alipay.ParseNotifyToBodyMap(ali.request(i))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := alipay.VerifySign(pemBody(s.creds.Alipay.AlipayPublicKey), bm); !ok {
			t.Fatalf("alipay retry %d: %v", i, err)
		}
		req, err := wechat.V3ParseNotify(wx.request(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := req.VerifySignByPK(parsePub(t, w.WechatPayPublicKey).(*rsa.PublicKey)); err != nil {
			t.Fatalf("wechat retry %d: %v", i, err)
		}
	}
}

func TestFaultDropNotifiesSendsNothing(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	rc := newReceiver(t, alipayOK)
	var f emulator.Faults
	if code := s.do(t, http.MethodPost, "/sandbox/faults", map[string]int{"dropNotifies": 1}, &f); code != http.StatusOK || f.DropNotifies != 1 {
		t.Fatalf("set faults: %d %+v", code, f)
	}
	s.pay(t, precreate(t, c, "F1001", "1.00", rc.srv.URL+"/dropped"))
	s.pay(t, precreate(t, c, "F1002", "1.00", rc.srv.URL+"/delivered"))
	testkit.Eventually(t, waitLong, func() bool { return s.trade(t, "F1002").Notify.Acked }, "second trade not notified")
	if !s.trade(t, "F1001").Notify.Dropped {
		t.Fatal("first trade should be marked dropped")
	}
	for i := range rc.count() {
		if rc.request(i).URL.Path == "/dropped" {
			t.Fatal("a dropped notify arrived")
		}
	}
	// Only polling finds it.
	if q, err := alipayQuery(c, "F1001"); err != nil || q.Response.TradeStatus != "TRADE_SUCCESS" {
		t.Fatalf("query of the dropped trade: %+v %v", q, err)
	}
	s.do(t, http.MethodGet, "/sandbox/faults", nil, &f)
	if f.DropNotifies != 0 {
		t.Fatalf("dropNotifies not consumed: %+v", f)
	}
}

func TestFaultDuplicateNotifiesSendsTwo(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	wc := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	rc := newReceiver(t, wechatOK)
	s.do(t, http.MethodPost, "/sandbox/faults", map[string]int{"duplicateNotifies": 1}, nil)
	s.pay(t, mustNative(t, s, wc, "F200001", 100, rc.srv.URL))
	testkit.Eventually(t, waitLong, func() bool { return rc.count() == 2 }, "want two copies of the notify, got %d", rc.count())
	testkit.Eventually(t, waitLong, func() bool { return s.trade(t, "F200001").Notify.Acked }, "not acknowledged")
	if rc.count() != 2 {
		t.Fatalf("got %d notifies, want 2", rc.count())
	}
}

func TestFaultFailQueriesAndReset(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	wc := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	mustNative(t, s, wc, "F300001", 100, "http://127.0.0.1:1/n")

	s.do(t, http.MethodPost, "/sandbox/faults", map[string]int{"failQueries": 2, "delayNotifyMs": 5}, nil)
	_, err := alipayQuery(c, "F3001")
	if got := bizCode(t, err); got != "20000 ACQ.SYSTEM_ERROR" {
		t.Fatalf("failed alipay query = %s", got)
	}
	if q := wxQuery(t, wc, "F300001"); q.Code != http.StatusInternalServerError || q.ErrResponse.Code != "SYSTEM_ERROR" {
		t.Fatalf("failed wechat query: %+v", q)
	}
	if q := wxQuery(t, wc, "F300001"); q.Code != wechat.Success {
		t.Fatalf("third query should work again: %+v", q)
	}
	var f emulator.Faults
	s.do(t, http.MethodGet, "/sandbox/faults", nil, &f)
	if f != (emulator.Faults{DelayNotifyMs: 5}) {
		t.Fatalf("faults after use: %+v", f)
	}
	s.do(t, http.MethodDelete, "/sandbox/faults", nil, &f)
	s.do(t, http.MethodGet, "/sandbox/faults", nil, &f)
	if f != (emulator.Faults{}) {
		t.Fatalf("faults after reset: %+v", f)
	}
	if code := s.do(t, http.MethodPost, "/sandbox/faults", map[string]int{"failQueries": -1}, nil); code != http.StatusBadRequest {
		t.Fatalf("negative fault = %d, want 400", code)
	}
}

func TestRestartKeepsKeysTradesAndResumesNotifies(t *testing.T) {
	dir := t.TempDir()
	s1 := startSandbox(t, dir)
	c := s1.alipayClient(t, s1.creds.Alipay.AppPrivateKey, s1.creds.Alipay.AlipayPublicKey)
	var up atomic.Bool // the merchant is down until the restart
	rc := newReceiver(t, func(int) (int, string) {
		if up.Load() {
			return http.StatusOK, "success"
		}
		return http.StatusServiceUnavailable, ""
	})
	s1.pay(t, precreate(t, c, "S1001", "12.34", rc.srv.URL))
	testkit.Eventually(t, waitLong, func() bool { return rc.count() >= 1 }, "no first notify")
	s1.stop()
	upAt := rc.count()
	up.Store(true)

	s2 := startSandbox(t, dir)
	if s2.creds != s1.creds {
		t.Fatal("credentials changed across restart")
	}
	c2 := s2.alipayClient(t, s2.creds.Alipay.AppPrivateKey, s2.creds.Alipay.AlipayPublicKey)
	q, err := alipayQuery(c2, "S1001")
	if err != nil || q.Response.TradeStatus != "TRADE_SUCCESS" || q.Response.TotalAmount != "12.34" {
		t.Fatalf("paid trade after restart: %+v %v", q, err)
	}
	testkit.Eventually(t, waitLong, func() bool { return s2.trade(t, "S1001").Notify.Acked }, "notify did not resume after restart")
	if rc.count() <= upAt {
		t.Fatal("no notify after restart")
	}
	loaded, err := emulator.LoadMerchantFile(dir + "/merchant.json")
	if err != nil || loaded != s1.creds {
		t.Fatalf("merchant.json: %v", err)
	}
}

func TestConcurrentPaysOfOneQRPayOnce(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	wc := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	rc := newReceiver(t, wechatOK)
	qr := mustNative(t, s, wc, "C100001", 100, rc.srv.URL)
	codes := make(chan int, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); codes <- s.pay(t, qr) }()
	}
	wg.Wait()
	close(codes)
	paid := 0
	for c := range codes {
		switch c {
		case http.StatusOK:
			paid++
		case http.StatusConflict:
		default:
			t.Fatalf("pay answered %d", c)
		}
	}
	if paid != 1 {
		t.Fatalf("%d pays succeeded, want exactly 1", paid)
	}
	testkit.Eventually(t, waitLong, func() bool { return s.trade(t, "C100001").Notify.Acked }, "not notified")
	if rc.count() != 1 {
		t.Fatalf("%d notifies for one payment", rc.count())
	}
}
