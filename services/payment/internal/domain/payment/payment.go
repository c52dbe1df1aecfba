// Package payment holds a payment attempt and its refunds: the states money can be in and the
// only transitions allowed between them. Plain Go: storage and providers live in adapters.
package payment

import (
	"fmt"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
)

// Channel is how the buyer pays.
type Channel string

const (
	ChannelAlipayQR     Channel = "ALIPAY_QR"     // face-to-face precreate: a QR code
	ChannelAlipayPage   Channel = "ALIPAY_PAGE"   // PC web page pay: a payUrl
	ChannelAlipayWap    Channel = "ALIPAY_WAP"    // mobile web WAP pay: a payUrl
	ChannelWechatNative Channel = "WECHAT_NATIVE" // Native: a QR code
	ChannelWechatJSAPI  Channel = "WECHAT_JSAPI"  // inside WeChat: signed JSAPI parameters, needs the payer's openid
	ChannelWechatH5     Channel = "WECHAT_H5"     // phone browser: a payUrl, needs the payer's client IP
)

// Provider names whose keys sign a channel's trades and notifies.
type Provider string

const (
	ProviderAlipay Provider = "alipay"
	ProviderWechat Provider = "wechat"
)

// Channels are the channels paysuite offers, in the order they are listed to people.
var Channels = []Channel{ChannelAlipayQR, ChannelAlipayPage, ChannelAlipayWap, ChannelWechatNative, ChannelWechatJSAPI, ChannelWechatH5}

// Valid reports whether c is a channel paysuite offers.
func (c Channel) Valid() bool { return c.Provider() != "" }

// Provider is the provider behind c ("" for an unknown channel). Every channel of a provider
// shares its notify endpoint: the notify names the trade, the trade names its channel.
func (c Channel) Provider() Provider {
	switch c {
	case ChannelAlipayQR, ChannelAlipayPage, ChannelAlipayWap:
		return ProviderAlipay
	case ChannelWechatNative, ChannelWechatJSAPI, ChannelWechatH5:
		return ProviderWechat
	}
	return ""
}

// BillChannel names the provider account c's trades are billed to: one daily trade bill per
// merchant account lists the trades of every channel of its provider (QR, page and WAP pay on
// Alipay; Native, JSAPI and H5 on WeChat Pay), and its reconciliation goes by the name of the
// provider's QR/Native channel. "" for an unknown channel.
func (c Channel) BillChannel() Channel {
	switch c.Provider() {
	case ProviderAlipay:
		return ChannelAlipayQR
	case ProviderWechat:
		return ChannelWechatNative
	}
	return ""
}

// AccountChannels are the channels whose trades the provider account of c bills: c's
// provider's channels (nil for an unknown channel).
func (c Channel) AccountChannels() []Channel {
	var out []Channel
	for _, o := range Channels {
		if c.Provider() != "" && o.Provider() == c.Provider() {
			out = append(out, o)
		}
	}
	return out
}

// Status of a payment attempt. WAITING → SUCCEEDED | CLOSED; SUCCEEDED → REFUNDED once fully
// refunded (partial refunds keep SUCCEEDED with RefundedFen).
type Status string

const (
	StatusWaiting   Status = "WAITING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusClosed    Status = "CLOSED"
	StatusRefunded  Status = "REFUNDED"
)

// Close reasons.
const (
	CloseExpired      = "EXPIRED"
	CloseOrderClosing = "ORDER_CLOSING"
	ClosePrepayFailed = "PREPAY_FAILED"
	CloseByProvider   = "CLOSED_AT_PROVIDER"
	// CloseAmountMismatch: the provider reports the trade paid with another amount than ours.
	// The attempt never pays the order; what the provider took is refunded automatically.
	CloseAmountMismatch = "AMOUNT_MISMATCH"
)

// Item is an order line as it was when the attempt started (for the payment result event).
type Item struct {
	SkuID        string    `json:"skuId"`
	Title        string    `json:"title"`
	Kind         string    `json:"kind"`
	Quantity     int32     `json:"quantity"`
	UnitPriceFen money.Fen `json:"unitPriceFen"`
}

// Payment is one attempt to pay an order on one channel, with its own out_trade_no.
// Failed attempts are kept, never overwritten.
type Payment struct {
	ID              int64
	OrderID         int64
	UserID          string
	Channel         Channel
	OutTradeNo      string
	Amount          money.Fen
	Status          Status
	QRCode          string
	ExpireAt        time.Time
	ProviderTradeNo string
	PaidAt          time.Time
	RefundedFen     money.Fen // settled refunds
	RefundingFen    money.Fen // refunds in flight, reserved so two refunds cannot both pass the limit
	// RefundLines is, per sku, the quantity refunded or in flight by refunds by order line.
	RefundLines map[string]int32
	CloseReason string
	ClosedAt    time.Time
	Items       []Item
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// New starts a WAITING attempt.
func New(id, orderID int64, userID string, ch Channel, outTradeNo string, amount money.Fen, expireAt, now time.Time, items []Item) (*Payment, error) {
	if orderID <= 0 {
		return nil, ErrMissingOrderID
	}
	if !ch.Valid() {
		return nil, ErrInvalidChannel
	}
	if amount <= 0 {
		return nil, fmt.Errorf("order %d total %d fen: %w", orderID, amount, ErrOrderNotPayable)
	}
	now = now.UTC().Truncate(time.Microsecond)
	return &Payment{
		ID: id, OrderID: orderID, UserID: userID, Channel: ch, OutTradeNo: outTradeNo, Amount: amount,
		Status: StatusWaiting, ExpireAt: expireAt.UTC(), Items: items, CreatedAt: now, UpdatedAt: now,
	}, nil
}

// LiveKey is set only while the attempt is WAITING; a unique index on it allows one live
// attempt per order and channel.
func (p *Payment) LiveKey() string {
	if p.Status != StatusWaiting {
		return ""
	}
	return fmt.Sprintf("%d:%s", p.OrderID, p.Channel)
}

// Succeed records the provider's verified word that the buyer paid amount. A report of another
// amount than the trade's is ErrAmountMismatch, whatever the state: the provider and we disagree
// about money, and nothing is recorded. A success happens once: a second report is
// ErrAlreadySucceeded (a duplicate, harmless). A CLOSED attempt may still succeed: Alipay
// answers a close of an unscanned QR with TRADE_NOT_EXIST, so a buyer can pay what we believed
// closed; the provider is the truth about money, and the order then refuses the payment and it
// is refunded automatically instead of being kept silently.
func (p *Payment) Succeed(providerTradeNo string, amount money.Fen, paidAt, now time.Time) error {
	if amount != p.Amount {
		return fmt.Errorf("payment %d: provider says %d fen paid, the trade is %d fen: %w", p.ID, amount, p.Amount, ErrAmountMismatch)
	}
	switch p.Status {
	case StatusWaiting, StatusClosed:
	case StatusSucceeded, StatusRefunded:
		return fmt.Errorf("payment %d: %w", p.ID, ErrAlreadySucceeded)
	default:
		return fmt.Errorf("payment %d is %s: %w", p.ID, p.Status, ErrNotWaiting)
	}
	if paidAt.IsZero() {
		paidAt = now
	}
	p.Status = StatusSucceeded
	p.ProviderTradeNo = providerTradeNo
	p.PaidAt = paidAt.UTC().Truncate(time.Microsecond)
	p.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	return nil
}

// Close records that the provider trade is closed and can no longer be paid.
func (p *Payment) Close(reason string, now time.Time) error {
	switch p.Status {
	case StatusWaiting:
	case StatusSucceeded, StatusRefunded:
		return fmt.Errorf("payment %d: %w", p.ID, ErrAlreadySucceeded)
	default:
		return fmt.Errorf("payment %d is %s: %w", p.ID, p.Status, ErrNotWaiting)
	}
	p.Status = StatusClosed
	p.CloseReason = reason
	p.ClosedAt = now.UTC().Truncate(time.Microsecond)
	p.UpdatedAt = p.ClosedAt
	return nil
}

// Refundable is what may still be refunded: paid minus refunded minus in flight.
func (p *Payment) Refundable() money.Fen {
	if p.Status != StatusSucceeded {
		return 0
	}
	return p.Amount - p.RefundedFen - p.RefundingFen
}

// ReserveRefund holds amount for a new refund. Call it under the row lock.
func (p *Payment) ReserveRefund(amount money.Fen, now time.Time) error {
	if amount <= 0 {
		return ErrRefundAmount
	}
	if p.Status != StatusSucceeded {
		return fmt.Errorf("payment %d is %s: %w", p.ID, p.Status, ErrNotRefundable)
	}
	if left := p.Refundable(); amount > left {
		return fmt.Errorf("payment %d: paid %d, refunded %d, in flight %d, asked %d fen: %w",
			p.ID, p.Amount, p.RefundedFen, p.RefundingFen, amount, ErrRefundExceeds)
	}
	p.RefundingFen += amount
	p.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	return nil
}

// MismatchClose closes an attempt the provider reports paid with providerAmount, another amount
// than ours, and reserves providerAmount for its automatic refund: the money was taken, the
// order will never take it. A payment that already succeeded (the provider said our amount
// before) is ErrAlreadySucceeded and nothing changes: a person looks at it.
func (p *Payment) MismatchClose(providerAmount money.Fen, now time.Time) error {
	switch {
	case p.Status == StatusSucceeded || p.Status == StatusRefunded:
		return fmt.Errorf("payment %d: %w", p.ID, ErrAlreadySucceeded)
	case p.Status == StatusClosed && p.CloseReason == CloseAmountMismatch:
		return fmt.Errorf("payment %d: mismatch recorded already: %w", p.ID, ErrNotWaiting)
	case providerAmount <= 0:
		return ErrRefundAmount
	}
	now = now.UTC().Truncate(time.Microsecond)
	p.Status, p.CloseReason, p.ClosedAt, p.UpdatedAt = StatusClosed, CloseAmountMismatch, now, now
	p.RefundingFen = providerAmount
	return nil
}

// SettleRefund moves a reserved amount to refunded; the payment is REFUNDED once all of it is back.
func (p *Payment) SettleRefund(amount money.Fen, now time.Time) error {
	if amount <= 0 || amount > p.RefundingFen {
		return fmt.Errorf("payment %d: settle %d fen with %d in flight: %w", p.ID, amount, p.RefundingFen, ErrRefundAmount)
	}
	p.RefundingFen -= amount
	p.RefundedFen += amount
	if p.RefundedFen == p.Amount && p.Status == StatusSucceeded {
		p.Status = StatusRefunded
	}
	p.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	return nil
}

// ReleaseRefund gives back a reservation whose refund failed.
func (p *Payment) ReleaseRefund(amount money.Fen, now time.Time) error {
	if amount <= 0 || amount > p.RefundingFen {
		return fmt.Errorf("payment %d: release %d fen with %d in flight: %w", p.ID, amount, p.RefundingFen, ErrRefundAmount)
	}
	p.RefundingFen -= amount
	p.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	return nil
}

// TradeExpiry is when the provider trade must expire: PROVIDER_TRADE_TIMEOUT from now, but
// always a margin before the order's pay deadline (1 minute, or 10% of what is left when that
// is shorter), so a buyer can never pay an order that is about to be cancelled. Second
// precision (the providers' formats), rounded down.
func TradeExpiry(now time.Time, providerTimeout time.Duration, payDeadline time.Time) (time.Time, error) {
	expire := now.Add(providerTimeout)
	if !payDeadline.IsZero() {
		left := payDeadline.Sub(now)
		margin := min(time.Minute, left/10)
		if d := payDeadline.Add(-margin); d.Before(expire) {
			expire = d
		}
	}
	expire = expire.Truncate(time.Second)
	if !expire.After(now.Add(time.Second)) {
		return time.Time{}, fmt.Errorf("pay deadline %s: %w", payDeadline.UTC().Format(time.RFC3339), ErrOrderExpiring)
	}
	return expire, nil
}
