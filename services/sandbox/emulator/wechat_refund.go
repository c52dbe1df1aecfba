package emulator

import (
	"net/http"
	"time"
)

// WeChat Pay v3 domestic refunds (see refund.go for how a refund settles and notifies).

type refundRequest struct {
	TransactionID string      `json:"transaction_id"`
	OutTradeNo    string      `json:"out_trade_no"`
	OutRefundNo   string      `json:"out_refund_no"`
	Reason        string      `json:"reason"`
	NotifyURL     string      `json:"notify_url"`
	Amount        *wxAmountIn `json:"amount"`
}

type wxRefundAmount struct {
	Total            int64  `json:"total"`
	Refund           int64  `json:"refund"`
	From             []any  `json:"from"`
	PayerTotal       int64  `json:"payer_total"`
	PayerRefund      int64  `json:"payer_refund"`
	SettlementRefund int64  `json:"settlement_refund"`
	SettlementTotal  int64  `json:"settlement_total"`
	DiscountRefund   int64  `json:"discount_refund"`
	Currency         string `json:"currency"`
	RefundFee        int64  `json:"refund_fee"`
}

type wxRefund struct {
	RefundID            string         `json:"refund_id"`
	OutRefundNo         string         `json:"out_refund_no"`
	TransactionID       string         `json:"transaction_id"`
	OutTradeNo          string         `json:"out_trade_no"`
	Channel             string         `json:"channel"`
	UserReceivedAccount string         `json:"user_received_account"`
	SuccessTime         string         `json:"success_time,omitempty"`
	CreateTime          string         `json:"create_time"`
	Status              string         `json:"status"`
	FundsAccount        string         `json:"funds_account"`
	Amount              wxRefundAmount `json:"amount"`
	PromotionDetail     []any          `json:"promotion_detail"`
}

func (e *Emulator) refundView(t *Trade, r *Refund) wxRefund {
	v := wxRefund{
		RefundID: r.RefundID, OutRefundNo: r.OutRefundNo, TransactionID: t.TradeNo, OutTradeNo: t.OutTradeNo,
		Channel: "ORIGINAL", UserReceivedAccount: "支付用户零钱", CreateTime: r.CreatedAt.In(cst).Format(time.RFC3339),
		Status: r.statusAt(e.now()), FundsAccount: "AVAILABLE", PromotionDetail: []any{},
		Amount: wxRefundAmount{
			Total: t.AmountFen, Refund: r.AmountFen, From: []any{}, PayerTotal: t.AmountFen, PayerRefund: r.AmountFen,
			SettlementRefund: r.AmountFen, SettlementTotal: t.AmountFen, Currency: "CNY",
		},
	}
	if v.Status == RefundSuccess {
		v.SuccessTime = r.doneAt().In(cst).Format(time.RFC3339)
	}
	return v
}

// findWechatRefundLocked finds a refund by out_refund_no across all WeChat trades (the number is
// unique per merchant).
func (e *Emulator) findWechatRefundLocked(outRefundNo string) (*Trade, *Refund) {
	for _, t := range e.st.trades {
		if t.Provider != ProviderWechat {
			continue
		}
		if r := t.refund(outRefundNo); r != nil {
			return t, r
		}
	}
	return nil, nil
}

func (e *Emulator) wechatRefund(w http.ResponseWriter, _ *http.Request, body []byte) {
	var in refundRequest
	if err := decodeBody(body, &in); err != nil {
		e.wechatError(w, http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON: "+err.Error())
		return
	}
	bad := func(msg string) { e.wechatError(w, http.StatusBadRequest, "PARAM_ERROR", msg) }
	switch {
	case in.OutTradeNo == "" && in.TransactionID == "":
		bad("transaction_id 和 out_trade_no 必须二选一")
		return
	case in.OutRefundNo == "" || len(in.OutRefundNo) > 64:
		bad("out_refund_no 缺失或格式错误")
		return
	case in.Amount == nil || in.Amount.Refund == nil || in.Amount.Total == nil:
		bad("amount.refund 和 amount.total 必填")
		return
	case *in.Amount.Refund < 1 || *in.Amount.Total < 1:
		bad("amount 必须大于0")
		return
	case in.Amount.Currency != "" && in.Amount.Currency != "CNY":
		bad("amount.currency 仅支持CNY")
		return
	case len([]rune(in.Reason)) > 80:
		bad("reason 长度不能超过80个字符")
		return
	case in.NotifyURL != "" && !validNotifyURL(in.NotifyURL):
		bad("notify_url 格式错误")
		return
	}
	e.mu.Lock()
	a := e.refundWechatLocked(in)
	e.mu.Unlock()
	e.answerWechat(w, a)
}

func (e *Emulator) refundWechatLocked(in refundRequest) wxAnswer {
	var t *Trade
	if in.TransactionID != "" {
		t = e.st.byTradeNo(ProviderWechat, in.TransactionID)
	} else {
		t = e.st.get(ProviderWechat, in.OutTradeNo)
	}
	if t == nil {
		return wxFail(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "订单不存在")
	}
	if pt, r := e.findWechatRefundLocked(in.OutRefundNo); r != nil {
		if pt != t || r.AmountFen != *in.Amount.Refund {
			return wxFail(http.StatusBadRequest, "INVALID_REQUEST", "退款单号已存在，但请求参数与原退款单不一致")
		}
		return wxAnswer{http.StatusOK, e.refundView(t, r)} // idempotent repeat
	}
	switch {
	case t.State != StatePaid:
		return wxFail(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
	case *in.Amount.Total != t.AmountFen:
		return wxFail(http.StatusBadRequest, "PARAM_ERROR", "amount.total 与原订单金额不一致")
	case t.committedFen()+*in.Amount.Refund > t.AmountFen:
		return wxFail(http.StatusBadRequest, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
	case take(&e.faults.RefundFrequencyLimited):
		return wxFail(http.StatusTooManyRequests, "FREQUENCY_LIMITED", "该笔退款为受理中，请调用查单接口确认或降低频率原单重试")
	case take(&e.faults.RefundNotEnough):
		return wxFail(http.StatusForbidden, "NOT_ENOUGH", "基本账户余额不足，请充值后原单重试")
	}
	outcome := ""
	switch {
	case take(&e.faults.RefundAbnormal):
		outcome = RefundAbnormal
	case take(&e.faults.RefundClosed):
		outcome = RefundClosed
	}
	r := e.newRefundLocked(t, refundSpec{
		outRefundNo: in.OutRefundNo, amountFen: *in.Amount.Refund, reason: in.Reason, notifyURL: in.NotifyURL, outcome: outcome,
	})
	return wxAnswer{http.StatusOK, e.refundView(t, r)}
}

func (e *Emulator) wechatRefundQuery(w http.ResponseWriter, r *http.Request, _ []byte) {
	e.mu.Lock()
	a := wxFail(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "退款单不存在")
	if t, ref := e.findWechatRefundLocked(r.PathValue("no")); ref != nil {
		a = wxAnswer{http.StatusOK, e.refundView(t, ref)}
	}
	e.mu.Unlock()
	e.answerWechat(w, a)
}
