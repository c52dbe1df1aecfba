package delivery

import (
	"time"
)

// Status of a delivery.
type Status int

// Delivery statuses (values as in notificationv1.DeliveryStatus).
const (
	StatusPending   Status = 1
	StatusDelivered Status = 2
	StatusFailed    Status = 3
)

// Schedule is the retry schedule, compressed by Scale (WEBHOOK_TIME_SCALE) in tests and demos.
type Schedule struct {
	Delays []time.Duration
	Scale  float64
}

// DefaultSchedule is the published retry schedule (README), scaled: 7 retries, 8 attempts.
func DefaultSchedule(scale float64) Schedule {
	return Schedule{Delays: []time.Duration{
		15 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour,
	}, Scale: scale}
}

// MaxAttempts is the attempt budget: the first try plus one per delay.
func (s Schedule) MaxAttempts() int { return len(s.Delays) + 1 }

// Delay is the wait after the n-th failed attempt of a budget (n from 1).
func (s Schedule) Delay(n int) time.Duration {
	if n < 1 || n > len(s.Delays) {
		return 0
	}
	return time.Duration(float64(s.Delays[n-1]) * s.Scale)
}

// Attempt is one logged POST.
type Attempt struct {
	N          int
	HTTPStatus int // 0 when no response arrived
	Error      string
	Latency    time.Duration
	At         time.Time
}

// Succeeded reports whether the receiver accepted the event (any 2xx).
func (a Attempt) Succeeded() bool { return a.Error == "" && a.HTTPStatus >= 200 && a.HTTPStatus < 300 }

// Delivery is one event to one subscription.
type Delivery struct {
	ID             int64
	SubscriptionID int64
	EventID        string
	Body           []byte // the exact JSON POSTed on every attempt
	Status         Status
	Attempts       int // all attempts ever made
	BudgetStart    int // Attempts when the current budget began (a resend starts a new one)
	NextAttemptAt  time.Time
	DeliveredAt    time.Time
	LastError      string
	CreatedAt      time.Time
	Log            []Attempt
}

// New is a delivery due now.
func New(id, subscriptionID int64, eventID string, body []byte, now time.Time) *Delivery {
	return &Delivery{ID: id, SubscriptionID: subscriptionID, EventID: eventID, Body: body,
		Status: StatusPending, NextAttemptAt: now, CreatedAt: now}
}

// Record logs an attempt and moves the delivery on: DELIVERED on 2xx, else PENDING with the next
// retry time, or FAILED once the budget is spent. A result for a delivery no longer pending
// (resent or finished meanwhile) is logged without changing its state.
func (d *Delivery) Record(a Attempt, s Schedule) Attempt {
	d.Attempts++
	a.N = d.Attempts
	d.Log = append(d.Log, a)
	if d.Status != StatusPending {
		return a
	}
	if a.Succeeded() {
		d.Status = StatusDelivered
		d.DeliveredAt = a.At
		d.NextAttemptAt = time.Time{}
		d.LastError = ""
		return a
	}
	d.LastError = a.Error
	if d.LastError == "" {
		d.LastError = "non-2xx response"
	}
	used := d.Attempts - d.BudgetStart
	if used >= s.MaxAttempts() {
		d.Status = StatusFailed
		d.NextAttemptAt = time.Time{}
		return a
	}
	d.NextAttemptAt = a.At.Add(s.Delay(used))
	return a
}

// Abandon fails a pending delivery without an attempt (its subscription was deleted).
func (d *Delivery) Abandon(reason string) {
	if d.Status != StatusPending {
		return
	}
	d.Status = StatusFailed
	d.LastError = reason
	d.NextAttemptAt = time.Time{}
}

// Resend queues the delivery again now with a fresh attempt budget.
func (d *Delivery) Resend(now time.Time) {
	d.Status = StatusPending
	d.BudgetStart = d.Attempts
	d.NextAttemptAt = now
	d.DeliveredAt = time.Time{}
}
