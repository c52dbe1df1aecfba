package delivery

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestRetryScheduleThenFailedThenResend(t *testing.T) {
	s := DefaultSchedule(1)
	d := New(1, 2, "e1", []byte(`{}`), t0)
	now := t0
	for i := 1; i <= 7; i++ {
		d.Record(Attempt{HTTPStatus: 500, At: now}, s)
		if d.Status != StatusPending || !d.NextAttemptAt.Equal(now.Add(s.Delays[i-1])) {
			t.Fatalf("attempt %d: status %v next %v", i, d.Status, d.NextAttemptAt)
		}
		now = d.NextAttemptAt
	}
	a := d.Record(Attempt{Error: "timeout", At: now}, s)
	if d.Status != StatusFailed || a.N != 8 || !d.NextAttemptAt.IsZero() || d.LastError != "timeout" {
		t.Fatalf("after the last attempt: %+v", d)
	}
	d.Resend(now)
	if d.Status != StatusPending || !d.NextAttemptAt.Equal(now) {
		t.Fatalf("resend: %+v", d)
	}
	d.Record(Attempt{HTTPStatus: 502, At: now}, s)
	if d.Status != StatusPending || !d.NextAttemptAt.Equal(now.Add(15*time.Second)) {
		t.Fatalf("a resend starts a new budget: %+v", d)
	}
	a = d.Record(Attempt{HTTPStatus: 204, At: now}, s)
	if d.Status != StatusDelivered || a.N != 10 || !d.DeliveredAt.Equal(now) {
		t.Fatalf("delivered: %+v", d)
	}
}

func TestScaleCompressesDelays(t *testing.T) {
	s := DefaultSchedule(0.001)
	if got := s.Delay(1); got != 15*time.Millisecond {
		t.Fatalf("Delay(1) = %v", got)
	}
}

func TestAttemptSucceeded(t *testing.T) {
	for _, tt := range []struct {
		a    Attempt
		want bool
	}{
		{Attempt{HTTPStatus: 200}, true},
		{Attempt{HTTPStatus: 299}, true},
		{Attempt{HTTPStatus: 302}, false},
		{Attempt{HTTPStatus: 500}, false},
		{Attempt{Error: "timeout"}, false},
	} {
		if got := tt.a.Succeeded(); got != tt.want {
			t.Errorf("%+v: %v", tt.a, got)
		}
	}
}

func TestNewSubscriptionValidates(t *testing.T) {
	for _, tt := range []struct {
		url, secret string
		allowHTTP   bool
		want        error
	}{
		{"https://shop.example/hooks", "0123456789abcdef", false, nil},
		{"http://127.0.0.1:8080/h", "0123456789abcdef", true, nil},
		{"http://shop.example/hooks", "0123456789abcdef", false, ErrInvalidURL}, // https only outside dev
		{"https://user:pass@shop.example/hooks", "0123456789abcdef", false, ErrInvalidURL},
		{"ftp://shop.example/hooks", "0123456789abcdef", true, ErrInvalidURL},
		{"shop.example/hooks", "0123456789abcdef", true, ErrInvalidURL},
		{"https://", "0123456789abcdef", false, ErrInvalidURL},
		{"", "0123456789abcdef", false, ErrInvalidURL},
		{"https://shop.example/hooks", "short", false, ErrSecretTooShort},
	} {
		_, err := NewSubscription(1, tt.url, tt.secret, "", t0, tt.allowHTTP)
		if !errors.Is(err, tt.want) && !(tt.want == nil && err == nil) {
			t.Errorf("%q %q: err = %v, want %v", tt.url, tt.secret, err, tt.want)
		}
	}
}
