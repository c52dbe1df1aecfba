package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// A refund is never silently final: each provider answer leads to exactly one of settled,
// failed-with-an-anomaly, or "ask again on the refund schedule" with the money still reserved.
func TestRefundProviderAnswers(t *testing.T) {
	errTimeout := errors.New("i/o timeout")
	for _, tc := range []struct {
		name      string
		submitted bool          // already accepted by the provider: the next step is a query
		age       time.Duration // how old the refund is when this step runs
		ch        fakeChannel
		want      payment.RefundStatus
		reserved  bool                // its amount is still held against the payment
		again     bool                // asked again later (a retryAt from the schedule)
		anomaly   payment.AnomalyKind // "" for none
		submitOK  bool                // afterwards Submitted
		at        time.Time           // a SUCCEEDED refund's succeededAt (zero: t0, our clock)
	}{
		{name: "balance too low (NOT_ENOUGH): same number later, money stays reserved",
			ch:   fakeChannel{refundState: RefundRetryLater, refundErr: errors.New("403 NOT_ENOUGH")},
			want: payment.RefundProcessing, reserved: true, again: true},
		{name: "frequency limited: same number later",
			ch:   fakeChannel{refundState: RefundRetryLater, refundErr: errors.New("429 FREQUENCY_LIMITED")},
			want: payment.RefundProcessing, reserved: true, again: true},
		{name: "timeout on submit: outcome unknown, submitted again later",
			ch:   fakeChannel{refundState: RefundPending, refundErr: errTimeout},
			want: payment.RefundProcessing, reserved: true, again: true},
		{name: "accepted, still processing: queried later",
			ch: fakeChannel{refundState: RefundPending}, want: payment.RefundProcessing, reserved: true, again: true, submitOK: true},
		{name: "refused for good: FAILED with the provider's reason, and an anomaly",
			ch:   fakeChannel{refundState: RefundRejected, refundErr: errors.New("ACQ.TRADE_NOT_ALLOW_REFUND")},
			want: payment.RefundFailed, anomaly: payment.AnomalyRefundRefused},
		{name: "closed at the provider: FAILED, REFUND_CLOSED anomaly",
			submitted: true, ch: fakeChannel{queryState: RefundRejected, queryErr: errors.New("status CLOSED")},
			want: payment.RefundFailed, anomaly: payment.AnomalyRefundClosed, submitOK: true},
		{name: "ABNORMAL: stays PROCESSING with the money reserved, an anomaly, still watched",
			ch: fakeChannel{refundState: RefundAbnormal}, want: payment.RefundProcessing, reserved: true, again: true,
			anomaly: payment.AnomalyRefundAbnormal, submitOK: true},
		{name: "the provider forgot the refund: submitted again later",
			submitted: true, ch: fakeChannel{queryState: RefundUnknown}, want: payment.RefundProcessing, reserved: true, again: true},
		{name: "still processing after two days: REFUND_STUCK, still watched",
			submitted: true, age: RefundStuckAfter + time.Minute, ch: fakeChannel{queryState: RefundPending},
			want: payment.RefundProcessing, reserved: true, again: true, anomaly: payment.AnomalyRefundStuck, submitOK: true},
		{name: "query says done: SUCCEEDED",
			submitted: true, ch: fakeChannel{queryState: RefundDone}, want: payment.RefundSucceeded, submitOK: true},
		{name: "query says done at its own time: SUCCEEDED then (the provider's day, as its bill)",
			submitted: true, ch: fakeChannel{queryState: RefundDone, settledAt: t0.Add(-90 * time.Second)}, want: payment.RefundSucceeded,
			submitOK: true, at: t0.Add(-90 * time.Second)},
		{name: "submit answers done at its own time (Alipay fund_change Y)",
			ch: fakeChannel{refundState: RefundDone, settledAt: t0.Add(-time.Second)}, want: payment.RefundSucceeded,
			submitOK: true, at: t0.Add(-time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, ch := newStore(attempt(payment.StatusSucceeded)), tc.ch
			a := newTestApp(store, &fakeOrders{}, &ch)
			created := t0.Add(-tc.age)
			p := store.payment(1)
			r, err := payment.NewRefund(50, &p, p.Amount, payment.ReasonOrderCancelled, autoRequestID, "RF50", true, created)
			if err != nil {
				t.Fatal(err)
			}
			r.Submitted = tc.submitted
			p.RefundingFen = p.Amount
			store.payments[1], store.refunds[50] = p, *r

			err = a.advanceRefund(context.Background(), 50)
			var again retryAt
			if gotAgain := errors.As(err, &again); gotAgain != tc.again || (!gotAgain && err != nil) {
				t.Fatalf("advanceRefund = %v, want asked again: %v", err, tc.again)
			}
			if tc.again && !again.at.After(t0) {
				t.Fatalf("asked again at %s: not later than now (%s), a tight loop", again.at, t0)
			}
			got, pay := store.refunds[50], store.payment(1)
			if got.Status != tc.want {
				t.Fatalf("refund %s, want %s", got.Status, tc.want)
			}
			if held := pay.RefundingFen == pay.Amount; held != tc.reserved {
				t.Fatalf("reserved %d of %d, want held: %v", pay.RefundingFen, pay.Amount, tc.reserved)
			}
			if got.Submitted != tc.submitOK {
				t.Fatalf("submitted = %v, want %v", got.Submitted, tc.submitOK)
			}
			if want := tc.at; got.Status == payment.RefundSucceeded {
				if want.IsZero() {
					want = t0
				}
				if !got.SucceededAt.Equal(want) {
					t.Fatalf("succeededAt %s, want %s", got.SucceededAt, want)
				}
			}
			if got.Status == payment.RefundFailed && got.FailReason == "" {
				t.Fatal("a failed refund without the provider's reason")
			}
			states := store.anomalyStates()
			if tc.anomaly == "" && len(states) > 0 {
				t.Fatalf("anomalies %v, want none", states)
			}
			if tc.anomaly != "" && (len(states) != 1 || states[tc.anomaly] != payment.AnomalyOpen) {
				t.Fatalf("anomalies %v, want one open %s", states, tc.anomaly)
			}
		})
	}
}

// An ABNORMAL refund that a person sorted out at the provider later settles, and its anomaly
// is resolved by that, not left open.
func TestAbnormalRefundThatGoesThroughResolvesItsAnomaly(t *testing.T) {
	store, ch := newStore(attempt(payment.StatusSucceeded)), fakeChannel{refundState: RefundAbnormal}
	a := newTestApp(store, &fakeOrders{}, &ch)
	if err := a.autoRefund(context.Background(), 1, payment.ReasonOrderCancelled); err != nil {
		t.Fatal(err)
	}
	id := store.refundsOf(1)[0].ID
	_ = a.advanceRefund(context.Background(), id)
	if got := store.anomalyStates()[payment.AnomalyRefundAbnormal]; got != payment.AnomalyOpen {
		t.Fatalf("after ABNORMAL: anomaly %q, want OPEN", got)
	}
	ch.queryState = RefundDone
	if err := a.advanceRefund(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if got := store.anomalyStates()[payment.AnomalyRefundAbnormal]; got != payment.AnomalyResolved {
		t.Fatalf("after SUCCESS: anomaly %q, want RESOLVED", got)
	}
	if p := store.payment(1); p.Status != payment.StatusRefunded || p.RefundingFen != 0 {
		t.Fatalf("payment after the refund went through: %+v", p)
	}
}

// The refund schedule: WeChat's spacing first (1, 5, 10, 20, 30 minutes apart), then hours,
// then once a day; it depends only on the refund's age, and always lies ahead.
func TestRefundScheduleIsSpacedAndAhead(t *testing.T) {
	a := newTestApp(newStore(), &fakeOrders{}, &fakeChannel{})
	created := t0
	want := []time.Duration{time.Minute, 6 * time.Minute, 16 * time.Minute, 36 * time.Minute, 66 * time.Minute, 2 * time.Hour}
	now := created
	for i, w := range want {
		next := a.nextRefundCheck(created, now)
		if got := next.Sub(created); got != w {
			t.Fatalf("check %d at +%s, want +%s", i+1, got, w)
		}
		now = next
	}
	late := created.Add(10 * 24 * time.Hour).Add(time.Hour)
	next := a.nextRefundCheck(created, late)
	if d := next.Sub(late); d <= 0 || d > 24*time.Hour {
		t.Fatalf("ten days on, the next check is %s away, want within a day", d)
	}
	a.cfg.PollScale = 0.001
	if got := a.nextRefundCheck(created, created).Sub(created); got != 60*time.Millisecond {
		t.Fatalf("scaled first check at +%s, want +60ms", got)
	}
}
