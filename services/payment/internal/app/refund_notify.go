package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// handleRefundNotify takes a verified refund notify (Alipay's refund fields on the trade notify,
// WeChat's REFUND.*) through the same transition as the refund call's answer and the refund
// query (applyRefundState): whichever door comes first changes the refund, the others find it
// settled. A refund paysuite did not make (e.g. one from the provider's console) changes nothing
// here; reconciliation finds it.
func (a *App) handleRefundNotify(ctx context.Context, p *payment.Payment, n Notify, rec NotifyRecord) NotifyAnswer {
	r, err := a.refunds.GetRefundByOutRefundNo(ctx, n.Refund.OutRefundNo)
	if errors.Is(err, payment.ErrNotFound) {
		rec.Outcome, rec.RefuseReason = NotifyIgnored, "refund "+n.Refund.OutRefundNo+" was not made by paysuite"
		a.log.Warn("refund notify for a refund paysuite did not make", "out_trade_no", n.OutTradeNo, "out_refund_no", n.Refund.OutRefundNo)
		a.logNotify(ctx, rec)
		return NotifyAnswer{OK: true, Message: "unknown refund"}
	}
	if err != nil {
		return a.failNotify(ctx, rec, err)
	}
	if r.PaymentID != p.ID {
		return a.refuseNotify(ctx, rec, fmt.Sprintf("refund %s belongs to another trade than %s", n.Refund.OutRefundNo, n.OutTradeNo))
	}
	if r.Status != payment.RefundProcessing {
		rec.Outcome, rec.RefuseReason = NotifyDuplicate, "refund already "+string(r.Status)
		a.logNotify(ctx, rec)
		return NotifyAnswer{OK: true, Message: "already recorded"}
	}
	var perr error
	if n.Refund.State == RefundRejected {
		perr = errors.New(n.Refund.Detail)
	}
	_, err = a.applyRefundState(ctx, p, r, n.Refund.State, n.Refund.SettledAt, perr)
	var again retryAt
	if err != nil && !errors.As(err, &again) {
		return a.failNotify(ctx, rec, err)
	}
	a.log.Info("refund notify", "refund_id", r.ID, "out_refund_no", r.OutRefundNo, "detail", n.Refund.Detail)
	rec.Outcome = NotifyAccepted
	a.logNotify(ctx, rec)
	a.Wake() // the refund task tells the order
	return NotifyAnswer{OK: true}
}
