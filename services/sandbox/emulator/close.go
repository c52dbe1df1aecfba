package emulator

import "net/http"

// Closing trades (services/sandbox/README.md §3). Alipay: a trade nobody scanned or logged in to does not
// exist yet, so close answers ACQ.TRADE_NOT_EXIST and closes nothing (the QR or cashier stays
// payable until time_expire: the disputed case, taken on its harder side); a paid or closed trade
// answers ACQ.TRADE_STATUS_ERROR ("只有等待买家付款状态下才能发起交易关闭"); only WAP sends a
// TRADE_CLOSED notify. WeChat: 204, or 400 ORDERPAID / ORDER_CLOSED; no notify.

type closeAnswer struct {
	alipaySuccess
	TradeNo    string `json:"trade_no"`
	OutTradeNo string `json:"out_trade_no"`
}

// closeRefused is close's error object, which echoes out_trade_no (as a real answer does).
type closeRefused struct {
	alipayError
	OutTradeNo string `json:"out_trade_no"`
}

func (e *Emulator) alipayClose(req alipayRequest) alipayAnswer {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.findAlipayLocked(req)
	if t == nil {
		return tradeNotExist
	}
	if !t.Scanned {
		e.log.Info("alipay close of a trade nobody scanned or logged in to: TRADE_NOT_EXIST, it stays payable",
			"out_trade_no", t.OutTradeNo, "product", t.product(), "expires_at", t.ExpiresAt)
		return tradeNotExist
	}
	if t.State != StateNotPaid {
		return closeRefused{alipayError: bizFailed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"), OutTradeNo: t.OutTradeNo}
	}
	t.State, t.ClosedAt, t.CloseNote = StateClosed, e.now(), "closed by merchant"
	e.changedLocked(t)
	e.closeNotifyLocked(t)
	return closeAnswer{alipaySuccess: ok10000, TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo}
}

// closeNotifyLocked sends the TRADE_CLOSED notify of an unpaid trade that just closed, where the
// product sends one by default: Alipay WAP (precreate and page pay do not; WeChat never does).
func (e *Emulator) closeNotifyLocked(t *Trade) {
	if t.Provider != ProviderAlipay || t.product() != ProductWap || !t.Scanned || t.Closing != nil {
		return
	}
	n := e.newNotifyLocked(t.Provider, t.NotifyURL, t.ClosedAt)
	t.Closing = &n
	e.changedLocked(t)
	e.startNotifyLocked(closeRef(t))
}

// wechatClose: 204 for an unpaid trade, 400 ORDERPAID for a paid one, 400 ORDER_CLOSED for one
// already closed (by the merchant or by its expiry).
func (e *Emulator) wechatClose(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		MchID string `json:"mchid"`
	}
	if err := decodeBody(body, &in); err != nil || in.MchID != e.keys.creds.Wechat.MchID {
		e.wechatError(w, http.StatusBadRequest, "PARAM_ERROR", "mchid 缺失或与请求头中的商户号不一致")
		return
	}
	e.mu.Lock()
	a := e.closeWechatLocked(r.PathValue("no"))
	e.mu.Unlock()
	e.answerWechat(w, a)
}

func (e *Emulator) closeWechatLocked(outTradeNo string) wxAnswer {
	t := e.st.get(ProviderWechat, outTradeNo)
	if t == nil {
		return wxFail(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	}
	e.expireLocked(t)
	switch t.State {
	case StatePaid:
		return wxFail(http.StatusBadRequest, "ORDERPAID", "订单已支付")
	case StateClosed:
		return wxFail(http.StatusBadRequest, "ORDER_CLOSED", "订单已关闭")
	}
	t.State, t.ClosedAt, t.CloseNote = StateClosed, e.now(), "closed by merchant"
	e.changedLocked(t)
	return wxAnswer{status: http.StatusNoContent}
}
