package app

import (
	"context"
	"slices"
	"testing"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// paidNotify is the verified statement that the buyer paid fen for PS1.
func paidNotify(fen int64) Notify {
	return Notify{NotifyID: "n1", Trade: Trade{State: TradePaid, OutTradeNo: "PS1", ProviderTradeNo: "T1", Amount: money.Fen(fen), PaidAt: t0}}
}

func TestHandleNotify(t *testing.T) {
	refusedBySignature := &NotifyRefusedError{Reason: "bad signature", OutTradeNo: "PS1", NotifyID: "n1"}
	for _, tc := range []struct {
		name    string
		channel payment.Channel // the endpoint the notify came to
		stored  *payment.Payment
		setup   func(*memStore, *fakeChannel)
		// what the provider is told, what the notify log keeps, where the payment ends
		ok, refused bool
		outcome     string
		verified    bool
		status      payment.Status
		recorded    bool // the success was recorded: its event (and no mark-order-paid task)
	}{
		{name: "a verified success is recorded with its event",
			stored: attempt(payment.StatusWaiting), ok: true, outcome: NotifyAccepted, verified: true,
			status: payment.StatusSucceeded, recorded: true},
		{name: "a success for an attempt we closed is still recorded",
			stored: attempt(payment.StatusClosed), ok: true, outcome: NotifyAccepted, verified: true,
			status: payment.StatusSucceeded, recorded: true},
		{name: "an unconfigured channel is refused",
			channel: payment.ChannelWechatNative, stored: attempt(payment.StatusWaiting),
			refused: true, outcome: NotifyRefused, status: payment.StatusWaiting},
		{name: "a notify that fails verification is refused and kept",
			stored: attempt(payment.StatusWaiting), setup: func(_ *memStore, c *fakeChannel) { c.parseErr = refusedBySignature },
			refused: true, outcome: NotifyRefused, status: payment.StatusWaiting},
		{name: "an unknown out_trade_no is refused",
			stored: nil, refused: true, outcome: NotifyRefused, verified: true},
		{name: "a trade of the other channel is refused",
			stored: func() *payment.Payment {
				p := attempt(payment.StatusWaiting)
				p.Channel = payment.ChannelWechatNative
				return p
			}(),
			refused: true, outcome: NotifyRefused, verified: true, status: payment.StatusWaiting},
		{name: "a verified notify that is no success is acknowledged and ignored",
			stored: attempt(payment.StatusWaiting), setup: func(_ *memStore, c *fakeChannel) { c.notify.State = TradeWaiting },
			ok: true, outcome: NotifyIgnored, verified: true, status: payment.StatusWaiting},
		{name: "a success of another amount is refused and kept",
			stored: attempt(payment.StatusWaiting), setup: func(_ *memStore, c *fakeChannel) { c.notify.Amount = 9899 },
			refused: true, outcome: NotifyRefused, verified: true, status: payment.StatusWaiting},
		{name: "another amount on a paid attempt is still refused",
			stored: attempt(payment.StatusSucceeded), setup: func(_ *memStore, c *fakeChannel) { c.notify.Amount = 1 },
			refused: true, outcome: NotifyRefused, verified: true, status: payment.StatusSucceeded},
		{name: "a success already recorded (by the poller) is a duplicate",
			stored: attempt(payment.StatusSucceeded), ok: true, outcome: NotifyDuplicate, verified: true,
			status: payment.StatusSucceeded},
		{name: "a success recorded by a racing poll after our read is a duplicate",
			stored: attempt(payment.StatusWaiting),
			setup: func(s *memStore, _ *fakeChannel) {
				s.afterLookup = func() { s.setStatus(1, payment.StatusSucceeded) }
			},
			ok: true, outcome: NotifyDuplicate, verified: true, status: payment.StatusSucceeded},
		{name: "a notify id recorded by a racing twin is a duplicate",
			stored: attempt(payment.StatusWaiting),
			setup:  func(s *memStore, _ *fakeChannel) { s.dedupe["ALIPAY_QR:n1"] = true },
			ok:     true, outcome: NotifyDuplicate, verified: true, status: payment.StatusWaiting},
		{name: "a lookup failure is ours: the provider retries",
			stored: attempt(payment.StatusWaiting), setup: func(s *memStore, _ *fakeChannel) { s.failLookup = errStorage },
			outcome: NotifyError, verified: true, status: payment.StatusWaiting},
		{name: "a failed write is ours: the provider retries",
			stored: attempt(payment.StatusWaiting), setup: func(s *memStore, _ *fakeChannel) { s.failMark = errStorage },
			outcome: NotifyError, verified: true, status: payment.StatusWaiting},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore()
			if tc.stored != nil {
				store = newStore(tc.stored)
			}
			alipay := &fakeChannel{notify: paidNotify(9900)}
			if tc.setup != nil {
				tc.setup(store, alipay)
			}
			ch := tc.channel
			if ch == "" {
				ch = payment.ChannelAlipayQR
			}
			a := newTestApp(store, &fakeOrders{}, alipay)

			ans := a.HandleNotify(context.Background(), ch, NotifyMessage{Header: map[string][]string{"Content-Type": {"x"}}, Body: []byte("body")})

			if ans.OK != tc.ok || ans.Refused != tc.refused {
				t.Fatalf("answer %+v, want ok=%v refused=%v", ans, tc.ok, tc.refused)
			}
			rec := store.lastNotify(t)
			if rec.Outcome != tc.outcome || rec.Verified != tc.verified || rec.Body != "body" || rec.Headers != "Content-Type: x\n" {
				t.Fatalf("notify log %+v, want outcome %s verified=%v with the raw message", rec, tc.outcome, tc.verified)
			}
			if (rec.DedupeKey != "") != (tc.outcome == NotifyAccepted) {
				t.Fatalf("dedupe key %q on a %s notify: only the accepted one takes it", rec.DedupeKey, rec.Outcome)
			}
			if tc.outcome == NotifyRefused && rec.RefuseReason == "" {
				t.Fatal("a refused notify is kept without its reason")
			}
			if tc.stored != nil {
				if got := store.payment(1).Status; got != tc.status {
					t.Fatalf("payment is %s, want %s", got, tc.status)
				}
			}
			// The PAYMENT_SUCCEEDED event is the one carrier of "paid" to the order: no
			// mark-order-paid task beside it.
			var wantEvents []EventType
			if tc.recorded {
				wantEvents = []EventType{EventSucceeded}
			}
			if events, tasks := store.eventTypes(), store.tasksOf(TaskMarkOrderPaid, 1); !slices.Equal(events, wantEvents) || tasks != 0 {
				t.Fatalf("events %v and %d mark-order-paid tasks, want %v and none", events, tasks, wantEvents)
			}
		})
	}
}

func TestHandleNotifyKeepsWhatARefusedNotifyNames(t *testing.T) {
	store := newStore(attempt(payment.StatusWaiting))
	alipay := &fakeChannel{parseErr: &NotifyRefusedError{Reason: "app_id x is not ours", OutTradeNo: "PS1", NotifyID: "n9"}}
	newTestApp(store, &fakeOrders{}, alipay).HandleNotify(context.Background(), payment.ChannelAlipayQR, NotifyMessage{})
	if rec := store.lastNotify(t); rec.OutTradeNo != "PS1" || rec.NotifyID != "n9" || rec.RefuseReason != "notify refused: app_id x is not ours" {
		t.Fatalf("notify log %+v", rec)
	}
}
