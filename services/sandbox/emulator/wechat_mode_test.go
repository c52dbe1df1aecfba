package emulator_test

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	wechat "github.com/go-pay/gopay/wechat/v3"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

func withMode(mode string) func(*emulator.Config) {
	return func(c *emulator.Config) { c.WechatMode = mode }
}

// certClient is a merchant that has not migrated: it trusts the platform certificates it
// downloads from /v3/certificates (through the sandbox).
func (s *sandbox) certClient(t *testing.T) *wechat.ClientV3 {
	t.Helper()
	w := s.creds.Wechat
	c, err := wechat.NewClientV3(w.MchID, w.MerchantSerialNo, w.APIv3Key, w.MerchantPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	c.SetProxyHost(s.srv.URL)
	if err := c.AutoVerifySign(false); err != nil {
		t.Fatalf("download platform certificates: %v", err)
	}
	return c
}

var certSerial = regexp.MustCompile(`^[0-9A-F]{40}$`)

func TestWechatCertificateMode(t *testing.T) {
	s := startSandbox(t, keysDir(t), withMode(emulator.WechatModeCertificate))
	c := s.certClient(t)
	if !certSerial.MatchString(c.WxSerialNo) || c.WxSerialNo != s.emu.WechatPlatformCertSerial() {
		t.Fatalf("certificate serial %q, sandbox %q", c.WxSerialNo, s.emu.WechatPlatformCertSerial())
	}
	rc := newReceiver(t, wechatOK)
	qr := mustNative(t, s, c, "CM100001", 100, rc.srv.URL) // the answer verifies with the certificate
	q := wxQuery(t, c, "CM100001")
	if q.SignInfo.HeaderSerial != c.WxSerialNo {
		t.Fatalf("answer signed by %q, want the certificate %q", q.SignInfo.HeaderSerial, c.WxSerialNo)
	}
	s.pay(t, qr)
	testkit.Eventually(t, waitLong, func() bool { return rc.count() >= 1 }, "no notify")
	req, err := wechat.V3ParseNotify(rc.request(0))
	if err != nil {
		t.Fatal(err)
	}
	if req.SignInfo.HeaderSerial != c.WxSerialNo || req.VerifySignByPKMap(c.WxPublicKeyMap()) != nil {
		t.Fatalf("notify signed by %q, does not verify with the certificate", req.SignInfo.HeaderSerial)
	}
	// A merchant holding only the public key cannot verify certificate-mode notifies.
	if err := req.VerifySignByPK(parsePub(t, s.creds.Wechat.WechatPayPublicKey).(*rsa.PublicKey)); err == nil {
		t.Fatal("a certificate-mode notify verified with the WeChat Pay public key")
	}
}

func TestWechatPublicKeyModeHasNoCertificates(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c, err := wechat.NewClientV3(w.MchID, w.MerchantSerialNo, w.APIv3Key, w.MerchantPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	c.SetProxyHost(s.srv.URL)
	if err := c.AutoVerifySign(false); err == nil || !strings.Contains(err.Error(), "certs is empty") {
		t.Fatalf("certificate download in public-key mode: %v, want an empty list", err)
	}
}

// During the migration answers follow the request's Wechatpay-Serial and notifies come signed by
// either key.
func TestWechatBothMode(t *testing.T) {
	s := startSandbox(t, keysDir(t), withMode(emulator.WechatModeBoth))
	emulator.AlternateNotifyKeys(s.emu)
	w := s.creds.Wechat
	notMigrated := s.certClient(t)
	migrating := s.certClient(t)
	if err := migrating.AutoVerifySignByPublicKey([]byte(w.WechatPayPublicKey), w.WechatPayPublicKeyID); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, wechatOK)
	qr1 := mustNative(t, s, notMigrated, "BM100001", 100, rc.srv.URL)
	qr2 := mustNative(t, s, migrating, "BM100002", 100, rc.srv.URL)
	if q := wxQuery(t, notMigrated, "BM100001"); q.SignInfo.HeaderSerial != s.emu.WechatPlatformCertSerial() {
		t.Fatalf("answer to a certificate serial signed by %q", q.SignInfo.HeaderSerial)
	}
	if q := wxQuery(t, migrating, "BM100001"); q.SignInfo.HeaderSerial != w.WechatPayPublicKeyID {
		t.Fatalf("answer to %s signed by %q", w.WechatPayPublicKeyID, q.SignInfo.HeaderSerial)
	}
	s.pay(t, qr1)
	testkit.Eventually(t, waitLong, func() bool { return rc.count() == 1 }, "no first notify")
	s.pay(t, qr2)
	testkit.Eventually(t, waitLong, func() bool { return rc.count() == 2 }, "no second notify")
	serials := map[string]bool{}
	for i := range 2 {
		req, err := wechat.V3ParseNotify(rc.request(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := req.VerifySignByPKMap(migrating.WxPublicKeyMap()); err != nil {
			t.Fatalf("notify %d signed by %q: %v", i, req.SignInfo.HeaderSerial, err)
		}
		serials[req.SignInfo.HeaderSerial] = true
	}
	if !serials[w.WechatPayPublicKeyID] || !serials[s.emu.WechatPlatformCertSerial()] {
		t.Fatalf("notify serials %v, want both keys", serials)
	}
	if cl, err := notMigrated.V3TransactionCloseOrder(context.Background(), "BM100001"); err != nil || cl.Code != http.StatusBadRequest {
		t.Fatalf("close (signed error answer): %+v %v", cl, err)
	}
}

// A keys dir made before certificate mode existed gains a platform certificate at its next start,
// keeping every key the merchant already holds.
func TestOldKeysDirGainsAPlatformCertificate(t *testing.T) {
	dir := keysDir(t)
	path := dir + "/sandbox.json"
	var sec map[string]string
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &sec) != nil {
		t.Fatalf("sandbox.json: %v", err)
	}
	delete(sec, "wechatPlatformCertPrivateKey")
	delete(sec, "wechatPlatformCert")
	b, _ = json.Marshal(sec)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := emulator.LoadMerchantFile(dir + "/merchant.json")
	if err != nil {
		t.Fatal(err)
	}
	s := startSandbox(t, dir, withMode(emulator.WechatModeCertificate))
	if s.creds != before || !certSerial.MatchString(s.emu.WechatPlatformCertSerial()) {
		t.Fatalf("credentials changed or no certificate: serial %q", s.emu.WechatPlatformCertSerial())
	}
	mustNative(t, s, s.certClient(t), "OK100001", 100, "http://127.0.0.1:1/n")
	b, _ = os.ReadFile(path)
	if !strings.Contains(string(b), "wechatPlatformCert") {
		t.Fatal("the new certificate was not kept in sandbox.json")
	}
}
