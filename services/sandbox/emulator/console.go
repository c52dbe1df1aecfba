package emulator

import (
	"encoding/json"
	"net/http"
)

// The merchant console: what merchant staff (or another system on the same merchant account) do
// outside paysuite. Both show up in queries and bills like any other trade or refund.
//
// POST /sandbox/console/refund refunds a paid trade. Alipay sends its refund notify to the
// trade's notify_url as for an API refund (Alipay has no per-refund notify URL). WeChat sends a
// console refund's notify to the refund callback configured on the merchant platform, which a
// merchant using per-request notify_urls (paysuite) has not set: the sandbox sends none.
//
// POST /sandbox/console/trade makes a paid trade paysuite never saw (another system's sale on the
// same merchant account); it notifies nobody.

type consoleRefundRequest struct {
	Provider    string `json:"provider"` // optional when outTradeNo names one trade
	OutTradeNo  string `json:"outTradeNo"`
	AmountFen   int64  `json:"amountFen"`
	OutRefundNo string `json:"outRefundNo"` // optional
	Reason      string `json:"reason"`
}

type consoleTradeRequest struct {
	Provider   string `json:"provider"`
	OutTradeNo string `json:"outTradeNo"` // optional
	AmountFen  int64  `json:"amountFen"`
	Subject    string `json:"subject"` // optional
	BuyerID    string `json:"buyerId"` // optional
}

func decodeConsole(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad body: " + err.Error()})
		return false
	}
	return true
}

func (e *Emulator) consoleRefund(w http.ResponseWriter, r *http.Request) {
	var in consoleRefundRequest
	if !decodeConsole(w, r, &in) {
		return
	}
	if in.OutTradeNo == "" || in.AmountFen < 1 || in.Provider != "" && in.Provider != ProviderAlipay && in.Provider != ProviderWechat {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"outTradeNo", "amountFen" >= 1, "provider"?: "alipay"|"wechat", "outRefundNo"?, "reason"?}`})
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var found []*Trade
	for _, p := range []string{ProviderAlipay, ProviderWechat} {
		if t := e.st.get(p, in.OutTradeNo); t != nil && (in.Provider == "" || in.Provider == p) {
			found = append(found, t)
		}
	}
	switch {
	case len(found) == 0:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no trade " + in.OutTradeNo})
		return
	case len(found) > 1:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "both providers have trade " + in.OutTradeNo + ": name the provider"})
		return
	}
	t := found[0]
	if in.OutRefundNo == "" {
		in.OutRefundNo = "CONSOLE" + randDigits(16)
	}
	e.expireLocked(t)
	switch {
	case t.State != StatePaid:
		writeJSON(w, http.StatusConflict, map[string]string{"error": "trade " + in.OutTradeNo + " is not paid"})
		return
	case t.committedFen()+in.AmountFen > t.AmountFen:
		writeJSON(w, http.StatusConflict, map[string]string{"error": "refunds would exceed the paid amount"})
		return
	case t.refund(in.OutRefundNo) != nil || t.Provider == ProviderWechat && e.wechatRefundExistsLocked(in.OutRefundNo):
		writeJSON(w, http.StatusConflict, map[string]string{"error": "refund " + in.OutRefundNo + " exists"})
		return
	}
	ref := e.newRefundLocked(t, refundSpec{outRefundNo: in.OutRefundNo, amountFen: in.AmountFen, reason: in.Reason, console: true})
	writeJSON(w, http.StatusOK, map[string]any{"provider": t.Provider, "outTradeNo": t.OutTradeNo, "refund": ref})
}

func (e *Emulator) wechatRefundExistsLocked(outRefundNo string) bool {
	_, r := e.findWechatRefundLocked(outRefundNo)
	return r != nil
}

func (e *Emulator) consoleTrade(w http.ResponseWriter, r *http.Request) {
	var in consoleTradeRequest
	if !decodeConsole(w, r, &in) {
		return
	}
	if in.Provider != ProviderAlipay && in.Provider != ProviderWechat || in.AmountFen < 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"provider": "alipay"|"wechat", "amountFen" >= 1, "outTradeNo"?, "subject"?, "buyerId"?}`})
		return
	}
	if in.OutTradeNo == "" {
		in.OutTradeNo = "EXT" + randDigits(16)
	}
	if in.Subject == "" {
		in.Subject = "another system's sale"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st.get(in.Provider, in.OutTradeNo) != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "trade " + in.OutTradeNo + " exists"})
		return
	}
	now := e.now()
	t := &Trade{
		Provider: in.Provider, OutTradeNo: in.OutTradeNo, AmountFen: in.AmountFen, Subject: in.Subject,
		Token: randHex(16), State: StateNotPaid, Console: true, CreatedAt: now, ExpiresAt: now.Add(defaultTradeTTL),
	}
	if in.Provider == ProviderAlipay {
		t.Product, t.TradeNo, t.AppID = ProductPrecreate, alipayTradeNo(now), e.keys.creds.Alipay.AppID
	} else {
		t.Product, t.TradeNo, t.AppID, t.MchID = ProductNative, wechatTransactionID(), e.keys.creds.Wechat.AppID, e.keys.creds.Wechat.MchID
	}
	e.st.add(t)
	e.payTradeLocked(t, in.BuyerID) // no notify_url: the other system's notifies are not ours to see
	writeJSON(w, http.StatusOK, t.clone())
}
