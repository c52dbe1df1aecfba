package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
		err := a.orders.BeginRefund(ctx, r.OrderID, r.ID, r.PaymentID, r.Amount)
		if errors.Is(err, ErrOrderRefused) {
			if ferr := a.failRefund(ctx, r.ID, "order refused: "+err.Error(), false); ferr != nil {
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
		if err := a.orders.FinishRefund(ctx, r.OrderID, r.ID, r.PaymentID, p.RefundedFen, r.SucceededAt); err != nil {
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
		if err := a.orders.FinishRefund(ctx, r.OrderID, r.ID, r.PaymentID, p.RefundedFen, a.now()); err != nil && !errors.Is(err, ErrOrderRefused) {
			return err
		}
		return a.updateRefund(ctx, r.ID, func(_ *payment.Payment, r *payment.Refund, _ *Changes) error {
			r.OrderFinished = true
			return nil
		})
	}
	return nil
}

// askProvider submits the refund (again, with the same number, until the provider accepted it),
// then queries it on the refund schedule; done=true when it settled either way. A refund is
// never silently final: only the provider's success or its final refusal ends it, and a final
// refusal, an ABNORMAL refund or one that takes too long is an anomaly for a person.
func (a *App) askProvider(ctx context.Context, p *payment.Payment, r *payment.Refund) (bool, error) {
	ch, err := a.channel(p.Channel)
	if err != nil {
		return false, err
	}
	var state RefundState
	var settledAt time.Time
	var perr error
	if !r.Submitted {
		total := p.Amount
		if r.Reason == payment.ReasonAmountMismatch {
			total = r.Amount // the provider's trade total, which is not ours
		}
		state, settledAt, perr = ch.Refund(ctx, RefundRequest{
			OutTradeNo: p.OutTradeNo, OutRefundNo: r.OutRefundNo, Amount: r.Amount, Total: total, Reason: r.Reason,
		})
		accepted := perr == nil && (state == RefundPending || state == RefundDone || state == RefundAbnormal)
		if accepted {
			if err := a.updateRefund(ctx, r.ID, func(_ *payment.Payment, r *payment.Refund, _ *Changes) error {
				r.Submitted = true
				return nil
			}); err != nil {
				return false, err
			}
		}
	} else {
		state, settledAt, perr = ch.QueryRefund(ctx, p.OutTradeNo, r.OutRefundNo)
	}
	return a.applyRefundState(ctx, p, r, state, settledAt, perr)
}

// applyRefundState is the one door for what a provider says about a refund (the answer to the
// refund call, a refund query, a verified refund notify): a conditional transition of the
// refund, else the next check on the refund schedule. settledAt is when the provider says a
// RefundDone refund went through (zero: it did not say; then our clock).
func (a *App) applyRefundState(ctx context.Context, p *payment.Payment, r *payment.Refund, state RefundState, settledAt time.Time, perr error) (bool, error) {
	detail := ""
	if perr != nil {
		detail = perr.Error()
	}
	switch state {
	case RefundDone:
		return true, a.settleRefund(ctx, r.ID, settledAt)
	case RefundRejected:
		a.log.Error("provider refused the refund for good", "refund_id", r.ID, "payment_id", p.ID, "err", perr)
		return true, a.failRefund(ctx, r.ID, detail, true)
	case RefundAbnormal:
		a.log.Error("refund is ABNORMAL at the provider; a person must act", "refund_id", r.ID, "payment_id", p.ID)
		if err := a.raiseRefundAnomaly(ctx, r.ID, payment.AnomalyRefundAbnormal,
			"the provider reports the refund ABNORMAL (the buyer's account cannot receive it); the money waits at the provider",
			"refund kept PROCESSING with its amount reserved; still checked on the refund schedule"); err != nil {
			return false, err
		}
	case RefundUnknown:
		// Our submit never reached the provider: submit again (same number) at the next check.
		if err := a.updateRefund(ctx, r.ID, func(_ *payment.Payment, r *payment.Refund, _ *Changes) error {
			r.Submitted = false
			return nil
		}); err != nil {
			return false, err
		}
	case RefundRetryLater:
		a.log.Warn("provider did not take the refund now; trying again later with the same number", "refund_id", r.ID, "err", perr)
	default: // RefundPending, with perr when the outcome is unknown (timeout, 5xx, unverifiable answer)
		if perr != nil {
			a.log.Warn("refund outcome unknown; asking again later", "refund_id", r.ID, "err", perr)
		}
	}
	now := a.now()
	if age := now.Sub(r.CreatedAt); age >= a.scaled(RefundStuckAfter) {
		if err := a.raiseRefundAnomaly(ctx, r.ID, payment.AnomalyRefundStuck,
			fmt.Sprintf("not through after %s; last answer: %s", age.Round(time.Second), orNone(detail)),
			"refund kept PROCESSING with its amount reserved; checked once a day"); err != nil {
			return false, err
		}
	}
	return false, retryAt{at: a.nextRefundCheck(r.CreatedAt, now)}
}

func orNone(s string) string {
	if s == "" {
		return "still processing"
	}
	return s
}

// RefundStuckAfter is how long a refund may stay unsettled before it is an anomaly (× PAYMENT_POLL_SCALE).
const RefundStuckAfter = 48 * time.Hour

// refundChecks are the offsets from a refund's creation at which the provider is asked while the
// refund is not through: WeChat's advice (1 minute after applying, then 5/10/20/30 minutes), then
// hours, then daily (and Alipay's "query no sooner than 10 s after the refund"). The schedule
// depends only on the refund's age, so a restart, a notify or a retry never tightens it.
var refundChecks = [...]time.Duration{
	time.Minute, 6 * time.Minute, 16 * time.Minute, 36 * time.Minute, 66 * time.Minute,
	2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 16 * time.Hour, 24 * time.Hour, 36 * time.Hour, 48 * time.Hour,
}

// nextRefundCheck is the first point of the refund schedule after now (then every 24 h),
// × PAYMENT_POLL_SCALE.
func (a *App) nextRefundCheck(created, now time.Time) time.Time {
	for _, off := range refundChecks {
		if at := created.Add(a.scaled(off)); at.After(now) {
			return at
		}
	}
	last := created.Add(a.scaled(refundChecks[len(refundChecks)-1]))
	day := max(a.scaled(24*time.Hour), time.Millisecond)
	return last.Add((now.Sub(last)/day + 1) * day)
}

func (a *App) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * a.cfg.PollScale)
}

// raiseRefundAnomaly opens (or updates) the case of kind about a refund, in the refund's transaction.
func (a *App) raiseRefundAnomaly(ctx context.Context, refundID int64, kind payment.AnomalyKind, detail, tried string) error {
	now := a.now()
	return a.updateRefund(ctx, refundID, func(p *payment.Payment, r *payment.Refund, ch *Changes) error {
		ch.Anomalies = append(ch.Anomalies, payment.RefundAnomaly(kind, p, r, detail, tried, now))
		return nil
	})
}

// settleRefund records the refund succeeded, at the provider's time when it said one (so the
// refund falls on the provider's day, as its bill row does).
func (a *App) settleRefund(ctx context.Context, refundID int64, at time.Time) error {
	now := a.now()
	var full bool
	var total money.Fen
	err := a.updateRefund(ctx, refundID, func(p *payment.Payment, r *payment.Refund, ch *Changes) error {
		if err := r.Succeed(at, now); err != nil {
			return err
		}
		if err := p.SettleRefund(r.Amount, now); err != nil {
			return err
		}
		full, total = p.Status == payment.StatusRefunded, p.RefundedFen
		ch.Events = append(ch.Events, a.event(EventRefunded, p, r, r.Reason))
		// The refund task tells the order (user refunds) and ends; run it now whichever door
		// (answer, query, notify) settled the refund.
		ch.Tasks = append(ch.Tasks, Task{Kind: TaskRefund, RefID: r.ID, RunAt: now})
		// An ABNORMAL or slow refund that went through after all needs nobody any more.
		ch.Resolve = &AnomalyResolution{PaymentID: p.ID, RefundID: r.ID, Note: "the provider reports the refund succeeded", At: now}
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

// failRefund ends a refund that will never happen and gives its reservation back. One the
// provider refused (byProvider) is also an anomaly: our ledger said the money could go back.
func (a *App) failRefund(ctx context.Context, refundID int64, reason string, byProvider bool) error {
	now := a.now()
	err := a.updateRefund(ctx, refundID, func(p *payment.Payment, r *payment.Refund, ch *Changes) error {
		if err := r.Fail(reason, now); err != nil {
			return err
		}
		p.ReleaseRefundLines(r.Lines)
		if !byProvider {
			return p.ReleaseRefund(r.Amount, now)
		}
		kind, tried := payment.AnomalyRefundRefused, "refund marked FAILED with the provider's reason; its amount is refundable again"
		if strings.Contains(reason, "CLOSED") {
			kind = payment.AnomalyRefundClosed
		}
		if r.Auto {
			tried += "; the buyer has NOT been paid back: refund again by hand or with a new request"
		}
		ch.Anomalies = append(ch.Anomalies, payment.RefundAnomaly(kind, p, r, reason, tried, now))
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
