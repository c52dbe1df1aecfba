package bill

import (
	"archive/zip"
	"encoding/csv"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// Alipay's trade bill (alipay.data.dataservice.bill.downloadurl.query, bill_type trade): a zip
// holding <account>_<yyyyMMdd>_业务明细.csv (detail) and …_业务明细(汇总).csv (summary), names and
// contents GBK. The detail file's "#交易合计" / "#退款合计" lines and the summary's 合计 row are
// checked against the detail rows. Id cells end with a TAB (kept from spreadsheets), trimmed.

const (
	alipayDetailSuffix  = "_业务明细.csv"
	alipaySummarySuffix = "_业务明细(汇总).csv"
)

var (
	alipayPayTotal    = regexp.MustCompile(`^#交易合计：(\d+)笔，商家实收共(-?[0-9.]+)元`)
	alipayRefundTotal = regexp.MustCompile(`^#退款合计：(\d+)笔，商家实收退款共(-?[0-9.]+)元`)
)

func alipayCell(s string) string { return strings.TrimSpace(s) } // also drops the id cells' TAB

// gbkName decodes a zip entry name: Alipay's entries are GBK without the UTF-8 flag.
func gbkName(f *zip.File) string {
	if !f.NonUTF8 {
		return f.Name
	}
	s, err := simplifiedchinese.GBK.NewDecoder().String(f.Name)
	if err != nil {
		return f.Name
	}
	return s
}

// ParseAlipay streams the detail rows of an Alipay bill zip to fn and checks its totals.
func ParseAlipay(r io.ReaderAt, size int64, fn func(recon.Row) error) (recon.Totals, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return recon.Totals{}, bad("not a zip: %v", err)
	}
	var detail, summary *zip.File
	for _, f := range zr.File {
		switch name := gbkName(f); {
		case strings.HasSuffix(name, alipayDetailSuffix):
			detail = f
		case strings.HasSuffix(name, alipaySummarySuffix):
			summary = f
		}
	}
	if detail == nil || summary == nil {
		return recon.Totals{}, bad("zip lacks the %s or the %s file", alipayDetailSuffix, alipaySummarySuffix)
	}
	got, stated, err := alipayDetail(detail, fn)
	if err != nil {
		return got, err
	}
	if stated != (statedTotals{got.Payments, got.PaidFen, got.Refunds, got.RefundedFen}) {
		return got, bad("detail totals say %d payments %s yuan, %d refunds %s yuan; the rows are %d, %s, %d, %s",
			stated.pays, stated.paid.Yuan(), stated.refunds, stated.refunded.Yuan(),
			got.Payments, got.PaidFen.Yuan(), got.Refunds, got.RefundedFen.Yuan())
	}
	return got, alipaySummary(summary, got)
}

type statedTotals struct {
	pays     int
	paid     money.Fen
	refunds  int
	refunded money.Fen
}

func openGBK(f *zip.File, onComment func(string)) (*csv.Reader, io.Closer, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, nil, bad("zip entry: %v", err)
	}
	cr := csv.NewReader(newCommentTap(transform.NewReader(rc, simplifiedchinese.GBK.NewDecoder()), onComment))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return cr, rc, nil
}

func alipayDetail(f *zip.File, fn func(recon.Row) error) (recon.Totals, statedTotals, error) {
	var got recon.Totals
	var stated statedTotals
	var seenPay, seenRefund bool
	var commentErr error
	cr, rc, err := openGBK(f, func(line string) {
		if m := alipayPayTotal.FindStringSubmatch(line); m != nil {
			seenPay = true
			var err error
			stated.pays, _ = strconv.Atoi(m[1])
			stated.paid, err = money.ParseYuan(m[2])
			commentErr = errors.Join(commentErr, err)
		}
		if m := alipayRefundTotal.FindStringSubmatch(line); m != nil {
			seenRefund = true
			stated.refunds, _ = strconv.Atoi(m[1])
			v, err := money.ParseYuan(m[2])
			stated.refunded = -v
			commentErr = errors.Join(commentErr, err)
		}
	})
	if err != nil {
		return got, stated, err
	}
	defer rc.Close()
	header, err := cr.Read()
	if err != nil {
		return got, stated, bad("detail file has no header: %v", err)
	}
	cols, err := newColumns(header, alipayCell, "支付宝交易号", "商户订单号", "业务类型", "完成时间", "订单金额（元）",
		"商家实收（元）", "退款批次号/请求号", "服务费（元）")
	if err != nil {
		return got, stated, err
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return got, stated, bad("detail file: %v", err)
		}
		row, err := alipayRow(cols, rec)
		if err != nil {
			return got, stated, bad("detail row %d: %v", line, err)
		}
		got.Add(row)
		if err := fn(row); err != nil {
			return got, stated, err
		}
	}
	if commentErr != nil || !seenPay || !seenRefund {
		return got, stated, bad("detail file lacks readable #交易合计 / #退款合计 lines")
	}
	return got, stated, nil
}

func alipayRow(cols columns, rec []string) (recon.Row, error) {
	get := func(name string) string { return cols.get(rec, name, alipayCell) }
	row := recon.Row{OutTradeNo: get("商户订单号"), ProviderTradeNo: get("支付宝交易号")}
	if row.OutTradeNo == "" {
		return row, bad("no 商户订单号")
	}
	var err error
	if row.At, err = parseTime(get("完成时间"), "完成时间"); err != nil {
		return row, err
	}
	received, err := yuanFen(get("商家实收（元）"), "商家实收")
	if err != nil {
		return row, err
	}
	fee, err := yuanFen(get("服务费（元）"), "服务费")
	if err != nil {
		return row, err
	}
	row.Fee = -fee // the column is the merchant's side: a charge is negative, a return positive
	switch kind := get("业务类型"); kind {
	case "交易":
		row.Kind = recon.RowPayment
		if row.Amount, err = yuanFen(get("订单金额（元）"), "订单金额"); err != nil {
			return row, err
		}
		if received != row.Amount {
			return row, bad("订单金额 %s and 商家实收 %s differ (discounts are not used by paysuite)", row.Amount.Yuan(), received.Yuan())
		}
	case "退款":
		row.Kind, row.Amount, row.OutRefundNo = recon.RowRefund, -received, get("退款批次号/请求号")
		if row.OutRefundNo == "" || row.Amount <= 0 {
			return row, bad("refund row without 退款批次号 or with a non-negative 商家实收")
		}
	default:
		return row, bad("业务类型 %q is neither 交易 nor 退款", kind)
	}
	return row, nil
}

// alipaySummary checks the summary file's 合计 row against the detail rows.
func alipaySummary(f *zip.File, got recon.Totals) error {
	cr, rc, err := openGBK(f, func(string) {})
	if err != nil {
		return err
	}
	defer rc.Close()
	header, err := cr.Read()
	if err != nil {
		return bad("summary file has no header: %v", err)
	}
	cols, err := newColumns(header, alipayCell, "门店编号", "交易订单总笔数", "退款订单总笔数", "订单金额（元）", "商家实收（元）", "服务费（元）")
	if err != nil {
		return err
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return bad("summary file has no 合计 row")
		}
		if err != nil {
			return bad("summary file: %v", err)
		}
		if cols.get(rec, "门店编号", alipayCell) != "合计" {
			continue
		}
		get := func(name string) string { return cols.get(rec, name, alipayCell) }
		pays, err1 := strconv.Atoi(get("交易订单总笔数"))
		refunds, err2 := strconv.Atoi(get("退款订单总笔数"))
		ordered, err3 := money.ParseYuan(get("订单金额（元）"))
		net, err4 := money.ParseYuan(get("商家实收（元）"))
		fee, err5 := money.ParseYuan(get("服务费（元）"))
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			return bad("summary 合计 row: %v", err)
		}
		if pays != got.Payments || refunds != got.Refunds || ordered != got.PaidFen ||
			net != got.PaidFen-got.RefundedFen || -fee != got.FeeFen {
			return bad("summary 合计 (%d payments, %d refunds, ordered %s, net %s, fee %s) does not add up to the detail rows "+
				"(%d, %d, %s, %s, %s)", pays, refunds, ordered.Yuan(), net.Yuan(), (-fee).Yuan(),
				got.Payments, got.Refunds, got.PaidFen.Yuan(), (got.PaidFen - got.RefundedFen).Yuan(), got.FeeFen.Yuan())
		}
		return nil
	}
}
