// Package enrollment holds the course enrolment aggregate: who may study which course, and why.
//
// An Enrollment is unique per (user, course). Each successful payment that bought the course is
// a Grant on it (keyed by payment id, so a redelivered event or a second order changes nothing
// twice). The enrolment is active while at least one grant is unrevoked; a full refund revokes
// only the grant of the refunded payment. So:
//   - buying a course twice keeps one enrolment (the second payment is recorded as a grant);
//   - refunding one of two payments (e.g. the auto-refund of a duplicate payment) keeps access;
//   - refunding the last live grant revokes the enrolment (revoked_at set, row kept);
//   - a new purchase after a revocation re-activates the same enrolment with the new order id
//     and a new enrolled_at (revoked_at cleared);
//   - a refund seen before its success (broker reordering) leaves a revoked grant behind, so the
//     late success does not grant access for money already returned.
package enrollment

import (
	"errors"
	"time"
)

// Typed errors the ports map to status codes.
var (
	ErrEmptyUserID   = errors.New("user id is required")
	ErrEmptyCourseID = errors.New("course id is required")
	ErrNotFound      = errors.New("enrolment not found")
	// ErrNotYours: a customer asked about another user's enrolments.
	ErrNotYours = errors.New("not allowed for this user")
)

// Grant is one payment that bought the course.
type Grant struct {
	PaymentID int64
	OrderID   int64
	GrantedAt time.Time // zero for a grant known only from its refund
	RevokedAt time.Time // zero while the payment stands
}

// Live reports whether the grant gives access.
func (g Grant) Live() bool { return !g.GrantedAt.IsZero() && g.RevokedAt.IsZero() }

// Enrollment is a user's access to one course.
type Enrollment struct {
	ID         int64 // zero until first stored
	UserID     string
	CourseID   string
	Title      string
	OrderID    int64     // the order whose payment currently gives (or last gave) access
	EnrolledAt time.Time // zero while the user never had access
	RevokedAt  time.Time // zero while active
	Grants     []Grant
}

// New returns the empty enrolment of a user for a course, before any payment.
func New(userID, courseID string) (*Enrollment, error) {
	if userID == "" {
		return nil, ErrEmptyUserID
	}
	if courseID == "" {
		return nil, ErrEmptyCourseID
	}
	return &Enrollment{UserID: userID, CourseID: courseID}, nil
}

// Active reports whether the user may study the course now.
func (e *Enrollment) Active() bool { return !e.EnrolledAt.IsZero() && e.RevokedAt.IsZero() }

// Exists reports whether the user ever had access (only then is there an enrolment to show).
func (e *Enrollment) Exists() bool { return !e.EnrolledAt.IsZero() }

// Grant records that payment paymentID of order orderID bought the course at time at.
// It returns false when the payment is already known (redelivery, or refunded before).
func (e *Enrollment) Grant(paymentID, orderID int64, title string, at time.Time) bool {
	for _, g := range e.Grants {
		if g.PaymentID == paymentID {
			return false
		}
	}
	e.Grants = append(e.Grants, Grant{PaymentID: paymentID, OrderID: orderID, GrantedAt: at})
	if title != "" {
		e.Title = title
	}
	if !e.Active() {
		e.OrderID = orderID
		e.EnrolledAt = at
		e.RevokedAt = time.Time{}
	}
	return true
}

// RevokePayment records the full refund of payment paymentID (of order orderID) at time at.
// It returns false when that refund was already applied.
func (e *Enrollment) RevokePayment(paymentID, orderID int64, at time.Time) bool {
	idx := -1
	for i, g := range e.Grants {
		if g.PaymentID == paymentID {
			idx = i
			break
		}
	}
	if idx < 0 {
		// The refund overtook the success: remember it so the success grants nothing.
		e.Grants = append(e.Grants, Grant{PaymentID: paymentID, OrderID: orderID, RevokedAt: at})
		return true
	}
	if !e.Grants[idx].RevokedAt.IsZero() {
		return false
	}
	e.Grants[idx].RevokedAt = at
	if !e.Active() {
		return true
	}
	if next, ok := e.firstLive(); ok {
		e.OrderID = next.OrderID // access continues through another payment
		return true
	}
	e.RevokedAt = at
	return true
}

func (e *Enrollment) firstLive() (Grant, bool) {
	var best Grant
	found := false
	for _, g := range e.Grants {
		if g.Live() && (!found || g.GrantedAt.Before(best.GrantedAt)) {
			best, found = g, true
		}
	}
	return best, found
}
