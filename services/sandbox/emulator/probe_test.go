package emulator_test

import (
	"crypto/rsa"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-pay/gopay"
	wechat "github.com/go-pay/gopay/wechat/v3"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// verifyingReceiver is a merchant that verifies WeChat notifies as it must: signature by the
// WeChat Pay public key and a timestamp within 5 minutes; 401 otherwise.
func (s *sandbox) verifyingReceiver(t *testing.T) *receiver {
	t.Helper()
	pub := parsePub(t, s.creds.Wechat.WechatPayPublicKey).(*rsa.PublicKey)
	var rc *receiver
	rc = newReceiver(t, func(n int) (int, string) {
		req, err := wechat.V3ParseNotify(rc.request(n - 1))
		if err != nil || req.VerifySignByPK(pub) != nil {
			return http.StatusUnauthorized, `{"code":"FAIL","message":"bad signature"}`
		}
		ts, _ := strconv.ParseInt(req.SignInfo.HeaderTimestamp, 10, 64)
		if d := time.Since(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
			return http.StatusUnauthorized, `{"code":"FAIL","message":"stale timestamp"}`
		}
		return http.StatusNoContent, ""
	})
	return rc
}

func TestSignatureProbePrecedesTheRealNotify(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	careful := s.verifyingReceiver(t)
	gullible := newReceiver(t, wechatOK)
	s.faults(t, map[string]any{"signatureProbes": 2})
	s.pay(t, mustNative(t, s, c, "PB100001", 100, careful.srv.URL))
	testkit.Eventually(t, waitLong, func() bool { return s.trade(t, "PB100001").Notify.Acked }, "real notify not acknowledged")
	if careful.count() != 2 || !strings.HasPrefix(careful.request(0).Header.Get("Wechatpay-Signature"), "WECHATPAY/SIGNTEST/") {
		t.Fatalf("want the probe then the real notify, got %d requests (first signature %q)", careful.count(),
			careful.request(0).Header.Get("Wechatpay-Signature"))
	}
	if n := s.trade(t, "PB100001").Notify; !n.Probe || n.ProbeAcked || n.Attempts != 1 {
		t.Fatalf("notify after a refused probe: %+v", n)
	}

	s.pay(t, mustNative(t, s, c, "PB100002", 100, gullible.srv.URL))
	testkit.Eventually(t, waitLong, func() bool { return s.trade(t, "PB100002").Notify.Acked }, "real notify not acknowledged")
	if n := s.trade(t, "PB100002").Notify; !n.ProbeAcked {
		t.Fatalf("a merchant acknowledging the probe is not recorded: %+v", n)
	}
	s.pay(t, mustNative(t, s, c, "PB100003", 100, careful.srv.URL)) // probes used up
	testkit.Eventually(t, waitLong, func() bool { return s.trade(t, "PB100003").Notify.Acked }, "not acknowledged")
	if n := s.trade(t, "PB100003").Notify; n.Probe || careful.count() != 3 {
		t.Fatalf("a third notify got a probe: %+v, %d requests", n, careful.count())
	}
}

// A notify stamped 10 minutes ago, signed with the real key, is refused by a careful merchant;
// the retry carries a fresh timestamp.
func TestNotifyTimestampSkew(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	rc := s.verifyingReceiver(t)
	s.faults(t, map[string]any{"notifyTimestampSkewSeconds": -600})
	s.pay(t, mustNative(t, s, c, "SK100001", 100, rc.srv.URL))
	testkit.Eventually(t, waitLong, func() bool { return s.trade(t, "SK100001").Notify.Acked }, "never acknowledged")
	if n := s.trade(t, "SK100001").Notify; n.Attempts != 2 {
		t.Fatalf("attempts = %d, want 2 (the skewed one refused)", n.Attempts)
	}
	first := rc.request(0)
	req, _ := wechat.V3ParseNotify(first)
	if err := req.VerifySignByPK(parsePub(t, w.WechatPayPublicKey).(*rsa.PublicKey)); err != nil {
		t.Fatalf("the skewed notify must carry a valid signature: %v", err)
	}
	ts, _ := strconv.ParseInt(first.Header.Get("Wechatpay-Timestamp"), 10, 64)
	if d := time.Since(time.Unix(ts, 0)); d < 9*time.Minute {
		t.Fatalf("first attempt stamped %s ago, want about 10 minutes", d)
	}
}

// WeChat counts a notify not answered within 5 s as failed, and sends it again.
func TestWechatNotifyAnsweredTooLateIsRetried(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	rc := newReceiver(t, func(n int) (int, string) {
		if n == 1 {
			select { // answer only after WeChat has given up on this attempt
			case <-release:
			case <-time.After(8 * time.Second):
			}
		}
		return http.StatusNoContent, ""
	})
	s.pay(t, mustNative(t, s, c, "TO100001", 100, rc.srv.URL))
	testkit.Eventually(t, waitLong, func() bool { return s.trade(t, "TO100001").Notify.Acked }, "never acknowledged")
	if n := s.trade(t, "TO100001").Notify; n.Attempts != 2 || rc.count() != 2 {
		t.Fatalf("attempts = %d, requests %d; want 2 (the slow answer counts as failed)", n.Attempts, rc.count())
	}
}

func TestAnswerSignatureProbe(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	mustNative(t, s, c, "AP100001", 100, "http://127.0.0.1:1/n")
	s.faults(t, map[string]any{"answerSignatureProbes": 1})
	rsp, err := c.V3TransactionQueryOrder(t.Context(), wechat.OutTradeNo, "AP100001")
	if !errors.Is(err, gopay.VerifySignatureErr) || !strings.HasPrefix(rsp.SignInfo.HeaderSignature, "WECHATPAY/SIGNTEST/") {
		t.Fatalf("probed answer: err %v, signature %q", err, rsp.SignInfo.HeaderSignature)
	}
	if q := wxQuery(t, c, "AP100001"); q.Response.TradeState != "NOTPAY" {
		t.Fatalf("next answer: %+v", q.Response)
	}
}
