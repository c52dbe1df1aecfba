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
	o, failure := checkAlipayOrder(req, e.now())
	if failure != nil {
		return *failure
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.st.get(ProviderAlipay, o.outTradeNo); t != nil {
		if failure := e.sameAlipayOrderLocked(t, ProductPrecreate, o); failure != nil {
			return *failure
		}
		// Same order asked again: the same QR code, like the real gateway.
		return precreateAnswer{alipaySuccess: ok10000, OutTradeNo: o.outTradeNo, QRCode: e.qrURL(t.Token)}
	}
	t := e.newAlipayTrade(ProductPrecreate, o, req.params)
	t.Traceparent = req.traceparent
	e.st.add(t)
	e.changedLocked(t)
	return precreateAnswer{alipaySuccess: ok10000, OutTradeNo: o.outTradeNo, QRCode: e.qrURL(t.Token)}
}

// alipayOrder is what precreate, page pay and WAP pay all require.
type alipayOrder struct {
	outTradeNo, subject string
	fen                 int64
	expires             time.Time
}

func checkAlipayOrder(req alipayRequest, now time.Time) (alipayOrder, *alipayError) {
	o := alipayOrder{outTradeNo: req.str("out_trade_no"), subject: req.str("subject")}
	fail := func(field string) (alipayOrder, *alipayError) {
		a := bizFailed("ACQ.INVALID_PARAMETER", "参数无效: "+field)
		return o, &a
	}
	var ok bool
	if !outNoPattern.MatchString(o.outTradeNo) {
		return fail("out_trade_no")
	}
	if o.fen, ok = parseYuan(req.str("total_amount")); !ok || o.fen < 1 || o.fen > 100_000_000_00 {
		return fail("total_amount")
	}
	if o.subject == "" || len([]rune(o.subject)) > 256 {
		return fail("subject")
	}
	if o.expires, ok = alipayExpiry(now, req.str("time_expire"), req.str("timeout_express")); !ok {
		return fail("time_expire/timeout_express")
	}
	return o, nil
}

// sameAlipayOrderLocked checks an order sent again with an out_trade_no the gateway knows: it
// must be the same order, still waiting for payment.
func (e *Emulator) sameAlipayOrderLocked(t *Trade, product string, o alipayOrder) *alipayError {
	e.expireLocked(t)
	var a alipayError
	switch {
	case t.State == StatePaid:
		a = bizFailed("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
	case t.State == StateClosed:
		a = bizFailed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
	case t.product() != product || t.AmountFen != o.fen || t.Subject != o.subject:
		a = bizFailed("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
	default:
		return nil
	}
	return &a
}

func (e *Emulator) newAlipayTrade(product string, o alipayOrder, params map[string]string) *Trade {
	now := e.now()
	return &Trade{
		Provider: ProviderAlipay, Product: product, OutTradeNo: o.outTradeNo, TradeNo: alipayTradeNo(now),
		AppID: e.keys.creds.Alipay.AppID, AmountFen: o.fen, Subject: o.subject, NotifyURL: params["notify_url"],
		ReturnURL: params["return_url"], Token: randHex(16), State: StateNotPaid, CreatedAt: now, ExpiresAt: o.expires,
	}
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

// findAlipayLocked finds the trade named by out_trade_no or trade_no (trade_no wins, as at the
// gateway), expiring it if its time is up. Callers check Scanned: a trade nobody scanned or
// logged in to does not exist for the real gateway.
func (e *Emulator) findAlipayLocked(req alipayRequest) *Trade {
	var t *Trade
	if no := req.str("trade_no"); no != "" {
		t = e.st.byTradeNo(ProviderAlipay, no)
	} else if no := req.str("out_trade_no"); no != "" {
		t = e.st.get(ProviderAlipay, no)
	}
	if t != nil {
		e.expireLocked(t)
	}
	return t
}

// existingAlipayLocked is findAlipayLocked for the trades that exist at the gateway (scanned, or
// logged in to).
func (e *Emulator) existingAlipayLocked(req alipayRequest) *Trade {
	if t := e.findAlipayLocked(req); t != nil && t.Scanned {
		return t
	}
	return nil
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
	if take(&e.faults.FailQueries) {
		return alipayError{Code: "20000", Msg: "Service Currently Unavailable", SubCode: "ACQ.SYSTEM_ERROR", SubMsg: "系统错误"}
	}
	t := e.existingAlipayLocked(req)
	if t == nil {
		return tradeNotExist
	}
	a := queryAnswer{
		alipaySuccess: ok10000, TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo,
		BuyerLogonID: maskLogon(t.BuyerID), TradeStatus: alipayStatus(t, e.now()), TotalAmount: yuan(t.AmountFen),
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
func alipayStatus(t *Trade, now time.Time) string {
	switch {
	case t.State == StatePaid && t.refundedFenAt(now) >= t.AmountFen:
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
