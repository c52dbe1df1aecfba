package app

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// Page sizes of ListUserOrders.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// Cursor is a position in a user's orders, newest first: (created_at, order id) of the last
// order of the previous page.
type Cursor struct {
	CreatedAt time.Time
	ID        int64
}

const tokenPrefix = "o1:"

// Token encodes the cursor as an opaque page token.
func (c Cursor) Token() string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s%d:%d", tokenPrefix, c.CreatedAt.UnixMicro(), c.ID))
}

// ParseToken decodes a page token; malformed tokens are ErrBadPageToken.
func ParseToken(token string) (*Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || !strings.HasPrefix(string(raw), tokenPrefix) {
		return nil, order.ErrBadPageToken
	}
	var micros, id int64
	if _, err := fmt.Sscanf(strings.TrimPrefix(string(raw), tokenPrefix), "%d:%d", &micros, &id); err != nil || id <= 0 {
		return nil, order.ErrBadPageToken
	}
	return &Cursor{CreatedAt: time.UnixMicro(micros).UTC(), ID: id}, nil
}

// ListUserOrders returns one page of a user's orders, newest first, and the token of the
// next page ("" on the last page).
// A customer lists only their own orders (another user id is ErrNotYours); merchants anyone's.
func (a *App) ListUserOrders(ctx context.Context, who principal.Caller, userID string, pageSize int, pageToken string) ([]*order.Order, string, error) {
	if strings.TrimSpace(userID) == "" {
		return nil, "", order.ErrMissingUserID
	}
	if !who.MayRead(userID) {
		return nil, "", fmt.Errorf("orders of user %q: %w", userID, order.ErrNotYours)
	}
	switch {
	case pageSize <= 0:
		pageSize = DefaultPageSize
	case pageSize > MaxPageSize:
		pageSize = MaxPageSize
	}
	var after *Cursor
	if pageToken != "" {
		c, err := ParseToken(pageToken)
		if err != nil {
			return nil, "", err
		}
		after = c
	}
	orders, err := a.orders.ListByUser(ctx, userID, after, pageSize+1)
	if err != nil {
		return nil, "", err
	}
	if len(orders) <= pageSize {
		return orders, "", nil
	}
	orders = orders[:pageSize]
	last := orders[pageSize-1]
	return orders, Cursor{CreatedAt: last.CreatedAt, ID: last.ID}.Token(), nil
}
