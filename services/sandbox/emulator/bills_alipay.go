package emulator

import (
	"archive/zip"
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Alipay alipay.data.dataservice.bill.downloadurl.query (bill_type trade, daily) and the download
// it points to: a zip, <account>_<yyyyMMdd>.csv.zip, holding the detail and the summary file,
// names and contents GBK (entries without the zip UTF-8 flag). <account> is the seller's 2088 PID
// + "0156". Id cells end with a TAB, as in the real files. The link works 30 s and needs no
// signature (a plain GET, as gopay has no download helper).

var alipayDetailHeader = []string{"支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号", "门店名称",
	"操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）", "商家优惠（元）",
	"券核销金额（元）", "券名称", "商家红包消费金额（元）", "卡消费金额（元）", "退款批次号/请求号", "服务费（元）", "分润（元）", "备注"}

var alipaySummaryHeader = []string{"门店编号", "门店名称", "交易订单总笔数", "退款订单总笔数", "订单金额（元）", "商家实收（元）",
	"支付宝优惠（元）", "商家优惠（元）", "卡消费金额（元）", "服务费（元）", "分润（元）", "实收净额（元）"}

const (
	alipayListStart = "#-----------------------------------------业务明细列表----------------------------------------"
	alipayListEnd   = "#-----------------------------------------业务明细列表结束------------------------------------"
	alipaySumStart  = "#-----------------------------------------业务汇总列表----------------------------------------"
	alipaySumEnd    = "#-----------------------------------------业务汇总列表结束------------------------------------"
)

type billURLAnswer struct {
	alipaySuccess
	BillDownloadURL string `json:"bill_download_url"`
}

func (e *Emulator) alipayBillURL(req alipayRequest) alipayAnswer {
	date := req.str("bill_date")
	switch billType := req.str("bill_type"); {
	case billType == "" || date == "":
		return missingArgs("isv.missing-parameter", "缺少必选参数: bill_type, bill_date")
	case billType != "trade":
		return invalidArgs("isv.invalid-parameter", "sandbox: only bill_type=trade is emulated")
	case len(date) == len("2006-01"):
		return invalidArgs("isv.invalid-parameter", "sandbox: only daily bills (yyyy-MM-dd) are emulated")
	}
	day, ok := parseBillDay(date)
	if !ok {
		return bizFailed("isv.invalid_arguments", "入参不合法: bill_date")
	}
	e.mu.Lock()
	if e.now().Before(e.billReadyAt(day)) {
		e.mu.Unlock()
		return bizFailed("isp.bill_not_exist", "账单不存在")
	}
	rows := e.billRowsLocked(ProviderAlipay, day)
	exported := e.now()
	e.mu.Unlock()

	account := e.keys.sellerID + "0156"
	ymd := day.Format("20060102")
	detail, summary := alipayBillFiles(account, day, exported, rows)
	zipped, err := alipayBillZip(account, ymd, detail, summary)
	if err != nil {
		e.log.Error("alipay bill", "err", err)
		return alipayError{Code: "20000", Msg: "Service Currently Unavailable", SubCode: "isp.unknow-error", SubMsg: "系统繁忙"}
	}
	name := account + "_" + ymd + ".csv.zip"
	e.mu.Lock()
	token := e.keepBillLocked(&billFile{provider: ProviderAlipay, name: name, body: zipped})
	e.mu.Unlock()
	q := url.Values{"bizType": {"trade"}, "userId": {e.keys.sellerID}, "fileType": {"csv.zip"}, "bizDates": {ymd},
		"downloadFileName": {name}, "fileId": {token}}
	return billURLAnswer{alipaySuccess: ok10000, BillDownloadURL: e.cfg.PublicURL + "/downloadBillFile.resource?" + q.Encode()}
}

// alipayBillFiles renders the detail and the summary file (UTF-8; the zip step encodes GBK).
func alipayBillFiles(account string, day, exported time.Time, rows []billRow) (detail, summary []byte) {
	d := alipayBillHead("#支付宝业务明细查询", account, day, alipayListStart)
	d.record(alipayDetailHeader...)
	var pays, refunds int
	var orderFen, paidFen, refundedFen, feeFen int64
	for _, r := range rows {
		kind, received, fee, batch, order := "交易", r.amountFen, -r.feeFen, "", r.amountFen
		if r.refund != nil {
			kind, received, fee, batch, order = "退款", -r.amountFen, r.feeFen, r.refund.OutRefundNo+"\t", r.t.AmountFen
			refunds++
			refundedFen += r.amountFen
		} else {
			pays++
			paidFen += r.amountFen
			orderFen += r.amountFen
		}
		feeFen += fee
		d.record(r.t.TradeNo+"\t", r.t.OutTradeNo+"\t", kind, r.t.Subject, r.t.CreatedAt.In(cst).Format(alipayTimeLayout),
			r.at.In(cst).Format(alipayTimeLayout), "", "", "", "", maskLogon(r.t.BuyerID), yuan(order), yuan(received),
			"0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", batch, yuan(fee), "0.00", "")
	}
	d.line(alipayListEnd)
	d.line("#交易合计：" + strconv.Itoa(pays) + "笔，商家实收共" + yuan(paidFen) + "元，商家优惠共0.00元")
	d.line("#退款合计：" + strconv.Itoa(refunds) + "笔，商家实收退款共" + yuan(-refundedFen) + "元，商家优惠退款共0.00元")
	d.line("#导出时间：[" + chineseDateTime(exported) + "]")

	s := alipayBillHead("#支付宝业务汇总查询", account, day, alipaySumStart)
	s.record(alipaySummaryHeader...)
	net := paidFen - refundedFen
	sums := []string{strconv.Itoa(pays), strconv.Itoa(refunds), yuan(orderFen), yuan(net), "0.00", "0.00", "0.00", yuan(feeFen), "0.00", yuan(net + feeFen)}
	s.record(append([]string{"", ""}, sums...)...)
	s.record(append([]string{"合计", ""}, sums...)...)
	s.line(alipaySumEnd)
	s.line("#导出时间：[" + chineseDateTime(exported) + "]")
	return d.bytes(), s.bytes()
}

// alipayBillHead starts a file with its comment lines: title, account, the day, list start.
func alipayBillHead(title, account string, day time.Time, listStart string) *billText {
	t := newBillText()
	t.line(title)
	t.line("#账号：[" + account + "]")
	t.line("#起始日期：[" + chineseDateTime(day) + "]   终止日期：[" + chineseDateTime(day.AddDate(0, 0, 1)) + "]")
	t.line(listStart)
	return t
}

// alipayBillZip packs the two files with GBK names and contents, without the UTF-8 flag.
func alipayBillZip(account, ymd string, detail, summary []byte) ([]byte, error) {
	gbk := encoding.ReplaceUnsupported(simplifiedchinese.GBK.NewEncoder())
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range []struct {
		name string
		body []byte
	}{{account + "_" + ymd + "_业务明细.csv", detail}, {account + "_" + ymd + "_业务明细(汇总).csv", summary}} {
		name, err := gbk.String(f.name)
		if err != nil {
			return nil, err
		}
		body, err := gbk.Bytes(f.body)
		if err != nil {
			return nil, err
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, NonUTF8: true, Method: zip.Deflate})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// alipayBillDownload serves a bill_download_url while it is valid.
func (e *Emulator) alipayBillDownload(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	f := e.billLocked(ProviderAlipay, r.URL.Query().Get("fileId"))
	e.mu.Unlock()
	if f == nil {
		http.Error(w, "链接已失效 (bill_download_url is valid 30 s): ask alipay.data.dataservice.bill.downloadurl.query again", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(f.name))
	_, _ = w.Write(f.body)
}
