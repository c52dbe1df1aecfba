package emulator

import (
	"regexp"
	"strconv"
	"time"
)

// Alipay trade methods. Each runs under the emulator's mutex and persists what it changes.

var (
	outNoPattern   = regexp.MustCompile(`^[A-Za-z0-9_\-*]{1,64}$`)
	timeoutPattern = regexp.MustCompile(`^([1-9][0-9]*)([mhdc])$`)
)

const defaultTradeTTL = 2 * time.Hour // both providers' default for an unpaid QR trade

type alipaySuccess struct {
	Code string `json:"code"`
	Msg  string `json:"msg"`
}

var ok10000 = alipaySuccess{Code: "10000", Msg: "Success"}

func (e *Emulator) alipayPrecreate(req alipayRequest) alipayAnswer {
	outTradeNo, subject := req.str("out_trade_no"), req.str("subject")
	if !outNoPattern.MatchString(outTradeNo) {
		return bizFailed("ACQ.INVALID_PARAMETER", "参数无效: out_trade_no")
	}
	fen, ok := parseYuan(req.str("total_amount"))
	if !ok || fen < 1 || fen > 100_000_000_00 {
		return bizFailed("ACQ.INVALID_PARAMETER", "参数无效: total_amount")
	}
	if subject == "" || len([]rune(subject)) > 256 {
		return bizFailed("ACQ.INVALID_PARAMETER", "参数无效: subject")
	}
	now := e.now()
	expires, ok := alipayExpiry(now, req.str("time_expire"), req.str("timeout_express"))
	if !ok {
		return bizFailed("ACQ.INVALID_PARAMETER", "参数无效: time_expire/timeout_express")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.st.get(ProviderAlipay, outTradeNo); t != nil {
		t.expireIfDue(now)
		switch {
		case t.State == StatePaid:
			return bizFailed("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
		case t.State == StateClosed:
			return bizFailed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
		case t.AmountFen != fen || t.Subject != subject:
			return bizFailed("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
		}
		// Same order asked again: the same QR code, like the real gateway.
		return precreateAnswer{alipaySuccess: ok10000, OutTradeNo: outTradeNo, QRCode: e.qrURL(t.Token)}
	}
	t := &Trade{
		Provider: ProviderAlipay, OutTradeNo: outTradeNo, TradeNo: alipayTradeNo(now),
		AppID: e.keys.creds.Alipay.AppID, AmountFen: fen, Subject: subject,
		NotifyURL: req.params["notify_url"], Token: randHex(16), State: StateNotPaid,
		CreatedAt: now, ExpiresAt: expires,
	}
	e.st.add(t)
	e.changedLocked(t)
	return precreateAnswer{alipaySuccess: ok10000, OutTradeNo: outTradeNo, QRCode: e.qrURL(t.Token)}
}

type precreateAnswer struct {
	alipaySuccess
	OutTradeNo string `json:"out_trade_no"`
	QRCode     string `json:"qr_code"`
}

// alipayExpiry reads time_expire ("yyyy-MM-dd HH:mm:ss", Beijing time) or timeout_express
// (1m–15d, "1c" = end of today); time_expire wins when both are given.
func alipayExpiry(now time.Time, timeExpire, timeout string) (time.Time, bool) {
	if timeExpire != "" {
		t, err := time.ParseInLocation(alipayTimeLayout, timeExpire, cst)
		if err != nil || !t.After(now) {
			return time.Time{}, false
		}
		return t, true
	}
	if timeout == "" {
		return now.Add(defaultTradeTTL), true
	}
	m := timeoutPattern.FindStringSubmatch(timeout)
	if m == nil {
		return time.Time{}, false
	}
	n, _ := strconv.Atoi(m[1])
	var d time.Duration
	switch m[2] {
	case "m":
		d = time.Duration(n) * time.Minute
	case "h":
		d = time.Duration(n) * time.Hour
	case "d":
		d = time.Duration(n) * 24 * time.Hour
	case "c":
		if n != 1 {
			return time.Time{}, false
		}
		y, mo, da := now.In(cst).Date()
		return time.Date(y, mo, da+1, 0, 0, 0, 0, cst), true
	}
	if d > 15*24*time.Hour {
		return time.Time{}, false
	}
	return now.Add(d), true
}

// findAlipayLocked finds the trade named by out_trade_no or trade_no. A precreate trade nobody
// scanned yet does not exist for the real gateway, so it is not found here either.
func (e *Emulator) findAlipayLocked(req alipayRequest) *Trade {
	var t *Trade
	if no := req.str("out_trade_no"); no != "" {
		t = e.st.get(ProviderAlipay, no)
	} else if no := req.str("trade_no"); no != "" {
		t = e.st.byTradeNo(ProviderAlipay, no)
	}
	if t != nil && t.expireIfDue(e.now()) {
		e.changedLocked(t)
	}
	return t
}

var tradeNotExist = bizFailed("ACQ.TRADE_NOT_EXIST", "交易不存在")

type queryAnswer struct {
	alipaySuccess
	TradeNo        string `json:"trade_no"`
	OutTradeNo     string `json:"out_trade_no"`
	BuyerLogonID   string `json:"buyer_logon_id"`
	TradeStatus    string `json:"trade_status"`
	TotalAmount    string `json:"total_amount"`
	ReceiptAmount  string `json:"receipt_amount"`
	BuyerPayAmount string `json:"buyer_pay_amount"`
	PointAmount    string `json:"point_amount"`
	InvoiceAmount  string `json:"invoice_amount"`
	SendPayDate    string `json:"send_pay_date,omitempty"`
	BuyerUserID    string `json:"buyer_user_id"`
	Subject        string `json:"subject"`
}

func (e *Emulator) alipayQuery(req alipayRequest) alipayAnswer {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.takeQueryFailureLocked() {
		return alipayError{Code: "20000", Msg: "Service Currently Unavailable", SubCode: "ACQ.SYSTEM_ERROR", SubMsg: "系统错误"}
	}
	t := e.findAlipayLocked(req)
	if t == nil || !t.Scanned {
		return tradeNotExist
	}
	a := queryAnswer{
		alipaySuccess: ok10000, TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo,
		BuyerLogonID: maskLogon(t.BuyerID), TradeStatus: alipayStatus(t), TotalAmount: yuan(t.AmountFen),
		ReceiptAmount: "0.00", BuyerPayAmount: "0.00", PointAmount: "0.00", InvoiceAmount: "0.00",
		BuyerUserID: t.BuyerID, Subject: t.Subject,
	}
	if !t.PaidAt.IsZero() {
		paid := yuan(t.AmountFen)
		a.ReceiptAmount, a.BuyerPayAmount, a.InvoiceAmount = paid, paid, paid
		a.SendPayDate = t.PaidAt.In(cst).Format(alipayTimeLayout)
	}
	return a
}

// alipayStatus maps the stored state to trade_status; a fully refunded trade is TRADE_CLOSED.
func alipayStatus(t *Trade) string {
	switch {
	case t.State == StatePaid && t.refundedFen() >= t.AmountFen:
		return "TRADE_CLOSED"
	case t.State == StatePaid:
		return "TRADE_SUCCESS"
	case t.State == StateClosed:
		return "TRADE_CLOSED"
	default:
		return "WAIT_BUYER_PAY"
	}
}

func maskLogon(buyerID string) string {
	if buyerID == "" {
		return ""
	}
	return "sbx***@" + buyerID[len(buyerID)-4:] + ".sandbox"
}

type closeAnswer struct {
	alipaySuccess
	TradeNo    string `json:"trade_no"`
	OutTradeNo string `json:"out_trade_no"`
}

// alipayClose: closing a precreate trade nobody scanned answers ACQ.TRADE_NOT_EXIST, as the real
// gateway does (the trade only exists once scanned). By default the sandbox still kills the QR
// code so the close the merchant asked for takes effect; with the alipayCloseKeepsUnscannedQR
// fault it closes nothing, like the real gateway, and the QR stays payable until it expires. A
// paid trade answers ACQ.TRADE_HAS_SUCCESS; closing a closed trade succeeds again (idempotent).
func (e *Emulator) alipayClose(req alipayRequest) alipayAnswer {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.findAlipayLocked(req)
	if t == nil {
		return tradeNotExist
	}
	switch t.State {
	case StatePaid:
		return bizFailed("ACQ.TRADE_HAS_SUCCESS", "交易已支付，不能关闭")
	case StateNotPaid:
		if !t.Scanned && e.faults.AlipayCloseKeepsUnscannedQR {
			e.log.Info("alipay close of an unscanned trade: TRADE_NOT_EXIST, QR stays payable",
				"out_trade_no", t.OutTradeNo, "expires_at", t.ExpiresAt)
			return tradeNotExist
		}
		t.State, t.ClosedAt, t.CloseNote = StateClosed, e.now(), "closed by merchant"
		e.changedLocked(t)
	}
	if !t.Scanned {
		return tradeNotExist
	}
	return closeAnswer{alipaySuccess: ok10000, TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo}
}

type refundAnswer struct {
	alipaySuccess
	TradeNo      string `json:"trade_no"`
	OutTradeNo   string `json:"out_trade_no"`
	BuyerLogonID string `json:"buyer_logon_id"`
	FundChange   string `json:"fund_change"`
	RefundFee    string `json:"refund_fee"`
	SendBackFee  string `json:"send_back_fee"`
	GmtRefundPay string `json:"gmt_refund_pay"`
	BuyerUserID  string `json:"buyer_user_id"`
}

// alipayRefund: out_request_no identifies a refund (default: the trade itself, i.e. one refund);
// repeating it answers fund_change "N" without moving money. Refunds may be partial; their sum
// can never exceed the paid amount (ACQ.REFUND_AMT_NOT_EQUAL_TOTAL).
func (e *Emulator) alipayRefund(req alipayRequest) alipayAnswer {
	fen, ok := parseYuan(req.str("refund_amount"))
	if !ok || fen < 1 {
		return bizFailed("ACQ.INVALID_PARAMETER", "参数无效: refund_amount")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.findAlipayLocked(req)
	if t == nil || !t.Scanned {
		return tradeNotExist
	}
	switch t.State {
	case StateClosed:
		return bizFailed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
	case StateNotPaid:
		return bizFailed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
	}
	key := req.str("out_request_no")
	if key == "" {
		key = t.OutTradeNo
	}
	answer := func(r *Refund, change string) refundAnswer {
		return refundAnswer{
			alipaySuccess: ok10000, TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo,
			BuyerLogonID: maskLogon(t.BuyerID), FundChange: change, RefundFee: yuan(t.refundedFen()),
			SendBackFee: yuan(r.AmountFen), GmtRefundPay: r.CreatedAt.In(cst).Format(alipayTimeLayout),
			BuyerUserID: t.BuyerID,
		}
	}
	if r := t.refund(key); r != nil {
		return answer(r, "N")
	}
	if t.refundedFen()+fen > t.AmountFen {
		return bizFailed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
	}
	r := &Refund{OutRefundNo: key, RefundID: randDigits(20), AmountFen: fen, Reason: req.str("refund_reason"), CreatedAt: e.now()}
	t.Refunds = append(t.Refunds, r)
	e.changedLocked(t)
	return answer(r, "Y")
}

type refundQueryAnswer struct {
	alipaySuccess
	TradeNo      string `json:"trade_no"`
	OutTradeNo   string `json:"out_trade_no"`
	OutRequestNo string `json:"out_request_no,omitempty"`
	TotalAmount  string `json:"total_amount,omitempty"`
	RefundAmount string `json:"refund_amount,omitempty"`
	RefundStatus string `json:"refund_status,omitempty"`
	GmtRefundPay string `json:"gmt_refund_pay,omitempty"`
}

// alipayRefundQuery: an unknown out_request_no answers success without refund fields, which is
// how the real gateway says "no such refund".
func (e *Emulator) alipayRefundQuery(req alipayRequest) alipayAnswer {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.findAlipayLocked(req)
	if t == nil || !t.Scanned {
		return tradeNotExist
	}
	key := req.str("out_request_no")
	if key == "" {
		key = t.OutTradeNo
	}
	a := refundQueryAnswer{alipaySuccess: ok10000, TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo}
	if r := t.refund(key); r != nil {
		a.OutRequestNo, a.TotalAmount, a.RefundAmount = key, yuan(t.AmountFen), yuan(r.AmountFen)
		a.RefundStatus, a.GmtRefundPay = "REFUND_SUCCESS", r.CreatedAt.In(cst).Format(alipayTimeLayout)
	}
	return a
}
