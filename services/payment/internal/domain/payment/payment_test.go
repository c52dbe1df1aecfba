package payment

import (
	"errors"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func waiting(t *testing.T) *Payment {
	t.Helper()
	p, err := New(1, 10, "u1", ChannelAlipayQR, "P1", 1000, t0.Add(25*time.Minute), t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func withStatus(t *testing.T, s Status) *Payment {
	p := waiting(t)
	p.Status = s
	return p
}

func TestNewRefusesBadInput(t *testing.T) {
	tests := []struct {
		name    string
		orderID int64
		ch      Channel
		amount  money.Fen
		want    error
	}{
		{"no order", 0, ChannelAlipayQR, 100, ErrMissingOrderID},
		{"bad channel", 1, "CASH", 100, ErrInvalidChannel},
		{"zero amount", 1, ChannelWechatNative, 0, ErrOrderNotPayable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(1, tt.orderID, "u", tt.ch, "X", tt.amount, t0, t0, nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSucceed(t *testing.T) {
	tests := []struct {
		from Status
		want error
	}{
		{StatusWaiting, nil},
		{StatusSucceeded, ErrAlreadySucceeded},
		{StatusRefunded, ErrAlreadySucceeded},
		{StatusClosed, nil}, // paid at the provider after a close we believed: keep the truth, refund later
	}
	for _, tt := range tests {
		t.Run(string(tt.from), func(t *testing.T) {
			p := withStatus(t, tt.from)
			err := p.Succeed("T1", p.Amount, t0.Add(time.Minute), t0.Add(2*time.Minute))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				if p.Status != tt.from || p.ProviderTradeNo != "" {
					t.Fatalf("a refused transition changed the payment: %+v", p)
				}
				return
			}
			if p.Status != StatusSucceeded || p.ProviderTradeNo != "T1" || !p.PaidAt.Equal(t0.Add(time.Minute)) {
				t.Fatalf("after Succeed: %+v", p)
			}
			if p.LiveKey() != "" {
				t.Fatalf("a paid attempt keeps its live key %q", p.LiveKey())
			}
		})
	}
}

func TestSucceedRefusesAnotherAmountInEveryState(t *testing.T) {
	for _, from := range []Status{StatusWaiting, StatusClosed, StatusSucceeded, StatusRefunded} {
		t.Run(string(from), func(t *testing.T) {
			p := withStatus(t, from)
			for _, amount := range []money.Fen{p.Amount - 1, p.Amount + 1, 0} {
				if err := p.Succeed("T1", amount, t0, t0); !errors.Is(err, ErrAmountMismatch) {
					t.Fatalf("%d fen on a %d fen trade: err = %v, want ErrAmountMismatch", amount, p.Amount, err)
				}
			}
			if p.Status != from || p.ProviderTradeNo != "" || !p.PaidAt.IsZero() {
				t.Fatalf("a refused success changed the payment: %+v", p)
			}
		})
	}
}

func TestClose(t *testing.T) {
	tests := []struct {
		from Status
		want error
	}{
		{StatusWaiting, nil},
		{StatusSucceeded, ErrAlreadySucceeded},
		{StatusRefunded, ErrAlreadySucceeded},
		{StatusClosed, ErrNotWaiting},
	}
	for _, tt := range tests {
		t.Run(string(tt.from), func(t *testing.T) {
			p := withStatus(t, tt.from)
			err := p.Close(CloseExpired, t0)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && (p.Status != StatusClosed || p.CloseReason != CloseExpired) {
				t.Fatalf("after Close: %+v", p)
			}
			if tt.want != nil && p.Status != tt.from {
				t.Fatalf("refused Close changed status to %s", p.Status)
			}
		})
	}
}

func TestRefundsNeverExceedWhatWasPaid(t *testing.T) {
	p := withStatus(t, StatusSucceeded) // 1000 fen
	steps := []struct {
		name   string
		do     func() error
		want   error
		status Status
		ref    money.Fen
		inf    money.Fen
	}{
		{"zero", func() error { return p.ReserveRefund(0, t0) }, ErrRefundAmount, StatusSucceeded, 0, 0},
		{"reserve 300", func() error { return p.ReserveRefund(300, t0) }, nil, StatusSucceeded, 0, 300},
		{"over while in flight", func() error { return p.ReserveRefund(701, t0) }, ErrRefundExceeds, StatusSucceeded, 0, 300},
		{"settle 300", func() error { return p.SettleRefund(300, t0) }, nil, StatusSucceeded, 300, 0},
		{"reserve 200", func() error { return p.ReserveRefund(200, t0) }, nil, StatusSucceeded, 300, 200},
		{"release 200", func() error { return p.ReleaseRefund(200, t0) }, nil, StatusSucceeded, 300, 0},
		{"release more than reserved", func() error { return p.ReleaseRefund(1, t0) }, ErrRefundAmount, StatusSucceeded, 300, 0},
		{"over", func() error { return p.ReserveRefund(701, t0) }, ErrRefundExceeds, StatusSucceeded, 300, 0},
		{"rest", func() error { return p.ReserveRefund(700, t0) }, nil, StatusSucceeded, 300, 700},
		{"settle rest", func() error { return p.SettleRefund(700, t0) }, nil, StatusRefunded, 1000, 0},
		{"after full", func() error { return p.ReserveRefund(1, t0) }, ErrNotRefundable, StatusRefunded, 1000, 0},
	}
	for _, s := range steps {
		err := s.do()
		if !errors.Is(err, s.want) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.want)
		}
		if p.Status != s.status || p.RefundedFen != s.ref || p.RefundingFen != s.inf {
			t.Fatalf("%s: status %s refunded %d in flight %d; want %s %d %d", s.name, p.Status, p.RefundedFen, p.RefundingFen, s.status, s.ref, s.inf)
		}
	}
}

func TestRefundOnlyFromSucceeded(t *testing.T) {
	for _, s := range []Status{StatusWaiting, StatusClosed, StatusRefunded} {
		if err := withStatus(t, s).ReserveRefund(1, t0); !errors.Is(err, ErrNotRefundable) {
			t.Errorf("%s: err = %v, want ErrNotRefundable", s, err)
		}
	}
}

func TestRefundTransitions(t *testing.T) {
	p := withStatus(t, StatusSucceeded)
	tests := []struct {
		name string
		from RefundStatus
		do   func(r *Refund) error
		want error
		to   RefundStatus
	}{
		{"succeed processing", RefundProcessing, func(r *Refund) error { return r.Succeed(time.Time{}, t0) }, nil, RefundSucceeded},
		{"fail processing", RefundProcessing, func(r *Refund) error { return r.Fail("x", t0) }, nil, RefundFailed},
		{"succeed twice", RefundSucceeded, func(r *Refund) error { return r.Succeed(time.Time{}, t0) }, ErrRefundSettled, RefundSucceeded},
		{"fail succeeded", RefundSucceeded, func(r *Refund) error { return r.Fail("x", t0) }, ErrRefundSettled, RefundSucceeded},
		{"succeed failed", RefundFailed, func(r *Refund) error { return r.Succeed(time.Time{}, t0) }, ErrRefundSettled, RefundFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRefund(5, p, 100, "", "req", "R5", false, t0)
			if err != nil {
				t.Fatal(err)
			}
			r.Status = tt.from
			if err := tt.do(r); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if r.Status != tt.to {
				t.Fatalf("status %s, want %s", r.Status, tt.to)
			}
		})
	}
}

func TestNewRefundValidates(t *testing.T) {
	p := withStatus(t, StatusSucceeded)
	long := string(make([]byte, 65))
	tests := []struct {
		name   string
		amount money.Fen
		req    string
		want   error
	}{
		{"negative", -1, "r", ErrRefundAmount},
		{"no request id", 1, "", ErrMissingRequestID},
		{"long request id", 1, long, ErrMissingRequestID},
	}
	for _, tt := range tests {
		if _, err := NewRefund(1, p, tt.amount, "", tt.req, "R", false, t0); !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: err = %v, want %v (invalid input)", tt.name, err, tt.want)
		}
	}
	r, _ := NewRefund(1, p, 1, "", "r", "R", false, t0)
	if r.Reason != ReasonUserRequest {
		t.Errorf("default reason %q", r.Reason)
	}
}

func TestTradeExpiry(t *testing.T) {
	tests := []struct {
		name     string
		timeout  time.Duration
		deadline time.Time
		want     time.Time
		err      error
	}{
		{"provider timeout first", 25 * time.Minute, t0.Add(30 * time.Minute), t0.Add(25 * time.Minute), nil},
		{"deadline minus a minute", 25 * time.Minute, t0.Add(20 * time.Minute), t0.Add(19 * time.Minute), nil},
		{"short test timeout: 10%", time.Hour, t0.Add(20 * time.Second), t0.Add(18 * time.Second), nil},
		{"no deadline", 25 * time.Minute, time.Time{}, t0.Add(25 * time.Minute), nil},
		{"deadline passed", 25 * time.Minute, t0.Add(-time.Second), time.Time{}, ErrOrderExpiring},
		{"too close", 25 * time.Minute, t0.Add(time.Second), time.Time{}, ErrOrderExpiring},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TradeExpiry(t0, tt.timeout, tt.deadline)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("expiry %s, want %s", got, tt.want)
			}
		})
	}
}
