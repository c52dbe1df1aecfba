package emulator_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/alipay"
	"github.com/paysuite/paysuite/pkg/testkit"
)

func bizCode(t *testing.T, err error) string {
	t.Helper()
	be, ok := alipay.IsBizError(err)
	if !ok {
		t.Fatalf("want an Alipay business error, got %v", err)
	}
	return be.Code + " " + be.SubCode
}

func precreate(t *testing.T, c *alipay.Client, outTradeNo, amount string, notifyURL string) string {
	t.Helper()
	bm := gopay.BodyMap{}
	bm.Set("out_trade_no", outTradeNo).Set("total_amount", amount).Set("subject", "Go course").
		Set("timeout_express", "25m").Set("notify_url", notifyURL)
	rsp, err := c.TradePrecreate(context.Background(), bm)
	if err != nil {
		t.Fatalf("precreate: %v", err)
	}
	if rsp.Response.OutTradeNo != outTradeNo || rsp.Response.QrCode == "" {
		t.Fatalf("precreate answer: %+v", rsp.Response)
	}
	return rsp.Response.QrCode
}

func alipayQuery(c *alipay.Client, outTradeNo string) (*alipay.TradeQueryResponse, error) {
	return c.TradeQuery(context.Background(), gopay.BodyMap{"out_trade_no": outTradeNo})
}

func refund(c *alipay.Client, outTradeNo, reqNo, amount string) (*alipay.TradeRefundResponse, error) {
	bm := gopay.BodyMap{"out_trade_no": outTradeNo, "out_request_no": reqNo, "refund_amount": amount}
	return c.TradeRefund(context.Background(), bm)
}

func TestAlipayPrecreatePayNotifyQueryRefundClose(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	rc := newReceiver(t, alipayOK)
	ctx := context.Background()

	qr := precreate(t, c, "A1001", "10.00", rc.srv.URL+"/notify/alipay")
	if again := precreate(t, c, "A1001", "10.00", rc.srv.URL+"/notify/alipay"); again != qr {
		t.Fatalf("repeated precreate gave another QR: %s vs %s", again, qr)
	}
	_, err := alipayQuery(c, "A1001")
	if got := bizCode(t, err); got != "40004 ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("query before scan = %s, want TRADE_NOT_EXIST", got)
	}
	bm := gopay.BodyMap{"out_trade_no": "A1001", "total_amount": "11.00", "subject": "Go course"}
	if _, err := c.TradePrecreate(ctx, bm); bizCode(t, err) != "40004 ACQ.CONTEXT_INCONSISTENT" {
		t.Fatalf("precreate with another amount: %v", err)
	}

	if code := s.pay(t, qr); code != http.StatusOK {
		t.Fatalf("pay = %d", code)
	}
	if code := s.pay(t, qr); code != http.StatusConflict {
		t.Fatalf("second pay = %d, want 409", code)
	}
	testkit.Eventually(t, waitLong, func() bool { return rc.count() >= 1 }, "no alipay notify")
	nbm, err := alipay.ParseNotifyToBodyMap(rc.request(0))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := alipay.VerifySign(pemBody(s.creds.Alipay.AlipayPublicKey), nbm); !ok || err != nil {
		t.Fatalf("notify signature: %v", err)
	}
	for k, want := range map[string]string{"app_id": s.creds.Alipay.AppID, "out_trade_no": "A1001",
		"total_amount": "10.00", "trade_status": "TRADE_SUCCESS", "notify_type": "trade_status_sync"} {
		if got := nbm.GetString(k); got != want {
			t.Errorf("notify %s = %q, want %q", k, got, want)
		}
	}
	_, otherPub := otherKeyPair(t)
	if ok, _ := alipay.VerifySign(pemBody(otherPub), nbm); ok {
		t.Fatal("notify verified with a foreign key")
	}

	q, err := alipayQuery(c, "A1001")
	if err != nil {
		t.Fatalf("query after pay: %v", err)
	}
	if r := q.Response; r.TradeStatus != "TRADE_SUCCESS" || r.TotalAmount != "10.00" || r.ReceiptAmount != "10.00" ||
		r.BuyerPayAmount != "10.00" || r.TradeNo == "" || r.SendPayDate == "" || r.BuyerLogonId == "" {
		t.Fatalf("query after pay: %+v", r)
	}
	if r := q.Response; r.TradeNo != nbm.GetString("trade_no") {
		t.Fatalf("trade_no differs between query (%s) and notify (%s)", r.TradeNo, nbm.GetString("trade_no"))
	}

	r1, err := refund(c, "A1001", "R1", "3.00")
	if err != nil || r1.Response.FundChange != "Y" || r1.Response.RefundFee != "3.00" {
		t.Fatalf("partial refund: %+v %v", r1, err)
	}
	r1again, err := refund(c, "A1001", "R1", "3.00")
	if err != nil || r1again.Response.FundChange != "N" || r1again.Response.RefundFee != "3.00" {
		t.Fatalf("repeated refund: %+v %v", r1again, err)
	}
	if _, err := refund(c, "A1001", "R2", "8.00"); bizCode(t, err) != "40004 ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" {
		t.Fatalf("over-refund: %v", err)
	}
	rq, err := c.TradeFastPayRefundQuery(ctx, gopay.BodyMap{"out_trade_no": "A1001", "out_request_no": "R1"})
	if err != nil || rq.Response.RefundAmount != "3.00" || rq.Response.RefundStatus != "REFUND_SUCCESS" {
		t.Fatalf("refund query: %+v %v", rq, err)
	}
	_, err = c.TradeClose(ctx, gopay.BodyMap{"out_trade_no": "A1001"})
	if got := bizCode(t, err); got != "40004 ACQ.TRADE_STATUS_ERROR" {
		t.Fatalf("close of a paid trade = %s", got)
	}
	if r7, err := refund(c, "A1001", "R3", "7.00"); err != nil || r7.Response.RefundFee != "10.00" {
		t.Fatalf("refund of the rest: %+v %v", r7, err)
	}
	if q, err := alipayQuery(c, "A1001"); err != nil || q.Response.TradeStatus != "TRADE_CLOSED" {
		t.Fatalf("fully refunded trade should read TRADE_CLOSED: %+v %v", q, err)
	}
}

func TestAlipayRefusesWrongKeys(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	otherPriv, otherPub := otherKeyPair(t)

	forger := s.alipayClient(t, otherPriv, s.creds.Alipay.AlipayPublicKey)
	_, err := alipayQuery(forger, "A3001")
	if got := bizCode(t, err); got != "40002 isv.invalid-signature" {
		t.Fatalf("request signed by a foreign key = %s", got)
	}
	bm := gopay.BodyMap{"out_trade_no": "A3001", "total_amount": "1.00", "subject": "x"}
	if _, err := forger.TradePrecreate(context.Background(), bm); bizCode(t, err) != "40002 isv.invalid-signature" {
		t.Fatalf("forged precreate: %v", err)
	}

	stranger, err := alipay.NewClient("2021000000000000", pemBody(s.creds.Alipay.AppPrivateKey), false)
	if err != nil {
		t.Fatal(err)
	}
	stranger.SetHttpClient(forger.GetHttpClient())
	if _, err := alipayQuery(stranger, "A3001"); bizCode(t, err) != "40002 isv.invalid-app-id" {
		t.Fatalf("unknown app_id: %v", err)
	}

	gullible := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, otherPub)
	if _, err := gullible.TradePrecreate(context.Background(), bm); !errors.Is(err, gopay.VerifySignatureErr) {
		t.Fatalf("client trusting another platform key must reject the answer, got %v", err)
	}
}

func TestAlipayExpiredTradeCannotBePaid(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	expire := time.Now().Add(2 * time.Second).In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
	bm := gopay.BodyMap{"out_trade_no": "A4001", "total_amount": "1.00", "subject": "x", "time_expire": expire}
	rsp, err := c.TradePrecreate(context.Background(), bm)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(rsp.Response.QrCode) // scanned, so query sees it
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	testkit.Eventually(t, waitLong, func() bool {
		q, err := alipayQuery(c, "A4001")
		return err == nil && q.Response.TradeStatus == "TRADE_CLOSED"
	}, "expired trade never read TRADE_CLOSED")
	if code := s.pay(t, rsp.Response.QrCode); code != http.StatusConflict {
		t.Fatalf("pay of an expired trade = %d, want 409", code)
	}
}
