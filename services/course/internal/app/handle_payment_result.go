package app

import (
	"context"
	"fmt"
	"time"

	"github.com/paysuite/paysuite/services/course/internal/domain/enrollment"
)

// maxIDLen is the size of the user_id and course_id columns.
const maxIDLen = 128

// HandlePaymentResult enrols the buyer of every course in a succeeded payment and revokes what
// a full refund paid back, or the course lines a refund by line gave back. Applying the same event twice changes nothing (grants are keyed by
// payment id), so redelivery is harmless even without the consumer's message-id dedupe.
func (a *App) HandlePaymentResult(ctx context.Context, r PaymentResult) error {
	if err := validate(r); err != nil {
		return err
	}
	at := r.OccurredAt
	if at.IsZero() {
		at = a.now()
	}
	switch r.Type {
	case ResultSucceeded:
		return a.grant(ctx, r, at)
	case ResultRefunded:
		switch {
		case r.FullRefund:
			return a.revoke(ctx, r, at)
		case len(r.RefundedCourses) > 0:
			return a.revokeCourses(ctx, r, r.RefundedCourses, at)
		}
		return nil // an amount-only partial refund (goodwill) leaves the course paid for
	default:
		return nil // CLOSED: no money, nothing was granted
	}
}

func validate(r PaymentResult) error {
	switch {
	case r.EventID == "":
		return fmt.Errorf("%w: no event id", ErrInvalidEvent)
	case r.Type == ResultUnknown:
		return fmt.Errorf("%w: event %s has no type", ErrInvalidEvent, r.EventID)
	case r.UserID == "" || r.OrderID <= 0 || r.PaymentID <= 0:
		return fmt.Errorf("%w: event %s lacks user, order or payment id", ErrInvalidEvent, r.EventID)
	case len(r.UserID) > maxIDLen:
		return fmt.Errorf("%w: event %s: user id longer than %d", ErrInvalidEvent, r.EventID, maxIDLen)
	}
	for _, it := range r.Items {
		if it.Course && (it.SkuID == "" || len(it.SkuID) > maxIDLen) {
			return fmt.Errorf("%w: event %s has a course item with sku id %q", ErrInvalidEvent, r.EventID, it.SkuID)
		}
	}
	return nil
}

func (a *App) grant(ctx context.Context, r PaymentResult, at time.Time) error {
	for _, it := range r.Items {
		if !it.Course {
			continue
		}
		var granted bool
		err := a.enrollments.Update(ctx, r.UserID, it.SkuID, func(e *enrollment.Enrollment) error {
			granted = e.Grant(r.PaymentID, r.OrderID, it.Title, at)
			return nil
		})
		if err != nil {
			return fmt.Errorf("enrol %s in %s for order %d: %w", r.UserID, it.SkuID, r.OrderID, err)
		}
		if granted {
			a.log.InfoContext(ctx, "enrolled", "user_id", r.UserID, "course_id", it.SkuID, "order_id", r.OrderID, "payment_id", r.PaymentID)
		}
	}
	return nil
}

func (a *App) revoke(ctx context.Context, r PaymentResult, at time.Time) error {
	targets, err := a.enrollments.CoursesOfPayment(ctx, r.PaymentID)
	if err != nil {
		return fmt.Errorf("courses of payment %d: %w", r.PaymentID, err)
	}
	// The event's own course lines cover a refund that overtook its success.
	for _, it := range r.Items {
		if it.Course {
			targets = appendUnique(targets, UserCourse{UserID: r.UserID, CourseID: it.SkuID})
		}
	}
	return a.revokeAll(ctx, r, targets, at)
}

// revokeCourses revokes the named courses of the payment's buyer (a refund by order line).
func (a *App) revokeCourses(ctx context.Context, r PaymentResult, courses []string, at time.Time) error {
	var targets []UserCourse
	for _, c := range courses {
		if c == "" || len(c) > maxIDLen {
			return fmt.Errorf("%w: event %s refunds course %q", ErrInvalidEvent, r.EventID, c)
		}
		targets = appendUnique(targets, UserCourse{UserID: r.UserID, CourseID: c})
	}
	return a.revokeAll(ctx, r, targets, at)
}

func (a *App) revokeAll(ctx context.Context, r PaymentResult, targets []UserCourse, at time.Time) error {
	for _, uc := range targets {
		var revoked bool
		err := a.enrollments.Update(ctx, uc.UserID, uc.CourseID, func(e *enrollment.Enrollment) error {
			wasActive := e.Active()
			e.RevokePayment(r.PaymentID, r.OrderID, at)
			revoked = wasActive && !e.Active()
			return nil
		})
		if err != nil {
			return fmt.Errorf("revoke %s in %s for payment %d: %w", uc.UserID, uc.CourseID, r.PaymentID, err)
		}
		if revoked {
			a.log.InfoContext(ctx, "enrolment revoked", "user_id", uc.UserID, "course_id", uc.CourseID, "order_id", r.OrderID, "payment_id", r.PaymentID)
		}
	}
	return nil
}

func appendUnique(list []UserCourse, uc UserCourse) []UserCourse {
	for _, x := range list {
		if x == uc {
			return list
		}
	}
	return append(list, uc)
}
