package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// maxReturnQuery bounds the return parameters looked at (Alipay's are well under 2 KiB).
const maxReturnQuery = 8 << 10

// VerifyReturn answers the payment a provider's signed return parameters name, as we know it.
// The parameters change nothing: a valid signature proves only that the provider sent the
// buyer back (the buyer may have paid, given up, or replayed an old redirect). What it buys is
// speed: the provider is asked about a WAITING trade now instead of at the next poll, and a paid
// answer is recorded through the same door as any poll (recordPaid). Parameters that do not
// verify, name another trade or amount, or another customer's payment answer ErrReturnForged,
// the same for all, so a forged link learns nothing.
func (a *App) VerifyReturn(ctx context.Context, who principal.Caller, query string) (*payment.Payment, error) {
	if query == "" || len(query) > maxReturnQuery {
		return nil, payment.ErrReturnForged
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return nil, payment.ErrReturnForged
	}
	p, err := a.payments.GetPaymentByOutTradeNo(ctx, vals.Get("out_trade_no"))
	if errors.Is(err, payment.ErrNotFound) {
		return nil, payment.ErrReturnForged
	}
	if err != nil {
		return nil, err
	}
	ch, err := a.channel(p.Channel)
	if err != nil {
		return nil, err
	}
	claim, err := ch.VerifyReturn(query)
	if err != nil {
		a.log.Warn("return parameters refused", "out_trade_no", p.OutTradeNo, "err", err)
		return nil, fmt.Errorf("%w (%v)", payment.ErrReturnForged, err)
	}
	if claim.OutTradeNo != p.OutTradeNo || claim.Amount != p.Amount || !who.MayRead(p.UserID) {
		a.log.Warn("return parameters name another trade, amount or user", "out_trade_no", p.OutTradeNo,
			"claimed_fen", int64(claim.Amount), "ours_fen", int64(p.Amount))
		return nil, payment.ErrReturnForged
	}
	if p.Status != payment.StatusWaiting {
		return p, nil
	}
	t, err := ch.Query(ctx, p.OutTradeNo)
	if err != nil {
		a.log.Warn("query after return failed; the poller keeps asking", "payment_id", p.ID, "err", err)
		return p, nil
	}
	if !t.State.Paid() {
		return p, nil
	}
	if _, err := a.recordPaid(ctx, p, t, "query after return", nil); err != nil {
		a.log.Warn("recording a payment found after return failed; the poller keeps asking", "payment_id", p.ID, "err", err)
		return p, nil
	}
	return a.payments.GetPayment(ctx, p.ID)
}
