package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

const secret = "whsec_0123456789abcdef"

func TestSignMatchesTheDocumentedFormula(t *testing.T) {
	body := []byte(`{"eventId":"e1"}`)
	at := time.Unix(1767225600, 0)
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte("1767225600." + string(body)))
	want := "t=1767225600,v1=" + hex.EncodeToString(h.Sum(nil))
	if got := Sign(secret, body, at); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"eventId":"e1","type":"PAYMENT_SUCCEEDED"}`)
	now := time.Unix(1767225600, 0)
	good := Sign(secret, body, now)
	for _, tt := range []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, good, body, now, nil},
		{"valid within tolerance", secret, good, body, now.Add(4 * time.Minute), nil},
		{"second v1 matches (rotation)", secret, good + ",v1=" + hex.EncodeToString(make([]byte, 32)), body, now, nil},
		{"other secret", "another_secret_0123", good, body, now, ErrSignatureMismatch},
		{"tampered body", secret, good, []byte(`{"eventId":"e2"}`), now, ErrSignatureMismatch},
		{"stale", secret, good, body, now.Add(6 * time.Minute), ErrTimestampExpired},
		{"from the future", secret, good, body, now.Add(-6 * time.Minute), ErrTimestampExpired},
		{"missing", secret, "", body, now, ErrNoSignature},
		{"garbage", secret, "sha256=abc", body, now, ErrMalformedHeader},
		{"no v1", secret, "t=1767225600", body, now, ErrMalformedHeader},
		{"bad hex", secret, "t=1767225600,v1=zz", body, now, ErrMalformedHeader},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, tt.body, 5*time.Minute, tt.now)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
