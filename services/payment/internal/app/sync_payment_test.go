package app

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// SyncPayment asks the provider now and records its answer through polling's doors; it asks
// nothing about a payment that is already final, and acts for operators only.
func TestSyncPayment(t *testing.T) {
	operator := principal.Caller{}
	paid := paidNotify(9900).Trade
	for _, tc := range []struct {
		name     string
		stored   *payment.Payment
		who      principal.Caller
		id       int64
		trade    Trade
		queryErr error
		wantErr  error
		queries  int
		status   payment.Status
		recorded bool // SUCCEEDED event and the mark-order-paid task
	}{
		{name: "a waiting payment the provider says is paid becomes SUCCEEDED and the order follows",
			stored: attempt(payment.StatusWaiting), who: operator, id: 1, trade: paid, queries: 1,
			status: payment.StatusSucceeded, recorded: true},
		{name: "an attempt we closed that the provider says is paid is recorded as polling does",
			stored: attempt(payment.StatusClosed), who: operator, id: 1, trade: paid, queries: 1,
			status: payment.StatusSucceeded, recorded: true},
		{name: "a waiting payment the provider still waits for is unchanged",
			stored: attempt(payment.StatusWaiting), who: operator, id: 1, trade: Trade{State: TradeWaiting, OutTradeNo: "PS1"},
			queries: 1, status: payment.StatusWaiting},
		{name: "a waiting payment the provider closed is closed",
			stored: attempt(payment.StatusWaiting), who: operator, id: 1, trade: Trade{State: TradeClosed, OutTradeNo: "PS1"},
			queries: 1, status: payment.StatusClosed},
		{name: "a succeeded payment is answered as it is, without asking",
			stored: attempt(payment.StatusSucceeded), who: operator, id: 1, trade: paid, status: payment.StatusSucceeded},
		{name: "a refunded payment is answered as it is, without asking",
			stored: attempt(payment.StatusRefunded), who: operator, id: 1, trade: paid, status: payment.StatusRefunded},
		{name: "the provider not answering is Unavailable and changes nothing",
			stored: attempt(payment.StatusWaiting), who: operator, id: 1, queryErr: errors.New("connection refused"),
			wantErr: ErrProviderUnavailable, queries: 1, status: payment.StatusWaiting},
		{name: "an unknown payment is NotFound",
			stored: attempt(payment.StatusWaiting), who: operator, id: 2, wantErr: payment.ErrNotFound, status: payment.StatusWaiting},
		{name: "a missing id is invalid",
			stored: attempt(payment.StatusWaiting), who: operator, id: 0, wantErr: payment.ErrInvalidInput, status: payment.StatusWaiting},
		{name: "merchant staff (an end user) may not sync",
			stored: attempt(payment.StatusWaiting),
			who:    principal.AsUser(principal.Principal{UserID: "staff", Roles: []string{principal.RoleMerchant}}),
			id:     1, trade: paid, wantErr: ErrOperatorOnly, status: payment.StatusWaiting},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(tc.stored)
			alipay := &fakeChannel{trade: tc.trade, tradeErr: tc.queryErr}
			a := newTestApp(store, &fakeOrders{}, alipay)
			got, err := a.SyncPayment(context.Background(), tc.who, tc.id)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && got.Status != tc.status {
				t.Errorf("answered %s, want %s", got.Status, tc.status)
			}
			if st := store.payment(1).Status; st != tc.status {
				t.Errorf("stored %s, want %s", st, tc.status)
			}
			if alipay.queries != tc.queries {
				t.Errorf("%d provider queries, want %d", alipay.queries, tc.queries)
			}
			// The PAYMENT_SUCCEEDED event is what carries "paid" to the order (no task row).
			if events := store.eventTypes(); slices.Contains(events, EventSucceeded) != tc.recorded {
				t.Errorf("events %v, recorded %v", events, tc.recorded)
			}
		})
	}
}

// SyncRefund runs the refund's own steps now: a PROCESSING refund the provider reports done is
// SUCCEEDED, one still processing stays PROCESSING with its money reserved, and a settled
// refund is not asked about again; operators only.
func TestSyncRefund(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  payment.RefundStatus
		who     principal.Caller
		id      int64
		ch      fakeChannel
		wantErr error
		want    payment.RefundStatus
		queries int
	}{
		{name: "a processing refund the provider reports done is SUCCEEDED",
			status: payment.RefundProcessing, who: principal.Caller{}, id: 50,
			ch: fakeChannel{queryState: RefundDone}, want: payment.RefundSucceeded, queries: 1},
		{name: "a refund still processing at the provider stays PROCESSING",
			status: payment.RefundProcessing, who: principal.Caller{}, id: 50,
			ch: fakeChannel{queryState: RefundPending}, want: payment.RefundProcessing, queries: 1},
		{name: "a settled refund is answered as it is, without asking",
			status: payment.RefundSucceeded, who: principal.Caller{}, id: 50,
			ch: fakeChannel{queryState: RefundDone}, want: payment.RefundSucceeded},
		{name: "an unknown refund is NotFound",
			status: payment.RefundProcessing, who: principal.Caller{}, id: 51, wantErr: payment.ErrNotFound, want: payment.RefundProcessing},
		{name: "merchant staff (an end user) may not sync",
			status: payment.RefundProcessing, id: 50, want: payment.RefundProcessing, wantErr: ErrOperatorOnly,
			who: principal.AsUser(principal.Principal{UserID: "staff", Roles: []string{principal.RoleMerchant}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, ch := newStore(attempt(payment.StatusSucceeded)), tc.ch
			a := newTestApp(store, &fakeOrders{}, &ch)
			p := store.payment(1)
			r, err := payment.NewRefund(50, &p, p.Amount, payment.ReasonOrderCancelled, autoRequestID, "RF50", true, t0.Add(-time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			r.Submitted, r.Status = true, tc.status
			if tc.status == payment.RefundProcessing {
				p.RefundingFen = p.Amount
			}
			store.payments[1], store.refunds[50] = p, *r

			got, err := a.SyncRefund(context.Background(), tc.who, tc.id)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && got.Status != tc.want {
				t.Errorf("answered %s, want %s", got.Status, tc.want)
			}
			if st := store.refunds[50].Status; st != tc.want {
				t.Errorf("stored %s, want %s", st, tc.want)
			}
			if ch.refundQueries != tc.queries || ch.refunds != 0 {
				t.Errorf("%d refund queries and %d refund calls, want %d queries", ch.refundQueries, ch.refunds, tc.queries)
			}
		})
	}
}
