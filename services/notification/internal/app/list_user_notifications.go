package app

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/notification/internal/domain/notice"
)

const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// ListUserNotifications returns a page of the user's notifications, newest first, and the token
// of the next page ("" at the end). A customer lists only their own (ErrNotYours otherwise).
func (a *App) ListUserNotifications(ctx context.Context, who principal.Caller, userID string, pageSize int, pageToken string) ([]*notice.Notification, string, error) {
	if userID == "" {
		return nil, "", notice.ErrEmptyUserID
	}
	if !who.MayRead(userID) {
		return nil, "", fmt.Errorf("notifications of user %q: %w", userID, ErrNotYours)
	}
	limit, before, err := page(pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	list, err := a.notifications.ListByUser(ctx, userID, before, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list notifications of %s: %w", userID, err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = token(list[limit-1].ID)
	}
	return list, next, nil
}

// page decodes paging input: the page size and the id the page starts below.
func page(pageSize int, pageToken string) (limit int, beforeID int64, err error) {
	switch {
	case pageSize < 0:
		return 0, 0, ErrBadPageSize
	case pageSize == 0:
		limit = defaultPageSize
	case pageSize > maxPageSize:
		limit = maxPageSize
	default:
		limit = pageSize
	}
	if pageToken == "" {
		return limit, 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(pageToken)
	if err != nil {
		return 0, 0, ErrBadPageToken
	}
	beforeID, err = strconv.ParseInt(string(raw), 10, 64)
	if err != nil || beforeID <= 0 {
		return 0, 0, ErrBadPageToken
	}
	return limit, beforeID, nil
}

func token(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}
