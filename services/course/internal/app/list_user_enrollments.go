package app

import (
	"context"
	"fmt"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/course/internal/domain/enrollment"
)

// ListUserEnrollments returns the user's enrolments, newest first; revoked ones only on request.
// A customer lists only their own (ErrNotYours otherwise); merchants anyone's.
func (a *App) ListUserEnrollments(ctx context.Context, who principal.Caller, userID string, includeRevoked bool) ([]*enrollment.Enrollment, error) {
	if userID == "" {
		return nil, enrollment.ErrEmptyUserID
	}
	if !who.MayRead(userID) {
		return nil, fmt.Errorf("enrolments of user %q: %w", userID, enrollment.ErrNotYours)
	}
	return a.enrollments.ListByUser(ctx, userID, includeRevoked)
}
