package channel_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/channel"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
	"github.com/paysuite/paysuite/services/sandbox/emulatortest"
)

func sandbox(t *testing.T) (*emulatortest.Sandbox, emulator.MerchantCredentials) {
	t.Helper()
	sb := emulatortest.Start(t, 0.001, testkit.Logger(t))
	return sb, sb.Credentials()
}

func otherPrivatePEM(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func prepay(no string) app.PrepayRequest {
	return app.PrepayRequest{OutTradeNo: no, Amount: 1234, Subject: "test", ExpireAt: time.Now().Add(10 * time.Minute)}
}

func TestAlipayChannel(t *testing.T) {
	srv, creds := sandbox(t)
	ctx := context.Background()
	good, err := channel.NewAlipay(channel.AlipayConfig{AppID: creds.Alipay.AppID, AppPrivateKey: creds.Alipay.AppPrivateKey,
		AlipayPublicKey: creds.Alipay.AlipayPublicKey, BaseURL: srv.URL, NotifyURL: "http://127.0.0.1:1/notify/alipay"})
	if err != nil {
		t.Fatal(err)
	}
	qr, err := good.Prepay(ctx, prepay("PSA000001"))
	if err != nil || !strings.HasPrefix(qr.QRCode, srv.URL) {
		t.Fatalf("precreate = %+v, %v", qr, err)
	}
	// Unscanned: invisible to trade.query, which must read as "not paid yet".
	if tr, err := good.Query(ctx, "PSA000001"); err != nil || tr.State != app.TradeWaiting {
		t.Fatalf("query of an unscanned trade = %+v, %v", tr, err)
	}

	wrongKey, err := channel.NewAlipay(channel.AlipayConfig{AppID: creds.Alipay.AppID, AppPrivateKey: otherPrivatePEM(t),
		AlipayPublicKey: creds.Alipay.AlipayPublicKey, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrongKey.Prepay(ctx, prepay("PSA000002")); err == nil || !strings.Contains(err.Error(), "isv.invalid-signature") {
		t.Fatalf("a request signed with a wrong app key = %v, want isv.invalid-signature", err)
	}

	// Answers signed by someone else than Alipay are not believed.
	wrongPub, err := channel.NewAlipay(channel.AlipayConfig{AppID: creds.Alipay.AppID, AppPrivateKey: creds.Alipay.AppPrivateKey,
		AlipayPublicKey: creds.Alipay.AppPublicKey, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrongPub.Prepay(ctx, prepay("PSA000003")); err == nil {
		t.Fatal("an answer verified with the wrong Alipay public key was accepted")
	}
}

func TestWechatChannel(t *testing.T) {
	srv, creds := sandbox(t)
	ctx := context.Background()
	w := creds.Wechat
	cfg := channel.WechatConfig{MchID: w.MchID, AppID: w.AppID, SerialNo: w.MerchantSerialNo, PrivateKey: w.MerchantPrivateKey,
		APIv3Key: w.APIv3Key, PublicKeyID: w.WechatPayPublicKeyID, PublicKey: w.WechatPayPublicKey, BaseURL: srv.URL,
		NotifyURL: "http://127.0.0.1:1/notify/wechat"}
	good, err := channel.NewWechat(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if qr, err := good.Prepay(ctx, prepay("PSW000001")); err != nil || qr.QRCode == "" {
		t.Fatalf("native = %+v, %v", qr, err)
	}
	if tr, err := good.Query(ctx, "PSW000001"); err != nil || tr.State != app.TradeWaiting {
		t.Fatalf("query = %+v, %v", tr, err)
	}
	if tr, err := good.Query(ctx, "PSW000404"); err != nil || tr.State != app.TradeWaiting {
		t.Fatalf("query of an unknown trade = %+v, %v", tr, err)
	}
	if err := good.Close(ctx, "PSW000001"); err != nil {
		t.Fatal(err)
	}
	if tr, err := good.Query(ctx, "PSW000001"); err != nil || tr.State != app.TradeClosed {
		t.Fatalf("query after close = %+v, %v", tr, err)
	}

	bad := cfg
	bad.PrivateKey = otherPrivatePEM(t)
	wrongKey, err := channel.NewWechat(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrongKey.Prepay(ctx, prepay("PSW000002")); err == nil || !strings.Contains(err.Error(), "SIGN_ERROR") {
		t.Fatalf("a request signed with a wrong merchant key = %v, want SIGN_ERROR", err)
	}
}

// TestAlipayPagePayURLHost: gopay signs page/WAP pay URLs for the real gateway without calling
// it; the buyer's browser must be sent to the configured one instead (the sandbox in dev, or
// the name the browser knows it by).
func TestAlipayPagePayURLHost(t *testing.T) {
	srv, creds := sandbox(t)
	cfg := channel.AlipayConfig{AppID: creds.Alipay.AppID, AppPrivateKey: creds.Alipay.AppPrivateKey,
		AlipayPublicKey: creds.Alipay.AlipayPublicKey, BaseURL: srv.URL, NotifyURL: "http://127.0.0.1:1/notify/alipay"}
	for name, tc := range map[string]struct {
		cashier, want string
	}{
		"ALIPAY_BASE_URL":         {"", srv.URL + "/gateway.do?"},
		"ALIPAY_CASHIER_BASE_URL": {"http://localhost:18090", "http://localhost:18090/gateway.do?"},
	} {
		t.Run(name, func(t *testing.T) {
			c := cfg
			c.CashierBaseURL = tc.cashier
			qr, err := channel.NewAlipay(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range []*channel.Alipay{qr.Page(), qr.Wap()} {
				co, err := a.Prepay(context.Background(), prepay("PSP000001"))
				if err != nil || !strings.HasPrefix(co.PayURL, tc.want) || co.QRCode != "" {
					t.Fatalf("payUrl %q, %v; want it under %s", co.PayURL, err, tc.want)
				}
			}
		})
	}
}
