package app

import (
	"context"
	"errors"
	"testing"

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
			if n := store.tasksOf(TaskMarkOrderPaid, 1); (n == 1) != tc.recorded {
				t.Errorf("%d mark-order-paid tasks, recorded %v", n, tc.recorded)
			}
		})
	}
}
