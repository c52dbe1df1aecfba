// Package mysql stores notifications and webhooks in the notification service's own database.
package mysql

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/services/notification/internal/app"
	"github.com/paysuite/paysuite/services/notification/internal/domain/notice"
)

var _ app.Notifications = (*Notifications)(nil)

// Notifications is the gorm repository of user notifications.
type Notifications struct{ db *gorm.DB }

// NewNotifications returns the repository.
func NewNotifications(gdb *gorm.DB) *Notifications { return &Notifications{db: gdb} }

type notificationRow struct {
	ID         int64
	EventID    string
	UserID     string
	OrderID    int64
	PaymentID  int64
	Kind       string
	Message    string
	OccurredAt time.Time
	CreatedAt  time.Time
}

func (notificationRow) TableName() string { return "notifications" }

// Add implements app.Notifications: the unique event_id makes a second insert a no-op.
func (r *Notifications) Add(ctx context.Context, n *notice.Notification) (bool, error) {
	row := notificationRow{ID: n.ID, EventID: n.EventID, UserID: n.UserID, OrderID: n.OrderID, PaymentID: n.PaymentID,
		Kind: string(n.Kind), Message: n.Message, OccurredAt: micro(n.OccurredAt), CreatedAt: micro(n.CreatedAt)}
	// A plain INSERT whose duplicate is read as "already stored" only on the event id: INSERT
	// IGNORE would also hide other errors (truncation), and ON DUPLICATE KEY UPDATE would also
	// swallow a clash on the generated id (two processes minting on one snowflake node).
	err := db.Conn(ctx, r.db).Exec(`INSERT INTO notifications
		(id, event_id, user_id, order_id, payment_id, kind, message, occurred_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		row.ID, row.EventID, row.UserID, row.OrderID, row.PaymentID, row.Kind, row.Message, row.OccurredAt, row.CreatedAt).Error
	if db.IsDuplicateKeyOn(err, "uk_notifications_event") {
		return false, nil
	}
	return err == nil, err
}

// ListByUser implements app.Notifications.
func (r *Notifications) ListByUser(ctx context.Context, userID string, beforeID int64, limit int) ([]*notice.Notification, error) {
	q := db.Conn(ctx, r.db).Where("user_id = ?", userID)
	if beforeID > 0 {
		q = q.Where("id < ?", beforeID)
	}
	var rows []notificationRow
	if err := q.Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	return toNotices(rows), nil
}

// LatestByOrder implements app.Notifications.
func (r *Notifications) LatestByOrder(ctx context.Context, orderID int64) ([]*notice.Notification, error) {
	var rows []notificationRow
	err := db.Conn(ctx, r.db).Where("order_id = ?", orderID).Order("payment_id, occurred_at, id").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	latest := map[int64]int{}
	var out []notificationRow
	for _, row := range rows { // ascending per payment: the last one wins
		if i, ok := latest[row.PaymentID]; ok {
			out[i] = row
			continue
		}
		latest[row.PaymentID] = len(out)
		out = append(out, row)
	}
	return toNotices(out), nil
}

func toNotices(rows []notificationRow) []*notice.Notification {
	out := make([]*notice.Notification, 0, len(rows))
	for _, row := range rows {
		out = append(out, &notice.Notification{ID: row.ID, EventID: row.EventID, UserID: row.UserID, OrderID: row.OrderID,
			PaymentID: row.PaymentID, Kind: notice.Kind(row.Kind), Message: row.Message,
			OccurredAt: row.OccurredAt, CreatedAt: row.CreatedAt})
	}
	return out
}

// micro is t at the columns' precision (DATETIME(6), UTC).
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: micro(t), Valid: true}
}
