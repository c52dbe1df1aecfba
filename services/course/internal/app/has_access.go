package app

import (
	"context"
	"errors"

	"github.com/paysuite/paysuite/services/course/internal/domain/enrollment"
)

// HasAccess reports whether the user may study the course now, with the enrolment when there
// is one (active or revoked).
func (a *App) HasAccess(ctx context.Context, userID, courseID string) (bool, *enrollment.Enrollment, error) {
	if _, err := enrollment.New(userID, courseID); err != nil {
		return false, nil, err
	}
	e, err := a.enrollments.Get(ctx, userID, courseID)
	if errors.Is(err, enrollment.ErrNotFound) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	return e.Active(), e, nil
}
