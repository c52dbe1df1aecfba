package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/services/course/internal/domain/enrollment"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// memEnrollments implements Enrollments in a map, copying enrolments in and out.
type memEnrollments struct {
	rows    map[UserCourse]enrollment.Enrollment
	fail    error // every call fails
	updates int   // Update calls that wrote
}

func (m *memEnrollments) Update(_ context.Context, userID, courseID string, fn func(*enrollment.Enrollment) error) error {
	if m.fail != nil {
		return m.fail
	}
	key := UserCourse{userID, courseID}
	e, ok := m.rows[key]
	if !ok {
		fresh, err := enrollment.New(userID, courseID)
		if err != nil {
			return err
		}
		e = *fresh
	}
	e.Grants = slices.Clone(e.Grants)
	if err := fn(&e); err != nil {
		return err
	}
	m.rows[key] = e
	m.updates++
	return nil
}

func (m *memEnrollments) CoursesOfPayment(_ context.Context, paymentID int64) ([]UserCourse, error) {
	if m.fail != nil {
		return nil, m.fail
	}
	var out []UserCourse
	for key, e := range m.rows {
		if slices.ContainsFunc(e.Grants, func(g enrollment.Grant) bool { return g.PaymentID == paymentID }) {
			out = append(out, key)
		}
	}
	return out, nil
}

func (m *memEnrollments) ListByUser(context.Context, string, bool) ([]*enrollment.Enrollment, error) {
	return nil, nil
}

func (m *memEnrollments) Get(_ context.Context, userID, courseID string) (*enrollment.Enrollment, error) {
	e, ok := m.rows[UserCourse{userID, courseID}]
	if !ok {
		return nil, enrollment.ErrNotFound
	}
	return &e, nil
}

// result is the payment result of event id about payment 5 of order 10 by u1, buying the Go
// course and a mug.
func result(id string, typ ResultType, full bool) PaymentResult {
	return PaymentResult{EventID: id, Type: typ, OrderID: 10, PaymentID: 5, UserID: "u1", FullRefund: full, OccurredAt: t0,
		Items: []Item{{SkuID: "go", Title: "Go", Course: true}, {SkuID: "mug", Title: "Mug"}}}
}

func TestHandlePaymentResult(t *testing.T) {
	broken := func(change func(*PaymentResult)) PaymentResult {
		r := result("e1", ResultSucceeded, false)
		change(&r)
		return r
	}
	for _, tc := range []struct {
		name    string
		before  []PaymentResult // handled first
		r       PaymentResult
		fail    error
		wantErr error
		active  bool // u1 may study Go afterwards
		known   bool // u1 has a Go enrolment (active or revoked)
		grants  int  // payments recorded on it
	}{
		{name: "a success enrols the buyer in its courses only",
			r: result("e1", ResultSucceeded, false), active: true, known: true, grants: 1},
		{name: "the same success again changes nothing",
			before: []PaymentResult{result("e1", ResultSucceeded, false)}, r: result("e1", ResultSucceeded, false),
			active: true, known: true, grants: 1},
		{name: "a closed payment grants nothing",
			r: result("e1", ResultClosed, false)},
		{name: "a partial refund keeps the course",
			before: []PaymentResult{result("e1", ResultSucceeded, false)}, r: result("e2", ResultRefunded, false),
			active: true, known: true, grants: 1},
		{name: "a partial refund of the course line revokes the course",
			before: []PaymentResult{result("e1", ResultSucceeded, false)},
			r: func() PaymentResult {
				r := result("e2", ResultRefunded, false)
				r.RefundedCourses = []string{"go"}
				return r
			}(),
			known: true, grants: 1},
		{name: "a full refund revokes the course",
			before: []PaymentResult{result("e1", ResultSucceeded, false)}, r: result("e2", ResultRefunded, true),
			known: true, grants: 1},
		{name: "a full refund that overtook its success: the late success grants nothing",
			before: []PaymentResult{result("e2", ResultRefunded, true)}, r: result("e1", ResultSucceeded, false),
			grants: 1},
		{name: "no event id is parked", r: broken(func(r *PaymentResult) { r.EventID = "" }), wantErr: ErrInvalidEvent},
		{name: "no type is parked", r: broken(func(r *PaymentResult) { r.Type = ResultUnknown }), wantErr: ErrInvalidEvent},
		{name: "no user is parked", r: broken(func(r *PaymentResult) { r.UserID = "" }), wantErr: ErrInvalidEvent},
		{name: "no payment id is parked", r: broken(func(r *PaymentResult) { r.PaymentID = 0 }), wantErr: ErrInvalidEvent},
		{name: "a user id longer than the column is parked",
			r: broken(func(r *PaymentResult) { r.UserID = strings.Repeat("u", maxIDLen+1) }), wantErr: ErrInvalidEvent},
		{name: "a course without a sku id is parked",
			r: broken(func(r *PaymentResult) { r.Items[0].SkuID = "" }), wantErr: ErrInvalidEvent},
		{name: "a storage failure is returned for a retry",
			r: result("e1", ResultSucceeded, false), fail: errStorage, wantErr: errStorage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &memEnrollments{rows: map[UserCourse]enrollment.Enrollment{}}
			a := New(store, slog.New(slog.NewTextHandler(io.Discard, nil)))
			a.now = func() time.Time { return t0 }
			ctx := context.Background()
			for _, r := range tc.before {
				if err := a.HandlePaymentResult(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			store.fail, store.updates = tc.fail, 0

			err := a.HandlePaymentResult(ctx, tc.r)

			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			store.fail = nil
			e, gerr := store.Get(ctx, "u1", "go")
			if known := gerr == nil && e.Exists(); known != tc.known || (known && e.Active() != tc.active) {
				t.Fatalf("enrolment %+v (%v): want known=%v active=%v", e, gerr, tc.known, tc.active)
			}
			if _, err := store.Get(ctx, "u1", "mug"); !errors.Is(err, enrollment.ErrNotFound) {
				t.Fatal("goods became an enrolment")
			}
			if e != nil && len(e.Grants) != tc.grants || e == nil && tc.grants != 0 {
				t.Fatalf("enrolment %+v, want %d grants", e, tc.grants)
			}
			if tc.wantErr != nil && store.updates > 0 {
				t.Fatalf("a refused result wrote %d enrolments", store.updates)
			}
		})
	}
}

var errStorage = errors.New("storage unavailable")
