package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// errMismatchRecorded: the provider took another amount than the trade's, and that is now
// recorded (attempt closed AMOUNT_MISMATCH, anomaly, automatic refund): nothing more to do.
var errMismatchRecorded = errors.New("amount mismatch recorded: attempt closed, provider amount refunded")

// amountMismatch handles a verified report that the buyer paid another amount than the trade's.
// A notify's word is checked with a query first; the query's word is acted on: the attempt is
// closed AMOUNT_MISMATCH (polling stops, the order is never paid by it and is cancelled at its
// deadline as usual), an anomaly keeps both amounts for a person, and what the provider took is
// refunded automatically — money is never kept silently. It returns errMismatchRecorded once
// that is recorded, or ErrAmountMismatch when the query does not confirm the notify.
func (a *App) amountMismatch(ctx context.Context, p *payment.Payment, t Trade, source string, fromNotify bool) error {
	if fromNotify {
		ch, err := a.channel(p.Channel)
		if err != nil {
			return err
		}
		q, err := ch.Query(ctx, p.OutTradeNo)
		if err != nil {
			return fmt.Errorf("confirming a notify of %d fen for a %d fen trade: %w", t.Amount, p.Amount, err)
		}
		if !q.State.Paid() || q.Amount == p.Amount {
			detail := fmt.Sprintf("a verified notify says %d fen paid; the query says state %d, %d fen", t.Amount, q.State, q.Amount)
			if err := a.raisePaymentAnomaly(ctx, p, t.Amount, detail, "notify refused; the payment follows the provider's query"); err != nil {
				return err
			}
			if q.State.Paid() {
				if _, err := a.recordPaid(ctx, p, q, "query after a mismatching notify", nil); err != nil {
					return err
				}
			}
			return fmt.Errorf("payment %d: %s: %w", p.ID, detail, payment.ErrAmountMismatch)
		}
		t, source = q, "query after a mismatching notify"
	}
	now := a.now()
	var refundID int64
	err := a.payments.UpdatePayment(ctx, p.ID, func(p *payment.Payment, ch *Changes) error {
		an := payment.Anomaly{
			Kind: payment.AnomalyAmountMismatch, State: payment.AnomalyOpen, PaymentID: p.ID, OrderID: p.OrderID,
			Channel: p.Channel, OutTradeNo: p.OutTradeNo, AmountFen: p.Amount, ProviderAmountFen: t.Amount,
			Detail:    fmt.Sprintf("the provider reports %d fen paid for a %d fen trade (via %s)", t.Amount, p.Amount, source),
			CreatedAt: now, UpdatedAt: now,
		}
		was := p.Status
		err := p.MismatchClose(t.Amount, now)
		if errors.Is(err, payment.ErrAlreadySucceeded) {
			an.Tried = "nothing changed: the provider had reported our amount paid before"
			ch.Anomalies = append(ch.Anomalies, an)
			return nil
		}
		if err != nil {
			return err
		}
		p.ProviderTradeNo = t.ProviderTradeNo
		id := a.newID()
		r, err := payment.NewRefund(id, p, t.Amount, payment.ReasonAmountMismatch, autoRequestID, fmt.Sprintf("RF%d", id), true, now)
		if err != nil {
			return err
		}
		an.Tried = fmt.Sprintf("attempt closed AMOUNT_MISMATCH (the order is not paid by it); automatic refund %d of %d fen", id, t.Amount)
		ch.NewRefund, refundID = r, id
		ch.Tasks = append(ch.Tasks, Task{Kind: TaskRefund, RefID: id, RunAt: now})
		ch.DoneTasks = append(ch.DoneTasks, Task{Kind: TaskPollTrade, RefID: p.ID})
		if was == payment.StatusWaiting {
			ch.Events = append(ch.Events, a.event(EventClosed, p, nil, payment.CloseAmountMismatch))
		}
		ch.Anomalies = append(ch.Anomalies, an)
		return nil
	})
	switch {
	case errors.Is(err, payment.ErrNotWaiting):
		return errMismatchRecorded // recorded already (a notify and a poll both saw it)
	case err != nil:
		return err
	}
	a.log.Error("provider reports another paid amount; attempt closed, anomaly recorded", "payment_id", p.ID,
		"order_id", p.OrderID, "provider_fen", int64(t.Amount), "ours_fen", int64(p.Amount), "via", source, "refund_id", refundID)
	a.eventsCommitted()
	a.Wake()
	return errMismatchRecorded
}

// raisePaymentAnomaly opens (or updates) the AMOUNT_MISMATCH case of a payment without changing it.
func (a *App) raisePaymentAnomaly(ctx context.Context, p *payment.Payment, providerAmount money.Fen, detail, tried string) error {
	now := a.now()
	return a.payments.UpdatePayment(ctx, p.ID, func(p *payment.Payment, ch *Changes) error {
		ch.Anomalies = append(ch.Anomalies, payment.Anomaly{
			Kind: payment.AnomalyAmountMismatch, State: payment.AnomalyOpen, PaymentID: p.ID, OrderID: p.OrderID,
			Channel: p.Channel, OutTradeNo: p.OutTradeNo, AmountFen: p.Amount, ProviderAmountFen: providerAmount,
			Detail: detail, Tried: tried, CreatedAt: now, UpdatedAt: now,
		})
		return nil
	})
}
