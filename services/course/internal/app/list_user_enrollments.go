package app

import (
	"context"

	"github.com/paysuite/paysuite/services/course/internal/domain/enrollment"
)

// ListUserEnrollments returns the user's enrolments, newest first; revoked ones only on request.
func (a *App) ListUserEnrollments(ctx context.Context, userID string, includeRevoked bool) ([]*enrollment.Enrollment, error) {
	if userID == "" {
		return nil, enrollment.ErrEmptyUserID
	}
	return a.enrollments.ListByUser(ctx, userID, includeRevoked)
}
