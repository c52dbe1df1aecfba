package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"
)

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

// Trade is one provider trade as the sandbox stores it (and as GET /sandbox/trades shows it).
type Trade struct {
	Provider   string    `json:"provider"`
	OutTradeNo string    `json:"outTradeNo"`
	TradeNo    string    `json:"tradeNo"` // Alipay trade_no / WeChat transaction_id
	AppID      string    `json:"appId"`
	MchID      string    `json:"mchId,omitempty"`
	AmountFen  int64     `json:"amountFen"`
	Subject    string    `json:"subject"`
	Attach     string    `json:"attach,omitempty"`
	NotifyURL  string    `json:"notifyUrl"`
	Token      string    `json:"token"`
	State      string    `json:"state"`
	Scanned    bool      `json:"scanned"` // an Alipay precreate trade is invisible to query until scanned
	CreatedAt  time.Time `json:"createdAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	PaidAt     time.Time `json:"paidAt,omitzero"`
	ClosedAt   time.Time `json:"closedAt,omitzero"`
	CloseNote  string    `json:"closeNote,omitempty"`
	BuyerID    string    `json:"buyerId,omitempty"`
	Refunds    []*Refund `json:"refunds,omitempty"`
	Notify     Notify    `json:"notify"`
}

// Refund is one refund request of a trade, keyed by the merchant's out_request_no/out_refund_no.
type Refund struct {
	OutRefundNo string    `json:"outRefundNo"`
	RefundID    string    `json:"refundId"`
	AmountFen   int64     `json:"amountFen"`
	Reason      string    `json:"reason,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Notify is the async notify progress of a paid trade.
type Notify struct {
	ID        string    `json:"id,omitempty"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"nextAt,omitzero"`
	Acked     bool      `json:"acked"`
	GaveUp    bool      `json:"gaveUp,omitempty"`
	Dropped   bool      `json:"dropped,omitempty"`   // fault: every attempt is lost
	Duplicate bool      `json:"duplicate,omitempty"` // fault: every attempt is sent twice
}

func (t *Trade) refundedFen() int64 {
	var sum int64
	for _, r := range t.Refunds {
		sum += r.AmountFen
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
		c.Refunds[i] = &rc
	}
	return c
}

// settledAt reports whether the trade can no longer change and since when: closed, expired
// unpaid, or paid with its notify acknowledged, given up or dropped (refunds count as changes).
func (t *Trade) settledAt() (time.Time, bool) {
	switch t.State {
	case StateClosed:
		return t.ClosedAt, true
	case StateNotPaid:
		return t.ExpiresAt, true // final once expired; only pruned long after that
	}
	if !t.Notify.Acked && !t.Notify.GaveUp && !t.Notify.Dropped {
		return time.Time{}, false
	}
	last := t.PaidAt
	for _, r := range t.Refunds {
		if r.CreatedAt.After(last) {
			last = r.CreatedAt
		}
	}
	return last, true
}

// store keeps trades in memory; persist.go mirrors them to trades.json. Callers hold the
// emulator's mutex around every method.
type store struct {
	trades map[string]*Trade // key: provider + "/" + outTradeNo
	tokens map[string]*Trade
}

type storeFile struct {
	Trades []*Trade `json:"trades"`
}

func tradeKey(provider, outTradeNo string) string { return provider + "/" + outTradeNo }

func openStore(path string) (*store, error) {
	s := &store{trades: map[string]*Trade{}, tokens: map[string]*Trade{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	var f storeFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	for _, t := range f.Trades {
		s.trades[tradeKey(t.Provider, t.OutTradeNo)] = t
		s.tokens[t.Token] = t
	}
	return s, nil
}

func (s *store) get(provider, outTradeNo string) *Trade {
	return s.trades[tradeKey(provider, outTradeNo)]
}

func (s *store) byToken(token string) *Trade { return s.tokens[token] }

func (s *store) byTradeNo(provider, tradeNo string) *Trade {
	for _, t := range s.trades {
		if t.Provider == provider && t.TradeNo == tradeNo {
			return t
		}
	}
	return nil
}

func (s *store) add(t *Trade) {
	s.trades[tradeKey(t.Provider, t.OutTradeNo)] = t
	s.tokens[t.Token] = t
}

func (s *store) remove(key string) {
	if t := s.trades[key]; t != nil {
		delete(s.tokens, t.Token)
		delete(s.trades, key)
	}
}

func (s *store) list() []Trade {
	out := make([]Trade, 0, len(s.trades))
	for _, t := range s.trades {
		out = append(out, t.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}
