package enrollment

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

type step struct {
	grant     bool // else revoke
	payment   int64
	order     int64
	at        int
	changed   bool
	active    bool
	wantOrder int64
}

func TestEnrollmentTransitions(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"purchase enrols", []step{
			{grant: true, payment: 1, order: 10, at: 0, changed: true, active: true, wantOrder: 10},
		}},
		{"redelivered success changes nothing", []step{
			{grant: true, payment: 1, order: 10, at: 0, changed: true, active: true, wantOrder: 10},
			{grant: true, payment: 1, order: 10, at: 5, changed: false, active: true, wantOrder: 10},
		}},
		{"second order keeps the first enrolment", []step{
			{grant: true, payment: 1, order: 10, at: 0, changed: true, active: true, wantOrder: 10},
			{grant: true, payment: 2, order: 20, at: 5, changed: true, active: true, wantOrder: 10},
		}},
		{"full refund revokes, redelivered refund changes nothing", []step{
			{grant: true, payment: 1, order: 10, at: 0, changed: true, active: true, wantOrder: 10},
			{payment: 1, order: 10, at: 5, changed: true, active: false, wantOrder: 10},
			{payment: 1, order: 10, at: 6, changed: false, active: false, wantOrder: 10},
		}},
		{"refund of one of two payments keeps access", []step{
			{grant: true, payment: 1, order: 10, at: 0, changed: true, active: true, wantOrder: 10},
			{grant: true, payment: 2, order: 20, at: 1, changed: true, active: true, wantOrder: 10},
			{payment: 1, order: 10, at: 2, changed: true, active: true, wantOrder: 20},
			{payment: 2, order: 20, at: 3, changed: true, active: false, wantOrder: 20},
		}},
		{"new purchase re-activates a revoked enrolment", []step{
			{grant: true, payment: 1, order: 10, at: 0, changed: true, active: true, wantOrder: 10},
			{payment: 1, order: 10, at: 1, changed: true, active: false, wantOrder: 10},
			{grant: true, payment: 3, order: 30, at: 2, changed: true, active: true, wantOrder: 30},
		}},
		{"refund before success: the late success grants nothing", []step{
			{payment: 1, order: 10, at: 1, changed: true, active: false},
			{grant: true, payment: 1, order: 10, at: 0, changed: false, active: false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New("u1", "c1")
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				var changed bool
				if s.grant {
					changed = e.Grant(s.payment, s.order, "Go", at(s.at))
				} else {
					changed = e.RevokePayment(s.payment, s.order, at(s.at))
				}
				if changed != s.changed || e.Active() != s.active || e.OrderID != s.wantOrder {
					t.Fatalf("step %d: changed=%v active=%v order=%d, want %v %v %d",
						i, changed, e.Active(), e.OrderID, s.changed, s.active, s.wantOrder)
				}
			}
		})
	}
}

func TestReactivationResetsDates(t *testing.T) {
	e, _ := New("u1", "c1")
	e.Grant(1, 10, "Go", at(0))
	e.RevokePayment(1, 10, at(1))
	if e.RevokedAt != at(1) {
		t.Fatalf("revoked_at = %v", e.RevokedAt)
	}
	e.Grant(2, 20, "", at(2))
	if !e.RevokedAt.IsZero() || e.EnrolledAt != at(2) || e.Title != "Go" {
		t.Fatalf("after re-purchase: %+v", e)
	}
}

func TestNewRejectsEmptyIDs(t *testing.T) {
	if _, err := New("", "c"); !errors.Is(err, ErrEmptyUserID) {
		t.Fatalf("err = %v", err)
	}
	if _, err := New("u", ""); !errors.Is(err, ErrEmptyCourseID) {
		t.Fatalf("err = %v", err)
	}
}
