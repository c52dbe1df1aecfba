package emulator

import "time"

// Refunds, provider-neutral. A refund is PROCESSING until DoneAt, then its outcome (SUCCESS, or
// for WeChat under faults ABNORMAL / CLOSED). Alipay refunds settle at once by default (the
// answer's fund_change "Y" says the money moved); WeChat refunds after refundSettle × TimeScale;
// the refundProcessingMs fault holds every following API refund of both for n real ms.
//
// Refund notifies (services/sandbox/README.md §4): Alipay sends trade_status_sync to the trade's notify_url — a
// partial refund as TRADE_SUCCESS with refund_fee/out_biz_no/gmt_refund for every product, a
// refund that makes the trade fully refunded as TRADE_CLOSED (+gmt_close) only for WAP. WeChat
// sends REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED to the refund request's notify_url.

// refundSettle is how long a WeChat refund stays PROCESSING by default (× TimeScale).
const refundSettle = 5 * time.Second

type refundSpec struct {
	outRefundNo string
	amountFen   int64
	reason      string
	notifyURL   string // WeChat: the refund request's notify_url (empty: no notify)
	outcome     string // empty: SUCCESS
	console     bool   // made in the merchant console: faults do not apply
}

// newRefundLocked records an accepted refund of t and arms its notify.
func (e *Emulator) newRefundLocked(t *Trade, s refundSpec) *Refund {
	now := e.now()
	r := &Refund{
		OutRefundNo: s.outRefundNo, AmountFen: s.amountFen, Reason: s.reason, CreatedAt: now,
		Outcome: s.outcome, Console: s.console,
	}
	settle := time.Duration(0)
	if t.Provider == ProviderAlipay {
		r.RefundID = randDigits(20)
	} else {
		r.RefundID, r.NotifyURL, settle = wechatRefundID(), s.notifyURL, e.scaled(refundSettle)
	}
	if !s.console && e.faults.RefundProcessingMs > 0 {
		settle = time.Duration(e.faults.RefundProcessingMs) * time.Millisecond
	}
	r.DoneAt = now.Add(settle)
	t.Refunds = append(t.Refunds, r)
	e.armRefundNotifyLocked(t, r)
	e.changedLocked(t)
	e.log.Info("refund accepted", "provider", t.Provider, "out_trade_no", t.OutTradeNo, "out_refund_no", r.OutRefundNo,
		"amount_fen", r.AmountFen, "done_at", r.DoneAt, "outcome", r.outcome(), "console", r.Console)
	return r
}

func (e *Emulator) armRefundNotifyLocked(t *Trade, r *Refund) {
	url := r.NotifyURL
	if t.Provider == ProviderAlipay {
		full := t.refundedThrough(r) >= t.AmountFen
		if full && t.product() != ProductWap {
			return // precreate and page pay send no TRADE_CLOSED notify for a full refund
		}
		url = t.NotifyURL
	}
	if url == "" {
		return
	}
	n := e.newNotifyLocked(t.Provider, url, r.doneAt())
	r.Notify = &n
	e.startNotifyLocked(refundRef(t, r))
}
