package channel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/channel"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
	"github.com/paysuite/paysuite/services/sandbox/emulatortest"
)

// billSandbox serves today's bill (SANDBOX_BILL_READY_DELAY=-24h, as the tests of every module do).
func billSandbox(t *testing.T) (*emulatortest.Sandbox, *channel.Alipay, *channel.Wechat) {
	t.Helper()
	sb := emulatortest.Start(t, 0.001, testkit.Logger(t), func(c *emulator.Config) { c.BillReadyDelay = -24 * time.Hour })
	return billSandboxDefault(t, sb)
}

func post(t *testing.T, sb *emulatortest.Sandbox, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(sb.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d", path, b, res.StatusCode)
	}
}

// trades makes, on one provider, two paid trades (one refunded in part from the console), one
// unpaid, and one sale of another system, then reads the day's bill through the channel.
func billOf(t *testing.T, sb *emulatortest.Sandbox, ch app.Channel, src app.BillSource, provider, prefix string) ([]recon.Row, recon.Totals, app.RawBill) {
	t.Helper()
	ctx := context.Background()
	for i, amount := range []money.Fen{1234, 500, 99} {
		no := prefix + string(rune('1'+i))
		req := prepay(no)
		req.Amount = amount
		qr, err := ch.Prepay(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			post(t, sb, "/sandbox/pay", map[string]string{"qrCode": qr.QRCode})
		}
	}
	post(t, sb, "/sandbox/console/refund", map[string]any{"outTradeNo": prefix + "1", "amountFen": 234, "outRefundNo": prefix + "R1"})
	post(t, sb, "/sandbox/console/trade", map[string]any{"provider": provider, "amountFen": 777, "outTradeNo": prefix + "X"})
	// A WeChat refund settles a moment after it is accepted; the bill lists settled ones.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		raw, err := src.FetchBill(ctx, recon.DayOf(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		var rows []recon.Row
		totals, err := src.ParseBill(raw, func(r recon.Row) error { rows = append(rows, r); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if totals.Refunds == 1 || time.Now().After(deadline) {
			return rows, totals, raw
		}
	}
}

func checkRows(t *testing.T, rows []recon.Row, totals recon.Totals, prefix string) {
	t.Helper()
	want := map[string]recon.Row{
		prefix + "1":                  {Kind: recon.RowPayment, Amount: 1234, Fee: 7},
		prefix + "2":                  {Kind: recon.RowPayment, Amount: 500, Fee: 3},
		prefix + "X":                  {Kind: recon.RowPayment, Amount: 777, Fee: 5},
		prefix + "1|" + prefix + "R1": {Kind: recon.RowRefund, Amount: 234, Fee: -1},
	}
	if len(rows) != len(want) {
		t.Fatalf("bill rows = %+v, want %d rows", rows, len(want))
	}
	for _, r := range rows {
		key := r.OutTradeNo
		if r.OutRefundNo != "" {
			key += "|" + r.OutRefundNo
		}
		w, ok := want[key]
		if !ok || r.Kind != w.Kind || r.Amount != w.Amount || r.Fee != w.Fee || r.ProviderTradeNo == "" || !recon.DayOf(r.At).Contains(r.At) ||
			time.Since(r.At) > time.Hour {
			t.Errorf("row %+v, want %+v", r, w)
		}
	}
	if totals != (recon.Totals{Payments: 3, Refunds: 1, PaidFen: 2511, RefundedFen: 234, FeeFen: 14}) {
		t.Errorf("totals = %+v", totals)
	}
}

// The sandbox serves bills shaped like the real ones (GBK zip; backtick CSV in gzip with SHA1);
// the channels download them with gopay and read every row with its fee.
func TestAlipayBillFromSandbox(t *testing.T) {
	sb, ali, _ := billSandbox(t)
	rows, totals, raw := billOf(t, sb, ali, ali, "alipay", "PSBILL00")
	checkRows(t, rows, totals, "PSBILL00")
	if len(raw.Body) < 4 || string(raw.Body[:2]) != "PK" {
		t.Fatalf("raw bill is not the zip as served: %.20q", raw.Body)
	}
}

func TestWechatBillFromSandbox(t *testing.T) {
	sb, _, wx := billSandbox(t)
	rows, totals, raw := billOf(t, sb, wx, wx, "wechat", "PSCBILL0")
	checkRows(t, rows, totals, "PSCBILL0")
	if raw.Hash == "" || raw.Body[0] != 0x1f {
		t.Fatalf("raw bill is not the gzip as served, or no hash: %+v", raw.Hash)
	}
}

// A day the provider has not finished is a clear "not yet", saying when to retry.
func TestBillNotReady(t *testing.T) {
	sb := emulatortest.Start(t, 0.001, testkit.Logger(t)) // default: ready 10 h after the day
	_, ali, wx := billSandboxDefault(t, sb)
	for name, src := range map[string]app.BillSource{"alipay": ali, "wechat": wx} {
		_, err := src.FetchBill(context.Background(), recon.DayOf(time.Now()))
		var nr *recon.BillNotReadyError
		if !errors.As(err, &nr) || !nr.RetryAfter.After(time.Now()) {
			t.Errorf("%s: today's bill = %v, want BillNotReadyError with a retry time", name, err)
		}
	}
}

func billSandboxDefault(t *testing.T, sb *emulatortest.Sandbox) (*emulatortest.Sandbox, *channel.Alipay, *channel.Wechat) {
	t.Helper()
	creds := sb.Credentials()
	ali, err := channel.NewAlipay(channel.AlipayConfig{AppID: creds.Alipay.AppID, AppPrivateKey: creds.Alipay.AppPrivateKey,
		AlipayPublicKey: creds.Alipay.AlipayPublicKey, BaseURL: sb.URL, NotifyURL: "http://127.0.0.1:1/notify/alipay"})
	if err != nil {
		t.Fatal(err)
	}
	w := creds.Wechat
	wx, err := channel.NewWechat(channel.WechatConfig{MchID: w.MchID, AppID: w.AppID, SerialNo: w.MerchantSerialNo,
		PrivateKey: w.MerchantPrivateKey, APIv3Key: w.APIv3Key, PublicKeyID: w.WechatPayPublicKeyID, PublicKey: w.WechatPayPublicKey,
		BaseURL: sb.URL, NotifyURL: "http://127.0.0.1:1/notify/wechat"})
	if err != nil {
		t.Fatal(err)
	}
	return sb, ali, wx
}
