package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// advanceRefund moves one refund as far as it can go: tell the order a refund begins (user
// refunds), ask the provider (once; afterwards only query), settle or fail it, then tell the
// order it finished. Every step is recorded, so a retry resumes where this one stopped.
func (a *App) advanceRefund(ctx context.Context, refundID int64) error {
	r, err := a.refunds.GetRefund(ctx, refundID)
	if errors.Is(err, payment.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	p, err := a.payments.GetPayment(ctx, r.PaymentID)
	if err != nil {
		return err
	}
	if r.Status == payment.RefundProcessing && !r.Auto && !r.OrderBegun {
		err := a.orders.BeginRefund(ctx, r.OrderID, r.ID, r.Amount)
		if errors.Is(err, ErrOrderRefused) {
			if ferr := a.failRefund(ctx, r.ID, "order refused: "+err.Error()); ferr != nil {
				return ferr
			}
			return err
		}
		if err != nil {
			return err
		}
		if err := a.updateRefund(ctx, r.ID, func(_ *payment.Payment, r *payment.Refund, _ *Changes) error {
			r.OrderBegun = true
			return nil
		}); err != nil {
			return err
		}
	}
	if r.Status == payment.RefundProcessing {
		done, err := a.askProvider(ctx, p, r)
		if err != nil || !done {
			return err
		}
		if r, err = a.refunds.GetRefund(ctx, refundID); err != nil {
			return err
		}
	}
	if r.Status == payment.RefundSucceeded && !r.Auto && !r.OrderFinished {
		p, err := a.payments.GetPayment(ctx, r.PaymentID)
		if err != nil {
			return err
		}
		if err := a.orders.FinishRefund(ctx, r.OrderID, r.ID, p.RefundedFen, r.SucceededAt); err != nil {
			return err // refused or not, the money is back: keep telling the order until it listens
		}
		return a.updateRefund(ctx, r.ID, func(_ *payment.Payment, r *payment.Refund, _ *Changes) error {
			r.OrderFinished = true
			return nil
		})
	}
	if r.Status == payment.RefundFailed && !r.Auto && r.OrderBegun && !r.OrderFinished {
		// The order is REFUNDING for this refund: tell it nothing more came back.
		p, err := a.payments.GetPayment(ctx, r.PaymentID)
		if err != nil {
			return err
		}
		if err := a.orders.FinishRefund(ctx, r.OrderID, r.ID, p.RefundedFen, a.now()); err != nil && !errors.Is(err, ErrOrderRefused) {
			return err
		}
		return a.updateRefund(ctx, r.ID, func(_ *payment.Payment, r *payment.Refund, _ *Changes) error {
			r.OrderFinished = true
			return nil
		})
	}
	return nil
}

// askProvider submits the refund once, then queries it; done=true when it settled either way.
func (a *App) askProvider(ctx context.Context, p *payment.Payment, r *payment.Refund) (bool, error) {
	ch, err := a.channel(p.Channel)
	if err != nil {
		return false, err
	}
	var state RefundState
	if !r.Submitted {
		state, err = ch.Refund(ctx, RefundRequest{
			OutTradeNo: p.OutTradeNo, OutRefundNo: r.OutRefundNo, Amount: r.Amount, Total: p.Amount, Reason: r.Reason,
		})
		if state == RefundRejected {
			a.log.Error("provider rejected the refund", "refund_id", r.ID, "payment_id", p.ID, "err", err)
			return true, a.failRefund(ctx, r.ID, fmt.Sprint(err))
		}
		if err != nil {
			return false, err // unknown outcome: submitting again with the same out_refund_no is safe
		}
		if err := a.updateRefund(ctx, r.ID, func(_ *payment.Payment, r *payment.Refund, _ *Changes) error {
			r.Submitted = true
			return nil
		}); err != nil {
			return false, err
		}
	} else {
		state, err = ch.QueryRefund(ctx, p.OutTradeNo, r.OutRefundNo)
		if err != nil {
			return false, err
		}
		if state == RefundUnknown {
			// Our submit never reached the provider: submit again (same out_refund_no).
			if err := a.updateRefund(ctx, r.ID, func(_ *payment.Payment, r *payment.Refund, _ *Changes) error {
				r.Submitted = false
				return nil
			}); err != nil {
				return false, err
			}
			return false, retryAt{at: a.now()}
		}
	}
	switch state {
	case RefundDone:
		return true, a.settleRefund(ctx, r.ID)
	case RefundRejected:
		return true, a.failRefund(ctx, r.ID, "provider closed the refund")
	}
	return false, retryAt{at: a.now().Add(a.refundPollDelay())}
}

func (a *App) refundPollDelay() time.Duration {
	return max(50*time.Millisecond, time.Duration(float64(5*time.Second)*a.cfg.PollScale))
}

func (a *App) settleRefund(ctx context.Context, refundID int64) error {
	now := a.now()
	var full bool
	var total money.Fen
	err := a.updateRefund(ctx, refundID, func(p *payment.Payment, r *payment.Refund, ch *Changes) error {
		if err := r.Succeed(now); err != nil {
			return err
		}
		if err := p.SettleRefund(r.Amount, now); err != nil {
			return err
		}
		full, total = p.Status == payment.StatusRefunded, p.RefundedFen
		ch.Events = append(ch.Events, a.event(EventRefunded, p, r, r.Reason))
		return nil
	})
	if errors.Is(err, payment.ErrRefundSettled) {
		return nil
	}
	if err == nil {
		a.log.Info("refund succeeded", "refund_id", refundID, "refunded_total_fen", int64(total), "full", full)
		a.eventsCommitted()
	}
	return err
}

func (a *App) failRefund(ctx context.Context, refundID int64, reason string) error {
	now := a.now()
	err := a.updateRefund(ctx, refundID, func(p *payment.Payment, r *payment.Refund, _ *Changes) error {
		if err := r.Fail(reason, now); err != nil {
			return err
		}
		return p.ReleaseRefund(r.Amount, now)
	})
	if errors.Is(err, payment.ErrRefundSettled) {
		return nil
	}
	return err
}

func (a *App) updateRefund(ctx context.Context, id int64, fn func(*payment.Payment, *payment.Refund, *Changes) error) error {
	return a.refunds.UpdateRefund(ctx, id, fn)
}
