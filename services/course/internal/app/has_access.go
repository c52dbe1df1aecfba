package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/course/internal/domain/enrollment"
)

// HasAccess reports whether the user may study the course now, with the enrolment when there
// is one (active or revoked). A customer asks only about themselves (ErrNotYours otherwise).
func (a *App) HasAccess(ctx context.Context, who principal.Caller, userID, courseID string) (bool, *enrollment.Enrollment, error) {
	if _, err := enrollment.New(userID, courseID); err != nil {
		return false, nil, err
	}
	if !who.MayRead(userID) {
		return false, nil, fmt.Errorf("access of user %q: %w", userID, enrollment.ErrNotYours)
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
