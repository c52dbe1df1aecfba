package emulator

import (
	"net/http"
	"net/url"
)

// alipayNotify builds a trade_status_sync form, signed over every field except sign and
// sign_type (sorted, k=v joined by &, not URL-encoded). Payments, refunds and WAP closes all use
// it; refunds and closes go to the trade's notify_url too (Alipay has no refund notify URL).
func (e *Emulator) alipayNotify(t *Trade, ref notifyRef, n Notify) ([]byte, http.Header, error) {
	f := e.alipayNotifyFields(t, n)
	switch ref.kind {
	case closeNotify: // an unpaid WAP trade closed by the merchant or by its expiry
		for _, k := range []string{"gmt_payment", "receipt_amount", "invoice_amount", "buyer_pay_amount", "point_amount", "fund_bill_list"} {
			delete(f, k)
		}
		f["trade_status"], f["gmt_close"] = "TRADE_CLOSED", t.ClosedAt.In(cst).Format(alipayTimeLayout)
	case refundNotify:
		r := t.refund(ref.refund)
		if r == nil {
			return nil, nil, errNoSuchRefund
		}
		cum := t.refundedThrough(r)
		f["out_biz_no"], f["refund_fee"] = r.OutRefundNo, yuan(cum)
		f["gmt_refund"] = r.doneAt().In(cst).Format("2006-01-02 15:04:05.000")
		if cum >= t.AmountFen {
			f["trade_status"], f["gmt_close"] = "TRADE_CLOSED", r.doneAt().In(cst).Format(alipayTimeLayout)
		}
	}
	f["sign"] = e.alipaySign([]byte(alipaySignContent(f, "sign", "sign_type")))
	form := url.Values{}
	for k, v := range f {
		form.Set(k, v)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return []byte(form.Encode()), h, nil
}

// alipayNotifyFields are the fields of a payment's TRADE_SUCCESS notify.
func (e *Emulator) alipayNotifyFields(t *Trade, n Notify) map[string]string {
	paid := yuan(t.AmountFen)
	f := map[string]string{
		"notify_time":      e.now().In(cst).Format(alipayTimeLayout),
		"notify_type":      "trade_status_sync",
		"notify_id":        n.ID,
		"charset":          "utf-8",
		"version":          "1.0",
		"sign_type":        "RSA2",
		"app_id":           t.AppID,
		"auth_app_id":      t.AppID,
		"trade_no":         t.TradeNo,
		"out_trade_no":     t.OutTradeNo,
		"buyer_id":         t.BuyerID,
		"buyer_logon_id":   maskLogon(t.BuyerID),
		"seller_id":        e.keys.sellerID,
		"trade_status":     "TRADE_SUCCESS",
		"total_amount":     paid,
		"receipt_amount":   paid,
		"invoice_amount":   paid,
		"buyer_pay_amount": paid,
		"point_amount":     "0.00",
		"subject":          t.Subject,
		"gmt_create":       t.CreatedAt.In(cst).Format(alipayTimeLayout),
		"fund_bill_list":   `[{"amount":"` + paid + `","fundChannel":"ALIPAYACCOUNT"}]`,
	}
	if !t.PaidAt.IsZero() {
		f["gmt_payment"] = t.PaidAt.In(cst).Format(alipayTimeLayout)
	}
	return f
}
