package app

import (
	"context"
	"fmt"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// CreatePayment starts an attempt to pay an order on a channel, or returns the live one.
// The amount is the order service's total, never the client's. Only the order's owner pays it:
// another customer's order is not found, merchant staff may not pay for a buyer.
//
// The checkout (what the buyer opens) comes with it: a QR code lasts the trade's life and is
// stored; a payUrl or JSAPI parameters are bound to one buyer's browser and short-lived (an
// h5_url lives 5 minutes), so for the live attempt they are asked for again with the same
// out_trade_no, which the providers answer with fresh ones for the same trade.
func (a *App) CreatePayment(ctx context.Context, who principal.Caller, orderID int64, chName payment.Channel, payer payment.Payer) (*payment.Payment, Checkout, error) {
	var none Checkout
	if orderID <= 0 {
		return nil, none, payment.ErrMissingOrderID
	}
	if !chName.Valid() {
		return nil, none, payment.ErrInvalidChannel
	}
	ch, err := a.channel(chName)
	if err != nil {
		return nil, none, err
	}
	if err := chName.CheckPayer(payer, a.cfg.ReturnURLs); err != nil {
		return nil, none, err
	}
	o, err := a.orders.GetOrder(ctx, orderID)
	if err != nil {
		return nil, none, err
	}
	if !who.MayRead(o.UserID) {
		return nil, none, payment.OrderNotFoundError(orderID) // as if it did not exist
	}
	if !who.MayActFor(o.UserID) {
		return nil, none, fmt.Errorf("pay order %d of user %q: %w", orderID, o.UserID, payment.ErrNotYours)
	}
	if o.Status != OrderPendingPayment {
		return nil, none, fmt.Errorf("order %d is %s: %w", orderID, o.Status, payment.ErrOrderNotPayable)
	}
	now := a.now()
	expireAt, err := payment.TradeExpiry(now, a.cfg.ProviderTradeTimeout, o.PayDeadline)
	if err != nil {
		return nil, none, fmt.Errorf("order %d: %w", orderID, err)
	}
	id := a.newID()
	p, err := payment.New(id, orderID, o.UserID, chName, fmt.Sprintf("PS%d", id), o.Total, expireAt, now, o.Items)
	if err != nil {
		return nil, none, err
	}
	// The poll task is stored with the attempt: if we die before or after prepay, the poller
	// still finds out what happened at the provider and closes the trade at its expiry.
	stored, created, err := a.payments.CreatePayment(ctx, p, Changes{
		Tasks: []Task{{Kind: TaskPollTrade, RefID: id, RunAt: now.Add(a.pollDelay(0))}},
	})
	if err != nil {
		return nil, none, fmt.Errorf("store payment: %w", err)
	}
	if !created && stored.QRCode != "" {
		return stored, Checkout{QRCode: stored.QRCode}, nil // the live attempt on this channel
	}
	p = stored
	c, err := ch.Prepay(ctx, PrepayRequest{
		OutTradeNo: p.OutTradeNo, Amount: p.Amount, Subject: a.subject(o), ExpireAt: p.ExpireAt, Payer: payer,
	})
	if err != nil {
		a.log.Warn("prepay failed", "payment_id", p.ID, "order_id", orderID, "channel", chName, "err", err)
		return nil, none, fmt.Errorf("prepay at %s: %w", chName, ErrProviderUnavailable)
	}
	if c.QRCode != "" {
		if err := a.payments.SetQRCode(ctx, p.ID, c.QRCode); err != nil {
			return nil, none, err
		}
		p.QRCode = c.QRCode
	}
	if created {
		a.log.Info("payment created", "payment_id", p.ID, "order_id", orderID, "channel", chName,
			"out_trade_no", p.OutTradeNo, "amount_fen", int64(p.Amount), "expire_at", p.ExpireAt)
	}
	return p, c, nil
}

func (a *App) subject(o Order) string {
	if len(o.Items) == 1 && o.Items[0].Title != "" {
		return o.Items[0].Title
	}
	return fmt.Sprintf("%s #%d", a.cfg.Subject, o.ID)
}
