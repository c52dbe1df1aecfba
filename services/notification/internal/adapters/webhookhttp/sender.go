// Package webhookhttp POSTs signed webhook bodies to merchant endpoints.
package webhookhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/paysuite/paysuite/services/notification/internal/app"
	"github.com/paysuite/paysuite/services/notification/internal/domain/delivery"
	"github.com/paysuite/paysuite/services/notification/webhook"
)

var _ app.Sender = (*Sender)(nil)

// maxErrorLen bounds the error text kept in the attempt log.
const maxErrorLen = 1000

// Sender is an HTTP client for webhooks.
type Sender struct {
	client *http.Client
	now    func() time.Time
}

// NewSender returns a sender whose POSTs time out after timeout. Redirects are not followed: a
// signed body goes only to the registered URL, and a 3xx counts as a failed attempt.
func NewSender(timeout time.Duration) *Sender {
	return &Sender{
		client: &http.Client{
			Timeout:       timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now: time.Now,
	}
}

// Send implements app.Sender.
func (s *Sender) Send(ctx context.Context, url, secret, eventID string, body []byte) delivery.Attempt {
	start := s.now()
	a := delivery.Attempt{At: start.UTC()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		a.Error = truncate(err.Error())
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paysuite-webhook/1")
	req.Header.Set("Paysuite-Event-Id", eventID)
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(secret, body, start))
	resp, err := s.client.Do(req)
	if err != nil {
		a.Latency = time.Since(start)
		a.Error = truncate(err.Error())
		return a
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	a.Latency = time.Since(start)
	a.HTTPStatus = resp.StatusCode
	if !a.Succeeded() {
		a.Error = "HTTP " + resp.Status
	}
	return a
}

func truncate(s string) string {
	if len(s) > maxErrorLen {
		return s[:maxErrorLen]
	}
	return s
}
