package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// repair fixes what the rules say a reconciliation fixes, each through the door the rest of
// the service uses: a paid trade through recordPaid (the verified-notify door: a live order
// becomes PAID, a cancelled one's money is refunded automatically), a console refund as a
// refund whose own task tells the order (refundedFen follows; a full refund revokes courses).
// A repair the domain refuses becomes an anomaly; any other failure fails the run (its next
// run finds the same difference and tries again: every door is idempotent).
func (a *App) repair(ctx context.Context, c *comparer) error {
	for _, fix := range c.repairs {
		d := &recon.Discrepancy{Kind: fix.kind, OutTradeNo: fix.row.OutTradeNo, OutRefundNo: fix.row.OutRefundNo}
		if fix.index >= 0 {
			d = &c.found[fix.index]
		}
		var err error
		switch fix.kind {
		case recon.PaidNotRecorded:
			err = a.repairPaid(ctx, fix.row)
		case recon.ConsoleRefund:
			err = a.recordProviderRefund(ctx, fix.paymentID, fix.row)
		case recon.RefundNotSettled:
			err = a.advanceRefund(ctx, fix.refundID)
			var again retryAt
			if errors.As(err, &again) {
				err = nil // the refund's task keeps asking
			}
		}
		switch {
		case errors.Is(err, payment.ErrInvalidInput), errors.Is(err, payment.ErrNotRefundable), errors.Is(err, payment.ErrRefundExceeds),
			errors.Is(err, payment.ErrAmountMismatch), errors.Is(err, payment.ErrNotWaiting):
			d.Action = recon.ActionAnomaly
			d.Detail += "; could not be recorded: " + err.Error()
		case err != nil:
			return fmt.Errorf("repair %s %s %s: %w", d.Kind, d.OutTradeNo, d.OutRefundNo, err)
		}
	}
	return nil
}

// repairPaid records a payment the bill proves, through the one door of every "the buyer paid".
func (a *App) repairPaid(ctx context.Context, r recon.Row) error {
	p, err := a.payments.GetPaymentByOutTradeNo(ctx, r.OutTradeNo)
	if err != nil {
		return err
	}
	_, err = a.recordPaid(ctx, p, Trade{State: TradePaid, OutTradeNo: r.OutTradeNo, ProviderTradeNo: r.ProviderTradeNo,
		Amount: r.Amount, PaidAt: r.At}, "bill", nil)
	return err
}

// billRequestID is the request id of a refund found in a bill: one per out_refund_no, so the
// same bill row can never record a second refund.
func billRequestID(outRefundNo string) string {
	id := "bill:" + outRefundNo
	if len(id) > 64 {
		sum := sha256.Sum256([]byte(outRefundNo))
		id = "bill:" + hex.EncodeToString(sum[:])[:48]
	}
	return id
}

// recordProviderRefund records a refund made outside paysuite as the provider reported it:
// already submitted (only queried from now on), reserved against the payment under its row
// lock, then moved on by the same steps as every refund (order told it begins, provider
// queried, settled, order told it finished).
func (a *App) recordProviderRefund(ctx context.Context, paymentID int64, r recon.Row) error {
	requestID := billRequestID(r.OutRefundNo)
	existing, err := a.refunds.FindRefund(ctx, paymentID, requestID)
	if err == nil {
		return a.nudgeRefund(ctx, existing.ID)
	}
	if !errors.Is(err, payment.ErrNotFound) {
		return err
	}
	now := a.now()
	var id int64
	err = a.payments.UpdatePayment(ctx, paymentID, func(p *payment.Payment, ch *Changes) error {
		id = a.newID()
		ref, err := payment.NewRefund(id, p, r.Amount, payment.ReasonProviderConsole, requestID, r.OutRefundNo, false, now)
		if err != nil {
			return err
		}
		ref.Submitted = true
		if err := p.ReserveRefund(r.Amount, now); err != nil {
			return err
		}
		ch.NewRefund = ref
		ch.Tasks = append(ch.Tasks, Task{Kind: TaskRefund, RefID: id, RunAt: a.nextRefundCheck(now, now)})
		return nil
	})
	if err != nil {
		return err
	}
	a.log.Info("refund made at the provider recorded from its bill", "refund_id", id, "payment_id", paymentID,
		"out_refund_no", r.OutRefundNo, "amount_fen", int64(r.Amount))
	return a.nudgeRefund(ctx, id)
}

// nudgeRefund moves a refund on now; what is left is its durable task's.
func (a *App) nudgeRefund(ctx context.Context, id int64) error {
	err := a.advanceRefund(ctx, id)
	var again retryAt
	if err != nil && !errors.As(err, &again) {
		a.log.Warn("refund will be retried by its task", "refund_id", id, "err", err)
	}
	return nil
}
