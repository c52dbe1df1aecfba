package emulator_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/alipay"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
	"golang.org/x/text/encoding/simplifiedchinese"
)

var cstZone = time.FixedZone("CST", 8*3600)

// billsNow makes today's bills available (with the rows so far), as tests need.
func billsNow(c *emulator.Config) { c.BillReadyDelay = -24 * time.Hour }

func gbk(t *testing.T, b []byte) string {
	t.Helper()
	u, err := simplifiedchinese.GBK.NewDecoder().Bytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(u)
}

// alipayBill downloads the day's trade bill and returns the zip's files by (decoded) name.
func alipayBill(t *testing.T, c *alipay.Client, day string) map[string]string {
	t.Helper()
	rsp, err := c.DataBillDownloadUrlQuery(context.Background(), gopay.BodyMap{"bill_type": "trade", "bill_date": day})
	if err != nil {
		t.Fatalf("bill url: %v", err)
	}
	resp, err := http.Get(rsp.Response.BillDownloadUrl) // a plain GET, no signature
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bill download: HTTP %d %s", resp.StatusCode, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		if f.Flags&0x800 != 0 {
			t.Fatalf("zip entry %q carries the UTF-8 flag; Alipay's are GBK", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[gbk(t, []byte(f.Name))] = gbk(t, b)
	}
	return files
}

// records parses a bill's CSV, skipping the # comment lines.
func records(t *testing.T, text string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(text))
	r.Comment, r.FieldsPerRecord = '#', -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("bill is not CSV: %v\n%s", err, text)
	}
	return recs
}

func TestAlipayBill(t *testing.T) {
	s := startSandbox(t, keysDir(t), billsNow)
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	paidAlipayTrade(t, s, c, "B1001", "100.00", "")
	paidAlipayTrade(t, s, c, "B1002", "0.50", "")
	if _, err := refund(c, "B1001", "B1001-R1", "30.00"); err != nil {
		t.Fatal(err)
	}
	if code := s.do(t, http.MethodPost, "/sandbox/console/refund", map[string]any{"outTradeNo": "B1002", "amountFen": 50, "outRefundNo": "CONSOLE-B1002"}, nil); code != http.StatusOK {
		t.Fatalf("console refund: HTTP %d", code)
	}
	if code := s.do(t, http.MethodPost, "/sandbox/console/trade", map[string]any{"provider": "alipay", "amountFen": 1234, "outTradeNo": "OTHER-1"}, nil); code != http.StatusOK {
		t.Fatalf("console trade: HTTP %d", code)
	}
	paidAt := s.trade(t, "B1001").PaidAt.In(cstZone)
	day := paidAt.Format("2006-01-02")

	files := alipayBill(t, c, day)
	var detail, summary, prefix string
	for name, text := range files {
		switch {
		case strings.HasSuffix(name, "_"+paidAt.Format("20060102")+"_业务明细.csv"):
			detail, prefix = text, strings.TrimSuffix(name, "_"+paidAt.Format("20060102")+"_业务明细.csv")
		case strings.HasSuffix(name, "_业务明细(汇总).csv"):
			summary = text
		}
	}
	if len(files) != 2 || detail == "" || summary == "" || len(prefix) != 20 || !strings.HasPrefix(prefix, "2088") || !strings.HasSuffix(prefix, "0156") {
		t.Fatalf("zip entries: %v", keys(files))
	}
	for _, line := range []string{"#支付宝业务明细查询", "#账号：[" + prefix + "]", "#交易合计：3笔，商家实收共112.84元，商家优惠共0.00元",
		"#退款合计：2笔，商家实收退款共-30.50元，商家优惠退款共0.00元"} {
		if !strings.Contains(detail, line+"\r\n") {
			t.Errorf("detail file lacks the line %q", line)
		}
	}
	recs := records(t, detail)
	header := recs[0]
	if len(header) != 25 || header[0] != "支付宝交易号" || header[11] != "订单金额（元）" || header[22] != "服务费（元）" {
		t.Fatalf("detail header: %q", header)
	}
	col := func(rec []string, name string) string {
		for i, h := range header {
			if h == name {
				return rec[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	type row struct{ kind, received, fee, batch string }
	got := map[string][]row{}
	for _, rec := range recs[1:] {
		no := col(rec, "商户订单号")
		if !strings.HasSuffix(no, "\t") || !strings.HasSuffix(col(rec, "支付宝交易号"), "\t") {
			t.Fatalf("id cells must end with a TAB: %q", rec)
		}
		no = strings.TrimSuffix(no, "\t")
		got[no] = append(got[no], row{col(rec, "业务类型"), col(rec, "商家实收（元）"), col(rec, "服务费（元）"), col(rec, "退款批次号/请求号")})
	}
	want := map[string][]row{
		"B1001":   {{"交易", "100.00", "-0.60", ""}, {"退款", "-30.00", "0.18", "B1001-R1\t"}},
		"B1002":   {{"交易", "0.50", "0.00", ""}, {"退款", "-0.50", "0.00", "CONSOLE-B1002\t"}},
		"OTHER-1": {{"交易", "12.34", "-0.07", ""}},
	}
	if len(got) != len(want) {
		t.Fatalf("bill rows %v, want %v", got, want)
	}
	for no, rows := range want {
		if len(got[no]) != len(rows) {
			t.Fatalf("%s rows %v, want %v", no, got[no], rows)
		}
		for i := range rows {
			if got[no][i] != rows[i] {
				t.Errorf("%s row %d = %v, want %v", no, i, got[no][i], rows[i])
			}
		}
	}
	sum := records(t, summary)
	if len(sum) != 3 || sum[0][11] != "实收净额（元）" || strings.Join(sum[2], ",") != "合计,,3,2,112.84,82.34,0.00,0.00,0.00,-0.49,0.00,81.85" {
		t.Fatalf("summary: %q", sum)
	}

	// billAmountDeltaFen tampers with the next bill only: its first payment row.
	s.faults(t, map[string]any{"billAmountDeltaFen": 5})
	tampered := records(t, alipayBillDetail(t, c, day))
	if first := tampered[1]; strings.TrimSuffix(col(first, "商户订单号"), "\t") != "B1001" || col(first, "商家实收（元）") != "100.05" {
		t.Fatalf("tampered bill's first row: %q", first)
	}
	if again := records(t, alipayBillDetail(t, c, day)); col(again[1], "商家实收（元）") != "100.00" {
		t.Fatalf("the bill after the tampered one: %q", again[1])
	}

	// The link works 30 s.
	rsp, err := c.DataBillDownloadUrlQuery(context.Background(), gopay.BodyMap{"bill_type": "trade", "bill_date": day})
	if err != nil {
		t.Fatal(err)
	}
	emulator.Advance(s.emu, 31*time.Second)
	if resp, err := http.Get(rsp.Response.BillDownloadUrl); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("download after 31 s: %v %v", resp, err)
	}
}

func alipayBillDetail(t *testing.T, c *alipay.Client, day string) string {
	t.Helper()
	for name, text := range alipayBill(t, c, day) {
		if strings.HasSuffix(name, "_业务明细.csv") {
			return text
		}
	}
	t.Fatal("no detail file")
	return ""
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A day's bill exists once the day is over plus the ready delay (10 h by default).
func TestAlipayBillNotReady(t *testing.T) {
	s := startSandbox(t, keysDir(t))
	c := s.alipayClient(t, s.creds.Alipay.AppPrivateKey, s.creds.Alipay.AlipayPublicKey)
	today := time.Now().In(cstZone)
	for _, day := range []string{today.Format("2006-01-02"), today.AddDate(0, 0, 1).Format("2006-01-02")} {
		_, err := c.DataBillDownloadUrlQuery(context.Background(), gopay.BodyMap{"bill_type": "trade", "bill_date": day})
		if got := bizCode(t, err); got != "40004 isp.bill_not_exist" {
			t.Fatalf("bill of %s = %s, want isp.bill_not_exist", day, got)
		}
	}
	emulator.Advance(s.emu, 35*time.Hour) // tomorrow 10:00 or later: today's bill is ready
	if _, err := c.DataBillDownloadUrlQuery(context.Background(), gopay.BodyMap{"bill_type": "trade", "bill_date": today.Format("2006-01-02")}); err != nil {
		t.Fatalf("bill of a finished day: %v", err)
	}
	if _, err := c.DataBillDownloadUrlQuery(context.Background(), gopay.BodyMap{"bill_type": "trade", "bill_date": "2025-02-30"}); err == nil {
		t.Fatal("an impossible date was accepted")
	}
}
