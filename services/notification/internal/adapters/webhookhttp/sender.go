// Package webhookhttp POSTs signed webhook bodies to merchant endpoints.
package webhookhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/url"
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
	client       *http.Client
	allowPrivate bool
	now          func() time.Time
}

// Options configure a Sender.
type Options struct {
	Timeout time.Duration // per POST
	// AllowPrivate (WEBHOOK_ALLOW_PRIVATE, dev and tests) lets webhooks reach loopback, private
	// and link-local addresses, and plain http. Off, a merchant's URL cannot be pointed at
	// anything inside our network.
	AllowPrivate bool
	// RootCAs are the certificate authorities trusted for https endpoints; nil: the system's.
	RootCAs *x509.CertPool
	// DialExempt are exact "ip:port" addresses the guard lets through anyway: tests only, for an
	// endpoint that must be reachable on loopback while the guard is on. Never from the environment.
	DialExempt []string
}

// NewSender returns a sender. Redirects are not followed: a signed body goes only to the
// registered URL, and a 3xx is a failed attempt. No proxy is used: a proxy would dial for us
// and the address guard would never see the address.
func NewSender(o Options) *Sender {
	dialer := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		exempt := map[string]bool{}
		for _, a := range o.DialExempt {
			exempt[a] = true
		}
		dialer.Control = controlFor(exempt)
	}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: o.Timeout,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &Sender{
		client: &http.Client{
			Timeout:   o.Timeout,
			Transport: transport,
			CheckRedirect: func(req *http.Request, _ []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		allowPrivate: o.AllowPrivate,
		now:          time.Now,
	}
}

// Send implements app.Sender.
func (s *Sender) Send(ctx context.Context, rawURL, secret, eventID string, body []byte) delivery.Attempt {
	start := s.now()
	a := delivery.Attempt{At: start.UTC()}
	if u, err := url.Parse(rawURL); err != nil || u.Scheme != "https" && !(u.Scheme == "http" && s.allowPrivate) {
		a.Error = "webhook refused: only https URLs are called (plain http only with WEBHOOK_ALLOW_PRIVATE=true)"
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
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
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		a.Error = truncate("HTTP " + resp.Status + ": redirects are not followed (to " + resp.Header.Get("Location") + ")")
	case !a.Succeeded():
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
