package emulator

// Alipay alipay.trade.refund and alipay.trade.fastpay.refund.query.

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

// Refusals the refund faults answer with. No Alipay code says "refund frequency limited"; its
// gateway-wide call limit (40005 Call Limited) is the honest analogue. ACQ.TRADE_NOT_ALLOW_REFUND
// (当前交易不允许退款) is the documented final refusal, standing in for WeChat's ABNORMAL.
var (
	sellerBalanceNotEnough = bizFailed("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足")
	callLimited            = alipayError{Code: "40005", Msg: "Call Limited", SubCode: "isv.method-call-limited", SubMsg: "API调用次数超限，包含调用频率超限"}
	refundNotAllowed       = bizFailed("ACQ.TRADE_NOT_ALLOW_REFUND", "当前交易不允许退款")
)

// alipayRefund: out_request_no identifies a refund (default: the trade itself, i.e. one refund).
// A new refund answers fund_change "Y" when the money moved now, "N" while it is processing (the
// refundProcessingMs fault); repeating an accepted out_request_no answers "N" without moving
// money. Refunds may be partial; their sum can never exceed the paid amount
// (ACQ.REFUND_AMT_NOT_EQUAL_TOTAL). refund_fee is what has been refunded so far.
func (e *Emulator) alipayRefund(req alipayRequest) alipayAnswer {
	fen, ok := parseYuan(req.str("refund_amount"))
	if !ok || fen < 1 {
		return bizFailed("ACQ.INVALID_PARAMETER", "参数无效: refund_amount")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.existingAlipayLocked(req)
	if t == nil {
		return tradeNotExist
	}
	key := refundKey(req, t)
	answer := func(r *Refund, change string) refundAnswer {
		now := e.now()
		return refundAnswer{
			alipaySuccess: ok10000, TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo,
			BuyerLogonID: maskLogon(t.BuyerID), FundChange: change, RefundFee: yuan(t.refundedFenAt(now)),
			SendBackFee: yuan(r.AmountFen), GmtRefundPay: r.doneAt().In(cst).Format(alipayTimeLayout),
			BuyerUserID: t.BuyerID,
		}
	}
	if r := t.refund(key); r != nil {
		if r.AmountFen != fen {
			return bizFailed("ACQ.DISCORDANT_REPEAT_REQUEST", "请求信息不一致")
		}
		return answer(r, "N")
	}
	switch {
	case t.State == StateClosed:
		return bizFailed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
	case t.State == StateNotPaid:
		return bizFailed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
	case t.committedFen()+fen > t.AmountFen:
		return bizFailed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
	case take(&e.faults.RefundFrequencyLimited):
		return callLimited
	case take(&e.faults.RefundNotEnough):
		return sellerBalanceNotEnough
	case take(&e.faults.RefundAbnormal):
		return refundNotAllowed
	}
	r := e.newRefundLocked(t, refundSpec{outRefundNo: key, amountFen: fen, reason: req.str("refund_reason")})
	if r.statusAt(e.now()) == RefundSuccess {
		return answer(r, "Y")
	}
	return answer(r, "N")
}

// refundKey is out_request_no, or for a refund sent without one the trade's out_trade_no.
func refundKey(req alipayRequest, t *Trade) string {
	if key := req.str("out_request_no"); key != "" {
		return key
	}
	return t.OutTradeNo
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

// alipayRefundQuery: refund data appears only once the refund succeeded; an unknown or still
// processing out_request_no answers success without refund fields, which is how the real gateway
// says "not refunded".
func (e *Emulator) alipayRefundQuery(req alipayRequest) alipayAnswer {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.existingAlipayLocked(req)
	if t == nil {
		return tradeNotExist
	}
	key := refundKey(req, t)
	a := refundQueryAnswer{alipaySuccess: ok10000, TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo}
	if r := t.refund(key); r != nil && r.statusAt(e.now()) == RefundSuccess {
		a.OutRequestNo, a.TotalAmount, a.RefundAmount = key, yuan(t.AmountFen), yuan(r.AmountFen)
		a.RefundStatus, a.GmtRefundPay = "REFUND_SUCCESS", r.doneAt().In(cst).Format(alipayTimeLayout)
	}
	return a
}
