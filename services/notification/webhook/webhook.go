// Package webhook signs paysuite's merchant webhooks and lets receivers verify them.
//
// Every POST carries the header
//
//	Paysuite-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// A receiver verifies it over the raw request body, before parsing it:
//
//	body, _ := io.ReadAll(r.Body)
//	err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, 5*time.Minute, time.Now())
//
// The tolerance bounds how old (or how far in the future) t may be, so a captured request cannot
// be replayed later; the body is delivered at least once, so receivers also dedupe by its eventId.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the HTTP header that carries the signature.
const SignatureHeader = "Paysuite-Signature"

// DefaultTolerance is used when Verify is given a tolerance ≤ 0.
const DefaultTolerance = 5 * time.Minute

// Verification failures.
var (
	ErrNoSignature       = errors.New("webhook: no Paysuite-Signature header")
	ErrMalformedHeader   = errors.New("webhook: malformed Paysuite-Signature header")
	ErrTimestampExpired  = errors.New("webhook: timestamp outside the tolerance window")
	ErrSignatureMismatch = errors.New("webhook: signature does not match")
)

// Sign returns the Paysuite-Signature header value for body sent at time t.
func Sign(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// Verify checks header against body: the timestamp must be within tolerance of now and one of
// its v1 signatures must be the HMAC-SHA256 of "<t>.<body>" under secret. It returns nil or one
// of the errors above (wrapped).
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if strings.TrimSpace(header) == "" {
		return ErrNoSignature
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: %q", ErrMalformedHeader, part)
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil {
				return fmt.Errorf("%w: v1 is not hex", ErrMalformedHeader)
			}
			sigs = append(sigs, sig)
		}
		// Other schemes are ignored, so a future v2 can be added beside v1.
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix>,v1=<hex>", ErrMalformedHeader)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed %v ago, tolerance %v", ErrTimestampExpired, age.Round(time.Second), tolerance)
	}
	want := mac(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}
