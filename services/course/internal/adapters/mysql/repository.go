// Package mysql stores enrolments in the course service's own MariaDB database.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/services/course/internal/app"
	"github.com/paysuite/paysuite/services/course/internal/domain/enrollment"
)

var _ app.Enrollments = (*Enrollments)(nil)

// Enrollments is the gorm repository of enrolments and their grants.
type Enrollments struct {
	db    *gorm.DB
	newID func() int64
}

// NewEnrollments returns the repository; newID makes enrolment ids (snowflake).
func NewEnrollments(gdb *gorm.DB, newID func() int64) *Enrollments {
	return &Enrollments{db: gdb, newID: newID}
}

type enrollmentRow struct {
	ID         int64
	UserID     string
	CourseID   string
	Title      string
	OrderID    int64
	EnrolledAt time.Time
	RevokedAt  sql.NullTime
	UpdatedAt  time.Time
}

func (enrollmentRow) TableName() string { return "enrollments" }

type grantRow struct {
	ID        int64
	UserID    string
	CourseID  string
	PaymentID int64
	OrderID   int64
	GrantedAt sql.NullTime
	RevokedAt sql.NullTime
}

func (grantRow) TableName() string { return "enrollment_grants" }

// Update implements app.Enrollments.
func (r *Enrollments) Update(ctx context.Context, userID, courseID string, fn func(e *enrollment.Enrollment) error) error {
	return db.WithTx(ctx, r.db, func(ctx context.Context, tx *gorm.DB) error {
		// A fresh chain per query: a gorm chain carries its conditions and errors along.
		locked := func() *gorm.DB { return tx.Clauses(clause.Locking{Strength: "UPDATE"}) }
		var row enrollmentRow
		err := locked().Where("user_id = ? AND course_id = ?", userID, courseID).Take(&row).Error
		found := err == nil
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		var grants []grantRow
		if err := locked().Where("user_id = ? AND course_id = ?", userID, courseID).Order("id").Find(&grants).Error; err != nil {
			return err
		}
		e := toDomain(row, grants)
		if !found {
			if e, err = enrollment.New(userID, courseID); err != nil {
				return err
			}
			e.Grants = toDomain(row, grants).Grants // a refund may have arrived first
		}
		if err := fn(e); err != nil {
			return err
		}
		if err := r.saveGrants(tx, e, grants); err != nil {
			return err
		}
		return r.saveEnrollment(tx, e, found)
	})
}

func (r *Enrollments) saveEnrollment(tx *gorm.DB, e *enrollment.Enrollment, found bool) error {
	if !e.Exists() {
		return nil // only a refund seen before its success: grants hold it, nothing to show
	}
	if e.ID == 0 {
		e.ID = r.newID()
	}
	row := enrollmentRow{ID: e.ID, UserID: e.UserID, CourseID: e.CourseID, Title: clip(e.Title, 255), OrderID: e.OrderID,
		EnrolledAt: e.EnrolledAt.UTC().Truncate(time.Microsecond), RevokedAt: nullTime(e.RevokedAt), UpdatedAt: time.Now().UTC()}
	if !found {
		return tx.Create(&row).Error
	}
	return tx.Model(&enrollmentRow{}).Where("id = ?", e.ID).Updates(map[string]any{
		"title": row.Title, "order_id": row.OrderID, "enrolled_at": row.EnrolledAt,
		"revoked_at": row.RevokedAt, "updated_at": row.UpdatedAt,
	}).Error
}

func (r *Enrollments) saveGrants(tx *gorm.DB, e *enrollment.Enrollment, stored []grantRow) error {
	byPayment := make(map[int64]grantRow, len(stored))
	for _, g := range stored {
		byPayment[g.PaymentID] = g
	}
	for _, g := range e.Grants {
		old, ok := byPayment[g.PaymentID]
		row := grantRow{UserID: e.UserID, CourseID: e.CourseID, PaymentID: g.PaymentID, OrderID: g.OrderID,
			GrantedAt: nullTime(g.GrantedAt), RevokedAt: nullTime(g.RevokedAt)}
		switch {
		case !ok:
			if err := tx.Create(&row).Error; err != nil {
				return err
			}
		case !sameTime(old.GrantedAt, row.GrantedAt) || !sameTime(old.RevokedAt, row.RevokedAt):
			err := tx.Model(&grantRow{}).Where("id = ?", old.ID).
				Updates(map[string]any{"granted_at": row.GrantedAt, "revoked_at": row.RevokedAt}).Error
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// CoursesOfPayment implements app.Enrollments.
func (r *Enrollments) CoursesOfPayment(ctx context.Context, paymentID int64) ([]app.UserCourse, error) {
	var rows []grantRow
	if err := db.Conn(ctx, r.db).Where("payment_id = ?", paymentID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]app.UserCourse, 0, len(rows))
	for _, g := range rows {
		out = append(out, app.UserCourse{UserID: g.UserID, CourseID: g.CourseID})
	}
	return out, nil
}

// ListByUser implements app.Enrollments (newest enrolment first; grants are not loaded).
func (r *Enrollments) ListByUser(ctx context.Context, userID string, includeRevoked bool) ([]*enrollment.Enrollment, error) {
	q := db.Conn(ctx, r.db).Where("user_id = ?", userID)
	if !includeRevoked {
		q = q.Where("revoked_at IS NULL")
	}
	var rows []enrollmentRow
	if err := q.Order("enrolled_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list enrolments of %s: %w", userID, err)
	}
	out := make([]*enrollment.Enrollment, 0, len(rows))
	for _, row := range rows {
		out = append(out, toDomain(row, nil))
	}
	return out, nil
}

// Get implements app.Enrollments (grants are not loaded).
func (r *Enrollments) Get(ctx context.Context, userID, courseID string) (*enrollment.Enrollment, error) {
	var row enrollmentRow
	err := db.Conn(ctx, r.db).Where("user_id = ? AND course_id = ?", userID, courseID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, enrollment.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return toDomain(row, nil), nil
}

func toDomain(row enrollmentRow, grants []grantRow) *enrollment.Enrollment {
	e := &enrollment.Enrollment{ID: row.ID, UserID: row.UserID, CourseID: row.CourseID, Title: row.Title,
		OrderID: row.OrderID, EnrolledAt: row.EnrolledAt, RevokedAt: row.RevokedAt.Time}
	for _, g := range grants {
		e.Grants = append(e.Grants, enrollment.Grant{PaymentID: g.PaymentID, OrderID: g.OrderID,
			GrantedAt: g.GrantedAt.Time, RevokedAt: g.RevokedAt.Time})
	}
	return e
}

// nullTime maps the domain's zero time to NULL, at the column's microsecond precision.
func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC().Truncate(time.Microsecond), Valid: true}
}

func sameTime(a, b sql.NullTime) bool {
	return a.Valid == b.Valid && (!a.Valid || a.Time.Equal(b.Time))
}

// clip cuts s to at most n characters (the column's size), on a rune boundary.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
