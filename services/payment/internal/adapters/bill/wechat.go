package bill

import (
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// WeChat Pay's trade bill (GET /v3/bill/tradebill, bill_type ALL): UTF-8 (a BOM seen in the
// wild), the header line, detail rows with every cell prefixed by a backtick, then the summary
// header (总交易单数,…) and one summary row, checked against the detail rows. Columns are read
// by name (the REFUND bill adds columns in an unverified place).

const wechatSummaryFirst = "总交易单数"

func wechatCell(s string) string {
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stripBOM(s)), "`"))
}

// ParseWechat streams the detail rows of a WeChat ALL bill (uncompressed) to fn and checks the
// summary row.
func ParseWechat(r io.Reader, fn func(recon.Row) error) (recon.Totals, error) {
	var got recon.Totals
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.LazyQuotes = true
	header, err := cr.Read()
	if err == io.EOF {
		return got, bad("empty bill file")
	}
	if err != nil {
		return got, bad("header: %v", err)
	}
	cols, err := newColumns(header, wechatCell, "交易时间", "微信订单号", "商户订单号", "交易状态", "订单金额",
		"商户退款单号", "退款金额", "手续费")
	if err != nil {
		return got, err
	}
	var fees micro
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return got, bad("no summary rows (%s…): the file is cut short", wechatSummaryFirst)
		}
		if err != nil {
			return got, bad("line %d: %v", line, err)
		}
		if wechatCell(rec[0]) == wechatSummaryFirst {
			return got, wechatSummary(cr, rec, got, fees)
		}
		if !strings.HasPrefix(rec[0], "`") {
			return got, bad("line %d: a detail row's cells start with a backtick", line)
		}
		row, fee, err := wechatRow(cols, rec)
		if err != nil {
			return got, bad("line %d: %v", line, err)
		}
		fees += fee
		got.Add(row)
		if err := fn(row); err != nil {
			return got, err
		}
	}
}

func wechatRow(cols columns, rec []string) (recon.Row, micro, error) {
	get := func(name string) string { return cols.get(rec, name, wechatCell) }
	row := recon.Row{OutTradeNo: get("商户订单号"), ProviderTradeNo: get("微信订单号")}
	if row.OutTradeNo == "" {
		return row, 0, bad("no 商户订单号")
	}
	fee, err := parseMicro(get("手续费"), "手续费")
	if err != nil {
		return row, 0, err
	}
	row.Fee = fee.fen()
	row.At, err = parseTime(get("交易时间"), "交易时间")
	if err != nil {
		return row, 0, err
	}
	switch state := get("交易状态"); state {
	case "SUCCESS":
		row.Kind = recon.RowPayment
		row.Amount, err = yuanFen(get("订单金额"), "订单金额")
	case "REFUND":
		row.Kind, row.OutRefundNo = recon.RowRefund, get("商户退款单号")
		row.Amount, err = yuanFen(get("退款金额"), "退款金额")
		if t := get("退款成功时间"); t != "" && err == nil { // REFUND bills; ALL bills date the row by the trade
			row.At, err = parseTime(t, "退款成功时间")
		}
		if err == nil && (row.OutRefundNo == "" || row.OutRefundNo == "0") {
			err = bad("refund row without 商户退款单号")
		}
	default:
		err = bad("交易状态 %q is neither SUCCESS nor REFUND", state)
	}
	return row, fee, err
}

// wechatSummary reads the summary row after its header and checks it.
func wechatSummary(cr *csv.Reader, header []string, got recon.Totals, fees micro) error {
	cols, err := newColumns(header, wechatCell, wechatSummaryFirst, "应结订单总金额", "退款总金额", "手续费总金额")
	if err != nil {
		return err
	}
	rec, err := cr.Read()
	if err != nil {
		return bad("summary row missing: %v", err)
	}
	get := func(name string) string { return cols.get(rec, name, wechatCell) }
	count, err1 := strconv.Atoi(get(wechatSummaryFirst))
	settled, err2 := money.ParseYuan(get("应结订单总金额"))
	refunded, err3 := money.ParseYuan(get("退款总金额"))
	fee, err4 := parseMicro(get("手续费总金额"), "手续费总金额")
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return bad("summary row: %v", err)
	}
	if count != got.Payments+got.Refunds || settled != got.PaidFen || refunded != got.RefundedFen || fee != fees {
		return bad("summary (%d rows, settled %s, refunded %s, fee %d/100000 yuan) does not add up to the detail rows "+
			"(%d, %s, %s, %d/100000)", count, settled.Yuan(), refunded.Yuan(), fee, got.Payments+got.Refunds,
			got.PaidFen.Yuan(), got.RefundedFen.Yuan(), fees)
	}
	if _, err := cr.Read(); err != io.EOF {
		return bad("lines after the summary row")
	}
	return nil
}
