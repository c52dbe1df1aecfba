package emulator_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-pay/gopay"
	wechat "github.com/go-pay/gopay/wechat/v3"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// wechatBill applies for a bill and downloads it with gopay; it returns the plain file.
func wechatBill(t *testing.T, c *wechat.ClientV3, day, billType string, gz bool) string {
	t.Helper()
	bm := gopay.BodyMap{"bill_date": day, "bill_type": billType}
	if gz {
		bm.Set("tar_type", "GZIP")
	}
	rsp, err := c.V3BillTradeBill(context.Background(), bm)
	if err != nil || rsp.Code != wechat.Success {
		t.Fatalf("tradebill %s %s: %+v %v", day, billType, rsp, err)
	}
	if rsp.Response.HashType != "SHA1" || strings.Count(rsp.Response.DownloadUrl, ".com") != 1 {
		t.Fatalf("tradebill answer: %+v", rsp.Response)
	}
	body, err := c.V3BillDownLoadBill(context.Background(), rsp.Response.DownloadUrl)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	if gz {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("not gzip: %v", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	if sum := sha1.Sum(body); hex.EncodeToString(sum[:]) != rsp.Response.HashValue {
		t.Fatalf("hash_value %s is not the SHA1 of the plain file", rsp.Response.HashValue)
	}
	return string(body)
}

func TestWechatBill(t *testing.T) {
	s := startSandbox(t, keysDir(t), billsNow)
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	paidWechatTrade(t, s, c, "WB100001", 1000)
	paidWechatTrade(t, s, c, "WB100002", 1)
	if r, err := wxRefund(c, "WB100001", "WB-R1", 300, 1000); err != nil || r.Code != wechat.Success {
		t.Fatalf("refund: %+v %v", r, err)
	}
	if code := s.do(t, http.MethodPost, "/sandbox/console/trade", map[string]any{"provider": "wechat", "amountFen": 200, "outTradeNo": "OTHER00001"}, nil); code != http.StatusOK {
		t.Fatalf("console trade: HTTP %d", code)
	}
	testkit.Eventually(t, waitLong, func() bool {
		q, err := c.V3RefundQuery(context.Background(), "WB-R1", nil)
		return err == nil && q.Response.Status == "SUCCESS"
	}, "refund never went through")
	day := s.trade(t, "WB100001").PaidAt.In(cstZone).Format("2006-01-02")

	all := wechatBill(t, c, day, "ALL", true)
	if plain := wechatBill(t, c, day, "ALL", false); plain != all {
		t.Fatal("the gzip and the plain download differ")
	}
	lines := strings.Split(strings.TrimSuffix(strings.TrimPrefix(all, "\uFEFF"), "\r\n"), "\r\n")
	if !strings.HasPrefix(all, "\uFEFF") || len(lines) != 7 {
		t.Fatalf("ALL bill: want BOM, header, 4 rows, summary header and row:\n%s", all)
	}
	header := strings.Split(lines[0], ",")
	if len(header) != 27 || header[0] != "交易时间" || header[22] != "手续费" || strings.Contains(lines[0], "`") {
		t.Fatalf("ALL header: %q", lines[0])
	}
	col := func(line, name string) string {
		cells := strings.Split(line, ",")
		for i, h := range header {
			if h == name {
				if !strings.HasPrefix(cells[i], "`") {
					t.Fatalf("cell %s of %q has no backtick", name, line)
				}
				return strings.TrimPrefix(cells[i], "`")
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	got := map[string]string{}
	for _, line := range lines[1:5] {
		got[col(line, "商户订单号")+" "+col(line, "交易状态")] = col(line, "应结订单金额") + " " + col(line, "退款金额") + " " +
			col(line, "手续费") + " " + col(line, "费率") + " " + col(line, "商户退款单号")
	}
	want := map[string]string{
		"WB100001 SUCCESS":   "10.00 0.00 0.06000 0.60% 0",
		"WB100002 SUCCESS":   "0.01 0.00 0.00000 0.60% 0",
		"OTHER00001 SUCCESS": "2.00 0.00 0.01000 0.60% 0",
		"WB100001 REFUND":    "0.00 3.00 -0.01000 0.60% WB-R1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("row %s = %q, want %q", k, got[k], v)
		}
	}
	if lines[5] != "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额" ||
		lines[6] != "`4,`12.01,`3.00,`0.00,`0.06000,`12.01,`3.00" {
		t.Fatalf("summary:\n%s\n%s", lines[5], lines[6])
	}

	success := strings.Split(wechatBill(t, c, day, "SUCCESS", false), "\r\n")
	if len(strings.Split(success[0], ",")) != 20 || strings.Contains(success[0], "退款") || len(success) != 7 { // header, 3 rows, summary ×2, ""
		t.Fatalf("SUCCESS bill:\n%s", strings.Join(success, "\n"))
	}
	refunds := strings.Split(wechatBill(t, c, day, "REFUND", true), "\r\n")
	if !strings.Contains(refunds[0], "退款申请时间") || !strings.Contains(refunds[0], "退款成功时间") || len(refunds) != 5 {
		t.Fatalf("REFUND bill:\n%s", strings.Join(refunds, "\n"))
	}

	// The download needs the merchant's signature.
	otherKey, _ := otherKeyPair(t)
	forger := s.wechatClient(t, otherKey, w.WechatPayPublicKey)
	rsp, err := c.V3BillTradeBill(context.Background(), gopay.BodyMap{"bill_date": day})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := forger.V3BillDownLoadBill(context.Background(), rsp.Response.DownloadUrl); err == nil || !strings.Contains(err.Error(), "SIGN_ERROR") {
		t.Fatalf("download signed by another key: %v", err)
	}
}

func TestWechatBillErrors(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	w := s.creds.Wechat
	c := s.wechatClient(t, w.MerchantPrivateKey, w.WechatPayPublicKey)
	paidWechatTrade(t, s, c, "WB200001", 100)
	today := time.Now().In(cstZone)
	for day, want := range map[string]string{
		today.Format("2006-01-02"):                   "STATEMENT_CREATING",
		today.AddDate(0, 0, 1).Format("2006-01-02"):  "INVALID_REQUEST",
		today.AddDate(0, -4, 0).Format("2006-01-02"): "INVALID_REQUEST",
		today.AddDate(0, 0, -2).Format("2006-01-02"): "NO_STATEMENT_EXIST",
		"2025/01/01": "PARAM_ERROR",
	} {
		rsp, err := c.V3BillTradeBill(context.Background(), gopay.BodyMap{"bill_date": day})
		if err != nil || rsp.Code != http.StatusBadRequest || rsp.ErrResponse.Code != want {
			t.Errorf("bill of %s: %+v %v, want 400 %s", day, rsp, err, want)
		}
	}
	if _, err := c.V3BillDownLoadBill(context.Background(), "https://api.mch.weixin.qq.com/v3/billdownload/file?token=nope"); err == nil || !strings.Contains(err.Error(), "INVALID_REQUEST") {
		t.Fatalf("download of an unknown token: %v", err)
	}
}
