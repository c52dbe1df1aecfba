package emulator

import "time"

// Provider names a payment provider the sandbox emulates.
const (
	ProviderAlipay = "alipay"
	ProviderWechat = "wechat"
)

// Trade states, provider-neutral. Providers' own words are derived when answering.
const (
	StateNotPaid = "NOTPAY"
	StatePaid    = "SUCCESS"
	StateClosed  = "CLOSED"
)

// Products: how the buyer pays. They decide when a trade exists at the provider (Alipay), which
// trade_type a WeChat notify carries, and which notifies a close or a refund sends.
const (
	ProductPrecreate = "precreate" // Alipay face-to-face QR (alipay.trade.precreate)
	ProductPage      = "page"      // Alipay PC web (alipay.trade.page.pay)
	ProductWap       = "wap"       // Alipay mobile web (alipay.trade.wap.pay)
	ProductNative    = "NATIVE"    // WeChat Native (code_url)
	ProductJSAPI     = "JSAPI"     // WeChat inside WeChat (prepay_id + paySign)
	ProductH5        = "MWEB"      // WeChat mobile browser (h5_url)
)

// Refund statuses (WeChat's words; Alipay only tells "not yet" from REFUND_SUCCESS).
const (
	RefundProcessing = "PROCESSING"
	RefundSuccess    = "SUCCESS"
	RefundAbnormal   = "ABNORMAL"
	RefundClosed     = "CLOSED"
)

// Trade is one provider trade as the sandbox stores it (and as GET /sandbox/trades shows it).
type Trade struct {
	Provider   string `json:"provider"`
	Product    string `json:"product,omitempty"` // empty: precreate / NATIVE (trades stored before products)
	OutTradeNo string `json:"outTradeNo"`
	TradeNo    string `json:"tradeNo"` // Alipay trade_no / WeChat transaction_id
	AppID      string `json:"appId"`
	MchID      string `json:"mchId,omitempty"`
	AmountFen  int64  `json:"amountFen"`
	Subject    string `json:"subject"`
	Attach     string `json:"attach,omitempty"`
	NotifyURL  string `json:"notifyUrl"`
	// Traceparent is the W3C trace context of the call that made the trade. A sandbox extra:
	// its notifies carry it, so a development trace runs from the purchase through the notify.
	// The real providers send none.
	Traceparent string `json:"traceparent,omitempty"`
	ReturnURL   string `json:"returnUrl,omitempty"` // Alipay page/WAP: where the buyer's browser goes after paying
	Token       string `json:"token"`
	State       string `json:"state"`
	// Scanned: the trade exists at the provider. An Alipay trade is invisible to query, close and
	// refund until the buyer scans its QR (precreate) or logs in on the cashier (page, WAP).
	Scanned   bool      `json:"scanned"`
	Console   bool      `json:"console,omitempty"` // made in the merchant console ("another system")
	Prepays   []*Prepay `json:"prepays,omitempty"` // WeChat JSAPI prepay_ids and H5 h5_urls
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	PaidAt    time.Time `json:"paidAt,omitzero"`
	ClosedAt  time.Time `json:"closedAt,omitzero"`
	CloseNote string    `json:"closeNote,omitempty"`
	BuyerID   string    `json:"buyerId,omitempty"`
	Refunds   []*Refund `json:"refunds,omitempty"`
	Notify    Notify    `json:"notify"`                // the payment notify
	Closing   *Notify   `json:"closeNotify,omitempty"` // Alipay WAP: the TRADE_CLOSED notify
}

// Prepay is a WeChat JSAPI prepay_id or H5 h5_url; asking again with the same parameters gives
// a fresh one, each valid for a while (prepay_id 2 h, h5_url 5 min).
type Prepay struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Refund is one refund of a trade, keyed by the merchant's out_request_no/out_refund_no. It is
// PROCESSING until DoneAt, then Outcome.
type Refund struct {
	OutRefundNo string    `json:"outRefundNo"`
	RefundID    string    `json:"refundId"`
	AmountFen   int64     `json:"amountFen"`
	Reason      string    `json:"reason,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	DoneAt      time.Time `json:"doneAt,omitzero"`     // zero: done at CreatedAt
	Outcome     string    `json:"outcome,omitempty"`   // empty: SUCCESS
	Console     bool      `json:"console,omitempty"`   // made in the merchant console, not through the API
	NotifyURL   string    `json:"notifyUrl,omitempty"` // WeChat: the refund request's notify_url
	Notify      *Notify   `json:"notify,omitempty"`    // nil: this refund sends no notify
	Status      string    `json:"status,omitempty"`    // GET /sandbox/trades only: the status when listed
}

// Notify is the progress of one async notify (a payment, a close or a refund).
type Notify struct {
	ID         string    `json:"id,omitempty"`
	Attempts   int       `json:"attempts"`
	NextAt     time.Time `json:"nextAt,omitzero"`
	Acked      bool      `json:"acked"`
	AckedAt    time.Time `json:"ackedAt,omitzero"` // real time the merchant's acknowledgement arrived (load figures)
	GaveUp     bool      `json:"gaveUp,omitempty"`
	Dropped    bool      `json:"dropped,omitempty"`    // fault: every attempt is lost
	Duplicate  bool      `json:"duplicate,omitempty"`  // fault: every attempt is sent twice
	Probe      bool      `json:"probe,omitempty"`      // fault: a WECHATPAY/SIGNTEST/ probe goes first
	ProbeAcked bool      `json:"probeAcked,omitempty"` // the merchant acknowledged the probe: it does not verify
	SkewSec    int       `json:"skewSec,omitempty"`    // fault: the first attempt's Wechatpay-Timestamp is off by this
}

func (n *Notify) done() bool { return n.Acked || n.GaveUp || n.Dropped }

func (t *Trade) product() string {
	switch {
	case t.Product != "":
		return t.Product
	case t.Provider == ProviderAlipay:
		return ProductPrecreate
	default:
		return ProductNative
	}
}

func (r *Refund) doneAt() time.Time {
	if r.DoneAt.IsZero() {
		return r.CreatedAt
	}
	return r.DoneAt
}

func (r *Refund) outcome() string {
	if r.Outcome == "" {
		return RefundSuccess
	}
	return r.Outcome
}

// statusAt is PROCESSING until the refund is done, then its outcome.
func (r *Refund) statusAt(now time.Time) string {
	if now.Before(r.doneAt()) {
		return RefundProcessing
	}
	return r.outcome()
}

// committedFen is what no new refund may exceed: every refund not CLOSED (a CLOSED refund gave
// the money back to the merchant, who may apply again).
func (t *Trade) committedFen() int64 {
	var sum int64
	for _, r := range t.Refunds {
		if r.outcome() != RefundClosed {
			sum += r.AmountFen
		}
	}
	return sum
}

// refundedFenAt is what has reached the buyer by now (SUCCESS refunds only).
func (t *Trade) refundedFenAt(now time.Time) int64 {
	var sum int64
	for _, r := range t.Refunds {
		if r.statusAt(now) == RefundSuccess {
			sum += r.AmountFen
		}
	}
	return sum
}

// refundedThrough is what the SUCCESS refunds done no later than r (r included) add up to:
// Alipay's refund_fee in r's notify.
func (t *Trade) refundedThrough(r *Refund) int64 {
	sum := r.AmountFen
	for _, o := range t.Refunds {
		if o != r && o.outcome() == RefundSuccess && !o.doneAt().After(r.doneAt()) {
			sum += o.AmountFen
		}
	}
	return sum
}

func (t *Trade) refund(outRefundNo string) *Refund {
	for _, r := range t.Refunds {
		if r.OutRefundNo == outRefundNo {
			return r
		}
	}
	return nil
}

// expireIfDue closes an unpaid trade whose time is up; it reports whether it changed anything.
// Callers go through Emulator.expireLocked, which also sends the notify a product owes for it.
func (t *Trade) expireIfDue(now time.Time) bool {
	if t.State == StateNotPaid && !now.Before(t.ExpiresAt) {
		t.State, t.ClosedAt, t.CloseNote = StateClosed, t.ExpiresAt, "expired"
		return true
	}
	return false
}

func (t *Trade) clone() Trade {
	c := *t
	c.Refunds = make([]*Refund, len(t.Refunds))
	for i, r := range t.Refunds {
		rc := *r
		if r.Notify != nil {
			n := *r.Notify
			rc.Notify = &n
		}
		c.Refunds[i] = &rc
	}
	c.Prepays = make([]*Prepay, len(t.Prepays))
	for i, p := range t.Prepays {
		pc := *p
		c.Prepays[i] = &pc
	}
	if t.Closing != nil {
		n := *t.Closing
		c.Closing = &n
	}
	return c
}

// settledAt reports whether the trade can no longer change and since when: closed, expired
// unpaid, or paid with every notify (payment, close, refunds) acknowledged, given up or dropped.
func (t *Trade) settledAt() (time.Time, bool) {
	if t.Closing != nil && !t.Closing.done() {
		return time.Time{}, false
	}
	switch t.State {
	case StateClosed:
		return t.ClosedAt, true
	case StateNotPaid:
		return t.ExpiresAt, true // final once expired; only pruned long after that
	}
	if !t.Notify.done() {
		return time.Time{}, false
	}
	last := t.PaidAt
	for _, r := range t.Refunds {
		if r.Notify != nil && !r.Notify.done() {
			return time.Time{}, false
		}
		if at := r.doneAt(); at.After(last) {
			last = at
		}
	}
	return last, true
}
