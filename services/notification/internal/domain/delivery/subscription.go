// Package delivery holds merchant webhooks: subscriptions, and the delivery of each payment
// result to each subscription with a durable retry schedule.
package delivery

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Typed errors the ports map to status codes.
var (
	ErrInvalidURL           = errors.New("webhook url must be an absolute https URL (http only in dev)")
	ErrSecretTooShort       = errors.New("webhook secret must be at least 16 characters")
	ErrTooLong              = errors.New("value too long")
	ErrInvalidID            = errors.New("id must be positive")
	ErrSubscriptionNotFound = errors.New("webhook subscription not found")
	ErrSubscriptionDeleted  = errors.New("webhook subscription was deleted")
	ErrDeliveryNotFound     = errors.New("webhook delivery not found")
)

// Limits of a subscription's fields (the columns' sizes).
const (
	MinSecretLen      = 16
	MaxSecretLen      = 256
	MaxURLLen         = 2048
	MaxDescriptionLen = 255
)

// Subscription is a merchant endpoint that receives every payment result.
type Subscription struct {
	ID          int64
	URL         string
	Secret      string // HMAC key; never shown again after creation
	Description string
	CreatedAt   time.Time
	DeletedAt   time.Time // zero while active; deliveries stay listed after deletion
}

// NewSubscription validates and builds a subscription. Its URL must be https unless allowHTTP
// (dev and tests): a signed payment event is nobody else's business on the way.
func NewSubscription(id int64, rawURL, secret, description string, now time.Time, allowHTTP bool) (*Subscription, error) {
	if len(rawURL) > MaxURLLen {
		return nil, fmt.Errorf("%w: url longer than %d", ErrTooLong, MaxURLLen)
	}
	u, err := url.Parse(rawURL)
	if err != nil || !(u.Scheme == "https" || u.Scheme == "http" && allowHTTP) || u.Host == "" || u.Hostname() == "" || u.User != nil {
		return nil, fmt.Errorf("%w: %q", ErrInvalidURL, rawURL)
	}
	if len(secret) < MinSecretLen {
		return nil, ErrSecretTooShort
	}
	if len(secret) > MaxSecretLen {
		return nil, fmt.Errorf("%w: secret longer than %d", ErrTooLong, MaxSecretLen)
	}
	if len(description) > MaxDescriptionLen {
		return nil, fmt.Errorf("%w: description longer than %d", ErrTooLong, MaxDescriptionLen)
	}
	return &Subscription{ID: id, URL: u.String(), Secret: secret, Description: description, CreatedAt: now}, nil
}

// Active reports whether new events are delivered to it.
func (s *Subscription) Active() bool { return s.DeletedAt.IsZero() }
