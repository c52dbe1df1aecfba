package emulator

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"strconv"
)

// WeChat GET /v3/bill/tradebill and the download it points to. The file is UTF-8 with a BOM: a
// header line, detail rows with every cell prefixed by a backtick, a summary header and one
// summary row. hash_value is the SHA1 of the plain file even when it is served gzipped.
// download_url keeps the real host (api.mch.weixin.qq.com): gopay splits it on ".com" and sends
// the rest to its proxy host; the download is a signed GET answered without Wechatpay-* headers.

var wxAllHeader = []string{"交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型",
	"交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型",
	"退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注"}

// SUCCESS bills drop the refund columns; REFUND bills add when each refund was applied for and
// succeeded (their place in the header is unverified: read columns by name).
var (
	wxSuccessHeader = without(wxAllHeader, "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态", "申请退款金额")
	wxRefundHeader  = insertAfter(wxAllHeader, "代金券金额", "退款申请时间", "退款成功时间")
	wxSummaryHeader = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)

func without(cols []string, drop ...string) []string {
	out := make([]string, 0, len(cols))
next:
	for _, c := range cols {
		for _, d := range drop {
			if c == d {
				continue next
			}
		}
		out = append(out, c)
	}
	return out
}

func insertAfter(cols []string, after string, add ...string) []string {
	out := make([]string, 0, len(cols)+len(add))
	for _, c := range cols {
		out = append(out, c)
		if c == after {
			out = append(out, add...)
		}
	}
	return out
}

func (e *Emulator) wechatTradeBill(w http.ResponseWriter, r *http.Request, _ []byte) {
	q := r.URL.Query()
	billType, tarType := q.Get("bill_type"), q.Get("tar_type")
	if billType == "" {
		billType = "ALL"
	}
	day, ok := parseBillDay(q.Get("bill_date"))
	switch {
	case !ok:
		e.wechatError(w, http.StatusBadRequest, "PARAM_ERROR", "bill_date 缺失或格式错误，应为yyyy-MM-DD")
		return
	case billType != "ALL" && billType != "SUCCESS" && billType != "REFUND":
		e.wechatError(w, http.StatusBadRequest, "PARAM_ERROR", "bill_type 取值错误 (sandbox: ALL, SUCCESS, REFUND)")
		return
	case tarType != "" && tarType != "GZIP":
		e.wechatError(w, http.StatusBadRequest, "PARAM_ERROR", "tar_type 取值错误")
		return
	}
	e.mu.Lock()
	now := e.now()
	var rows []billRow
	switch {
	case day.After(now):
		e.mu.Unlock()
		e.wechatError(w, http.StatusBadRequest, "INVALID_REQUEST", "bill_date 不能晚于今天")
		return
	case day.Before(now.AddDate(0, -3, -1)):
		e.mu.Unlock()
		e.wechatError(w, http.StatusBadRequest, "INVALID_REQUEST", "仅支持下载三个月内的账单")
		return
	case now.Before(e.billReadyAt(day)):
		e.mu.Unlock()
		e.wechatError(w, http.StatusBadRequest, "STATEMENT_CREATING", "账单生成中")
		return
	}
	for _, row := range e.billRowsLocked(ProviderWechat, day) {
		if billType == "ALL" || billType == "SUCCESS" && row.refund == nil || billType == "REFUND" && row.refund != nil {
			rows = append(rows, row)
		}
	}
	e.mu.Unlock()
	if len(rows) == 0 {
		e.wechatError(w, http.StatusBadRequest, "NO_STATEMENT_EXIST", "账单文件不存在")
		return
	}
	plain := wechatBillCSV(billType, rows)
	sum := sha1.Sum(plain)
	body := plain
	if tarType == "GZIP" {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(plain)
		_ = zw.Close()
		body = b.Bytes()
	}
	e.mu.Lock()
	token := e.keepBillLocked(&billFile{provider: ProviderWechat, body: body})
	e.mu.Unlock()
	link := "https://api.mch.weixin.qq.com/v3/billdownload/file?token=" + token
	if tarType == "GZIP" {
		link += "&tartype=gzip"
	}
	e.wechatJSON(w, http.StatusOK, map[string]string{"hash_type": "SHA1", "hash_value": hex.EncodeToString(sum[:]), "download_url": link})
}

func wechatBillCSV(billType string, rows []billRow) []byte {
	header := wxAllHeader
	switch billType {
	case "SUCCESS":
		header = wxSuccessHeader
	case "REFUND":
		header = wxRefundHeader
	}
	t := newBillText()
	t.line("\uFEFF" + joinComma(header))
	var settled, refunded, fees, ordered int64
	for _, r := range rows {
		c := map[string]string{
			"交易时间": r.t.PaidAt.In(cst).Format(alipayTimeLayout), "公众账号ID": r.t.AppID, "商户号": r.t.MchID, "特约商户号": "0",
			"设备号": "", "微信订单号": r.t.TradeNo, "商户订单号": r.t.OutTradeNo, "用户标识": r.t.BuyerID, "交易类型": r.t.product(),
			"交易状态": "SUCCESS", "付款银行": "OTHERS", "货币种类": "CNY", "应结订单金额": yuan(r.amountFen), "代金券金额": "0.00",
			"微信退款单号": "0", "商户退款单号": "0", "退款金额": "0.00", "充值券退款金额": "0.00", "退款类型": "", "退款状态": "",
			"商品名称": r.t.Subject, "商户数据包": r.t.Attach, "手续费": yuan5(r.feeFen), "费率": "0.60%", "订单金额": yuan(r.amountFen),
			"申请退款金额": "0.00", "费率备注": "", "退款申请时间": "", "退款成功时间": "",
		}
		if r.refund != nil {
			c["交易状态"], c["应结订单金额"], c["订单金额"] = "REFUND", "0.00", "0.00"
			c["微信退款单号"], c["商户退款单号"], c["退款金额"] = r.refund.RefundID, r.refund.OutRefundNo, yuan(r.amountFen)
			c["退款类型"], c["退款状态"], c["手续费"], c["申请退款金额"] = "ORIGINAL", "SUCCESS", yuan5(-r.feeFen), yuan(r.amountFen)
			c["退款申请时间"], c["退款成功时间"] = r.refund.CreatedAt.In(cst).Format(alipayTimeLayout), r.at.In(cst).Format(alipayTimeLayout)
			refunded += r.amountFen
			fees -= r.feeFen
		} else {
			settled += r.amountFen
			ordered += r.amountFen
			fees += r.feeFen
		}
		cells := make([]string, len(header))
		for i, h := range header {
			cells[i] = "`" + c[h]
		}
		t.record(cells...)
	}
	t.line(wxSummaryHeader)
	t.record("`"+strconv.Itoa(len(rows)), "`"+yuan(settled), "`"+yuan(refunded), "`0.00", "`"+yuan5(fees), "`"+yuan(ordered), "`"+yuan(refunded))
	return t.bytes()
}

func joinComma(cols []string) string {
	var b bytes.Buffer
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c)
	}
	return b.String()
}

// wechatBillDownload serves a download_url while it is valid: the file itself, unsigned.
func (e *Emulator) wechatBillDownload(w http.ResponseWriter, r *http.Request, _ []byte) {
	e.mu.Lock()
	f := e.billLocked(ProviderWechat, r.URL.Query().Get("token"))
	e.mu.Unlock()
	if f == nil {
		e.wechatError(w, http.StatusBadRequest, "INVALID_REQUEST", "下载链接已失效，请重新申请账单")
		return
	}
	if ww, ok := w.(*wxResponse); ok {
		w = ww.ResponseWriter // the file carries no Wechatpay-* headers
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Request-ID", randUpperHex(16))
	_, _ = w.Write(f.body)
}
