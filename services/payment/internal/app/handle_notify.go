package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// NotifyAnswer is what the notify endpoint tells the provider.
type NotifyAnswer struct {
	OK      bool   // true: "received, stop retrying"
	Refused bool   // false with !OK: our failure (5xx), the provider should retry
	Message string // for the provider's FAIL body and our logs
}

// HandleNotify verifies a provider's async notify and, for a verified success that matches our
// trade, records it; every notify is kept in the notify log. The caller answers the provider
// only after this returns, i.e. after the commit.
//
// The accepted notify's log row (raw body, natural key channel:notify_id) stays in the success
// transaction. It need not be there for correctness — written after the commit and before the
// answer, a crash in between would leave the provider unanswered and its retry logged as a
// DUPLICATE — but there it is cheapest: one more row in the group-committed multi-row INSERT,
// where outside it is one more statement and commit (fsync) per batch; cmd/bench measured that
// variant with more statements, commits and fsyncs per notify and a lower rate (README,
// "Verified notifies").
func (a *App) HandleNotify(ctx context.Context, chName payment.Channel, msg NotifyMessage) NotifyAnswer {
	sum := sha256.Sum256(msg.Body)
	rec := NotifyRecord{Channel: chName, Headers: headerText(msg.Header), Body: string(msg.Body),
		BodySHA256: hex.EncodeToString(sum[:]), ReceivedAt: a.now()}
	ch, err := a.channel(chName)
	if err != nil {
		return a.refuseNotify(ctx, rec, err.Error())
	}
	n, err := ch.ParseNotify(msg)
	if err != nil {
		var re *NotifyRefusedError
		if errors.As(err, &re) {
			rec.OutTradeNo, rec.NotifyID = re.OutTradeNo, re.NotifyID
		}
		return a.refuseNotify(ctx, rec, err.Error())
	}
	rec.Verified, rec.OutTradeNo, rec.NotifyID = true, n.OutTradeNo, n.NotifyID
	p, err := a.payments.GetPaymentByOutTradeNo(ctx, n.OutTradeNo)
	if errors.Is(err, payment.ErrNotFound) {
		return a.refuseNotify(ctx, rec, "unknown out_trade_no "+n.OutTradeNo)
	}
	if err != nil {
		return a.failNotify(ctx, rec, err)
	}
	// Every channel of a provider notifies the one endpoint (chName is that endpoint's channel):
	// a trade of another provider's channel is not this notify's.
	if p.Channel.Provider() != chName.Provider() {
		return a.refuseNotify(ctx, rec, fmt.Sprintf("out_trade_no %s belongs to %s", n.OutTradeNo, p.Channel))
	}
	if n.Refund != nil {
		return a.handleRefundNotify(ctx, p, n, rec)
	}
	if !n.State.Paid() {
		rec.Outcome = NotifyIgnored
		a.logNotify(ctx, rec)
		return NotifyAnswer{OK: true, Message: "not a payment success"}
	}
	rec.DedupeKey = string(chName) + ":" + n.NotifyID
	changed, err := a.recordPaid(ctx, p, n.Trade, "notify", &rec)
	switch {
	case errors.Is(err, errMismatchRecorded):
		rec.DedupeKey, rec.Outcome, rec.RefuseReason = "", NotifyMismatch, err.Error()
		a.logNotify(ctx, rec)
		return NotifyAnswer{OK: true, Message: "amount mismatch recorded"}
	case errors.Is(err, payment.ErrAmountMismatch):
		rec.DedupeKey = ""
		return a.refuseNotify(ctx, rec, err.Error())
	case errors.Is(err, ErrDuplicateNotify):
		rec.DedupeKey, rec.Outcome, rec.RefuseReason = "", NotifyDuplicate, "replayed notify id"
		a.logNotify(ctx, rec)
		return NotifyAnswer{OK: true, Message: "duplicate"}
	case err != nil:
		return a.failNotify(ctx, rec, err)
	case !changed:
		rec.DedupeKey, rec.Outcome = "", NotifyDuplicate
		a.logNotify(ctx, rec)
		return NotifyAnswer{OK: true, Message: "already recorded"}
	}
	return NotifyAnswer{OK: true}
}

// recordPaid is the one door for every verified "the buyer paid" (notify, poll, close that found
// the trade paid): the domain's amount check, then the conditional WAITING→SUCCEEDED, the
// PAYMENT_SUCCEEDED outbox row and (for a notify) its log row, in one transaction.
// changed=false when the payment had already succeeded. p is the payment as read before; the
// domain decides the transition, the conditional UPDATE makes it happen at most once whatever
// races with it.
//
// The outbox row is the one durable carrier of "paid" to the order: the order service's
// consumer of the results fanout marks the order paid, or, when it refuses the payment
// (cancelled, paid by another payment, another amount), answers through its own outbox with an
// OrderPaymentRefused that RefundRefusedPayment turns into the automatic refund. No
// mark-order-paid task is written.
func (a *App) recordPaid(ctx context.Context, p *payment.Payment, t Trade, source string, rec *NotifyRecord) (bool, error) {
	now := a.now()
	was := *p
	paid := &was
	err := paid.Succeed(t.ProviderTradeNo, t.Amount, t.PaidAt, now)
	switch {
	case errors.Is(err, payment.ErrAlreadySucceeded):
		return false, nil
	case errors.Is(err, payment.ErrAmountMismatch):
		a.log.Error("provider reports a paid amount that is not our trade's", "payment_id", p.ID,
			"provider_fen", int64(t.Amount), "ours_fen", int64(p.Amount), "via", source)
		return false, a.amountMismatch(ctx, p, t, source, rec != nil)
	case err != nil:
		return false, err
	}
	ch := Changes{
		// The poll task ends by itself when it sees the payment is no longer WAITING.
		Events: []Event{a.event(EventSucceeded, paid, nil, "")},
	}
	if rec != nil {
		rec.Outcome = NotifyAccepted
		ch.Notify = rec
	}
	changed, err := a.payments.MarkSucceeded(ctx, paid, ch)
	if err != nil || !changed {
		return false, err
	}
	if p.Status == payment.StatusClosed {
		a.log.Warn("payment closed by us was paid at the provider; recording it", "payment_id", p.ID, "order_id", p.OrderID)
	}
	a.log.Info("payment succeeded", "payment_id", paid.ID, "order_id", paid.OrderID, "channel", paid.Channel,
		"amount_fen", int64(paid.Amount), "provider_trade_no", paid.ProviderTradeNo, "via", source)
	a.eventsCommitted()
	a.Wake()
	return true, nil
}

// RefusedBodyKept is how much of a refused notify's body the log keeps (with the whole body's
// SHA-256): enough to see what it was, not a place for anyone on the internet to store data.
const RefusedBodyKept = 4 << 10

// RefuseOversizeNotify logs a notify whose body was over the size limit and so was not read
// whole: its first RefusedBodyKept bytes and the SHA-256 of the bytes read (head, which stops
// just past the limit), which the refuse reason says.
func (a *App) RefuseOversizeNotify(ctx context.Context, chName payment.Channel, header map[string][]string, head []byte, limit int) {
	sum := sha256.Sum256(head)
	rec := NotifyRecord{Channel: chName, Headers: headerText(header), Body: string(head),
		BodySHA256: hex.EncodeToString(sum[:]), ReceivedAt: a.now()}
	a.refuseNotify(ctx, rec, fmt.Sprintf("body over %d bytes (hash of its first %d bytes)", limit, len(head)))
}

func (a *App) refuseNotify(ctx context.Context, rec NotifyRecord, reason string) NotifyAnswer {
	rec.Outcome, rec.RefuseReason = NotifyRefused, reason
	if len(rec.Body) > RefusedBodyKept {
		rec.Body = rec.Body[:RefusedBodyKept]
	}
	a.log.Warn("notify refused", "channel", rec.Channel, "out_trade_no", rec.OutTradeNo, "verified", rec.Verified, "reason", reason)
	a.logNotify(ctx, rec)
	return NotifyAnswer{Refused: true, Message: reason}
}

func (a *App) failNotify(ctx context.Context, rec NotifyRecord, err error) NotifyAnswer {
	rec.Outcome, rec.RefuseReason, rec.DedupeKey = NotifyError, err.Error(), ""
	a.log.Error("notify not recorded; the provider will retry", "channel", rec.Channel, "out_trade_no", rec.OutTradeNo, "err", err)
	a.logNotify(ctx, rec)
	return NotifyAnswer{Message: "temporarily unable to record the notify"}
}

func (a *App) logNotify(ctx context.Context, rec NotifyRecord) {
	if err := a.notifies.LogNotify(context.WithoutCancel(ctx), rec); err != nil {
		a.log.Error("notify log write failed", "channel", rec.Channel, "out_trade_no", rec.OutTradeNo, "err", err)
	}
}

func headerText(h map[string][]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range h[k] {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	return b.String()
}
