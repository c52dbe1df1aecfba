package bill_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paysuite/paysuite/services/payment/internal/adapters/bill"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// Files shaped like the real ones (PROVIDERS.md "Second wave" §6), small enough to edit.

const alipayDetail = "#支付宝业务明细查询\r\n#账号：[20880211096256330156]\r\n" +
	"#起始日期：[2019年09月16日 00:00:00]   终止日期：[2019年09月17日 00:00:00]\r\n" +
	"#-----------------------------------------业务明细列表----------------------------------------\r\n" +
	"支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\r\n" +
	"2019091622001458860515315453\t,PS0001\t,交易,\"课程, 第一期\",2019-09-16 10:00:00,2019-09-16 10:00:05,,,,,*津水(602***@qq.com),12.34,12.34,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.07,0.00,\r\n" +
	"2019091622001458860515315454\t,PS0002\t,交易,课程,2019-09-16 11:00:00,2019-09-16 11:00:05,,,,,*津水(602***@qq.com),5.00,5.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.03,0.00,\r\n" +
	"2019091622001458860515315453\t,PS0001\t,退款,课程,2019-09-16 10:00:00,2019-09-16 12:00:00,,,,,*津水(602***@qq.com),12.34,-2.34,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,RF1\t,0.01,0.00,\r\n" +
	"#-----------------------------------------业务明细列表结束------------------------------------\r\n" +
	"#交易合计：2笔，商家实收共17.34元，商家优惠共0.00元\r\n" +
	"#退款合计：1笔，商家实收退款共-2.34元，商家优惠退款共0.00元\r\n" +
	"#导出时间：[2019年09月17日 05:46:49]\r\n"

const alipaySummary = "#支付宝业务汇总查询\r\n#账号：[20880211096256330156]\r\n" +
	"#-----------------------------------------业务汇总列表----------------------------------------\r\n" +
	"门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）\r\n" +
	",,2,1,17.34,15.00,0.00,0.00,0.00,-0.09,0.00,14.91\r\n" +
	"合计,,2,1,17.34,15.00,0.00,0.00,0.00,-0.09,0.00,14.91\r\n" +
	"#-----------------------------------------业务汇总列表结束------------------------------------\r\n"

func gbk(t *testing.T, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func alipayZip(t *testing.T, detail, summary string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range [][2]string{{"20880211096256330156_20190916_业务明细.csv", detail}, {"20880211096256330156_20190916_业务明细(汇总).csv", summary}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: string(gbk(t, f[0])), NonUTF8: true, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(gbk(t, f[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func parseAlipay(t *testing.T, detail, summary string) ([]recon.Row, recon.Totals, error) {
	t.Helper()
	z := alipayZip(t, detail, summary)
	var rows []recon.Row
	tot, err := bill.ParseAlipay(bytes.NewReader(z), int64(len(z)), func(r recon.Row) error { rows = append(rows, r); return nil })
	return rows, tot, err
}

func isBad(err error) bool {
	var b *recon.BadBillError
	return errors.As(err, &b)
}

// GBK names and contents, comment lines, TAB-ended ids, a quoted comma, refund rows.
func TestAlipayParse(t *testing.T) {
	rows, tot, err := parseAlipay(t, alipayDetail, alipaySummary)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].OutTradeNo != "PS0001" || rows[0].ProviderTradeNo != "2019091622001458860515315453" ||
		rows[0].Amount != 1234 || rows[0].Fee != 7 || rows[2].Kind != recon.RowRefund || rows[2].OutRefundNo != "RF1" ||
		rows[2].Amount != 234 || rows[2].Fee != -1 || rows[2].At.Hour() != 12 {
		t.Fatalf("rows = %+v", rows)
	}
	if tot != (recon.Totals{Payments: 2, Refunds: 1, PaidFen: 1734, RefundedFen: 234, FeeFen: 9}) {
		t.Fatalf("totals = %+v", tot)
	}
}

// The detail file's own totals lines must agree with its rows.
func TestAlipayDetailTotalsChecked(t *testing.T) {
	d := strings.Replace(alipayDetail, "#交易合计：2笔，商家实收共17.34元", "#交易合计：2笔，商家实收共17.35元", 1)
	if _, _, err := parseAlipay(t, d, alipaySummary); !isBad(err) {
		t.Fatalf("detail totals off by a fen = %v, want BadBillError", err)
	}
	d = strings.Replace(alipayDetail, "#退款合计：1笔", "#退款合计：2笔", 1)
	if _, _, err := parseAlipay(t, d, alipaySummary); !isBad(err) {
		t.Fatalf("refund count off = %v, want BadBillError", err)
	}
}

// The summary file's 合计 row must agree with the detail rows.
func TestAlipaySummaryChecked(t *testing.T) {
	s := strings.Replace(alipaySummary, "合计,,2,1,17.34,15.00,0.00,0.00,0.00,-0.09", "合计,,2,1,17.34,15.00,0.00,0.00,0.00,-0.08", 1)
	if _, _, err := parseAlipay(t, alipayDetail, s); !isBad(err) {
		t.Fatalf("summary fee off = %v, want BadBillError", err)
	}
}

// A row cut short or garbled is refused, not skipped.
func TestAlipayCorruptRow(t *testing.T) {
	d := strings.Replace(alipayDetail, ",5.00,5.00,", ",5.0x,5.00,", 1)
	if _, _, err := parseAlipay(t, d, alipaySummary); !isBad(err) {
		t.Fatalf("garbled amount = %v, want BadBillError", err)
	}
	if _, err := bill.ParseAlipay(bytes.NewReader([]byte("PK garbage")), 10, func(recon.Row) error { return nil }); !isBad(err) {
		t.Fatalf("not a zip = %v", err)
	}
}

const wechatBill = "\uFEFF交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n" +
	"`2024-05-01 10:00:00,`wx1,`190001,`0,`,`4200001,`PS0001,`oUser,`NATIVE,`SUCCESS,`OTHERS,`CNY,`12.34,`0.00,`0,`0,`0.00,`0.00,`,`,`课程,`,`0.07000,`0.60%,`12.34,`0.00,`\r\n" +
	"`2024-05-01 10:00:00,`wx1,`190001,`0,`,`4200001,`PS0001,`oUser,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`5000001,`RF1,`2.34,`0.00,`ORIGINAL,`SUCCESS,`课程,`,`-0.01000,`0.60%,`0.00,`2.34,`\r\n" +
	"总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n" +
	"`2,`12.34,`2.34,`0.00,`0.06000,`12.34,`2.34\r\n"

func parseWechat(s string) ([]recon.Row, recon.Totals, error) {
	var rows []recon.Row
	tot, err := bill.ParseWechat(strings.NewReader(s), func(r recon.Row) error { rows = append(rows, r); return nil })
	return rows, tot, err
}

// BOM, backtick-prefixed cells, five-decimal fees, the summary rows.
func TestWechatParse(t *testing.T) {
	rows, tot, err := parseWechat(wechatBill)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].OutTradeNo != "PS0001" || rows[0].Amount != 1234 || rows[0].Fee != 7 ||
		rows[1].Kind != recon.RowRefund || rows[1].OutRefundNo != "RF1" || rows[1].Amount != 234 || rows[1].Fee != -1 {
		t.Fatalf("rows = %+v", rows)
	}
	if tot != (recon.Totals{Payments: 1, Refunds: 1, PaidFen: 1234, RefundedFen: 234, FeeFen: 6}) {
		t.Fatalf("totals = %+v", tot)
	}
}

// The summary row must agree with the rows; a file cut before it is refused.
func TestWechatSummaryChecked(t *testing.T) {
	if _, _, err := parseWechat(strings.Replace(wechatBill, "`2,`12.34,`2.34", "`2,`12.35,`2.34", 1)); !isBad(err) {
		t.Fatalf("summary amount off = %v, want BadBillError", err)
	}
	if _, _, err := parseWechat(strings.Replace(wechatBill, "`0.06000,`12.34", "`0.06001,`12.34", 1)); !isBad(err) {
		t.Fatalf("summary fee off = %v, want BadBillError", err)
	}
	cut := wechatBill[:strings.Index(wechatBill, "总交易单数")]
	if _, _, err := parseWechat(cut); !isBad(err) {
		t.Fatalf("file without summary = %v, want BadBillError", err)
	}
}
