// Package app holds the course service's use cases; it reaches storage only through the
// interfaces below.
package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/paysuite/paysuite/services/course/internal/domain/enrollment"
)

// ErrInvalidEvent marks a payment result that can never be processed (the consumer parks it).
var ErrInvalidEvent = errors.New("invalid payment result")

// Enrollments stores enrolments. Update loads the (user, course) enrolment locked — or an empty
// one when there is none — runs fn and writes the result, in one transaction (joining the
// caller's, e.g. the consumer's, when ctx carries one).
type Enrollments interface {
	Update(ctx context.Context, userID, courseID string, fn func(e *enrollment.Enrollment) error) error
	// CoursesOfPayment lists the (user, course) pairs a payment granted.
	CoursesOfPayment(ctx context.Context, paymentID int64) ([]UserCourse, error)
	ListByUser(ctx context.Context, userID string, includeRevoked bool) ([]*enrollment.Enrollment, error)
	// Get returns enrollment.ErrNotFound when the user never had the course.
	Get(ctx context.Context, userID, courseID string) (*enrollment.Enrollment, error)
}

// UserCourse names one enrolment.
type UserCourse struct {
	UserID   string
	CourseID string
}

// ResultType is the kind of payment state change.
type ResultType int

// Payment result types (as in paysuite.events.v1.PaymentResultType).
const (
	ResultUnknown ResultType = iota
	ResultSucceeded
	ResultClosed
	ResultRefunded
)

// PaymentResult is the part of paysuite.events.v1.PaymentResult the course service needs.
type PaymentResult struct {
	EventID    string
	Type       ResultType
	OrderID    int64
	PaymentID  int64
	UserID     string
	Items      []Item
	OccurredAt time.Time
	FullRefund bool
	// RefundedCourses are the COURSE lines a refund by order line gave back: revoked even when
	// the refund is partial.
	RefundedCourses []string
}

// Item is one line of the paid order.
type Item struct {
	SkuID  string
	Title  string
	Course bool
}

// App is the course service's use cases.
type App struct {
	enrollments Enrollments
	now         func() time.Time
	log         *slog.Logger
}

// New builds the use cases.
func New(enrollments Enrollments, log *slog.Logger) *App {
	return &App{enrollments: enrollments, now: func() time.Time { return time.Now().UTC() }, log: log}
}
