package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/services/notification/internal/app"
	"github.com/paysuite/paysuite/services/notification/internal/domain/delivery"
)

var (
	_ app.Subscriptions = (*Subscriptions)(nil)
	_ app.Deliveries    = (*Deliveries)(nil)
)

// Subscriptions is the gorm repository of webhook subscriptions; secrets are sealed by box.
type Subscriptions struct {
	db  *gorm.DB
	box *SecretBox
}

// NewSubscriptions returns the repository.
func NewSubscriptions(gdb *gorm.DB, box *SecretBox) *Subscriptions {
	return &Subscriptions{db: gdb, box: box}
}

type subscriptionRow struct {
	ID          int64
	URL         string
	Secret      string
	Description string
	CreatedAt   time.Time
	DeletedAt   sql.NullTime
}

func (subscriptionRow) TableName() string { return "webhook_subscriptions" }

func (r *Subscriptions) domain(row subscriptionRow) (*delivery.Subscription, error) {
	secret, err := r.box.Open(row.ID, row.Secret)
	if err != nil {
		return nil, err
	}
	return &delivery.Subscription{ID: row.ID, URL: row.URL, Secret: secret, Description: row.Description,
		CreatedAt: row.CreatedAt, DeletedAt: row.DeletedAt.Time}, nil
}

// Create implements app.Subscriptions.
func (r *Subscriptions) Create(ctx context.Context, s *delivery.Subscription) error {
	sealed, err := r.box.Seal(s.ID, s.Secret)
	if err != nil {
		return err
	}
	return db.Conn(ctx, r.db).Create(&subscriptionRow{ID: s.ID, URL: s.URL, Secret: sealed,
		Description: s.Description, CreatedAt: micro(s.CreatedAt)}).Error
}

// SealPlaintextSecrets seals the secrets stored in plaintext before they were sealed (run at
// start; a no-op once done). Each row is sealed under its lock, so concurrent starts agree.
func (r *Subscriptions) SealPlaintextSecrets(ctx context.Context) (int, error) {
	var ids []int64
	if err := db.Conn(ctx, r.db).Model(&subscriptionRow{}).Where("secret NOT LIKE ?", sealedPrefix+"%").
		Pluck("id", &ids).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := db.WithTx(ctx, r.db, func(ctx context.Context, tx *gorm.DB) error {
			var row subscriptionRow
			if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", id).Take(&row).Error; err != nil {
				return err
			}
			if strings.HasPrefix(row.Secret, sealedPrefix) {
				return nil // sealed by a concurrent start
			}
			sealed, err := r.box.Seal(row.ID, row.Secret)
			if err != nil {
				return err
			}
			n++
			return tx.Model(&subscriptionRow{}).Where("id = ?", id).Update("secret", sealed).Error
		})
		if err != nil {
			return n, fmt.Errorf("seal the secret of webhook subscription %d: %w", id, err)
		}
	}
	return n, nil
}

// ListActive implements app.Subscriptions.
func (r *Subscriptions) ListActive(ctx context.Context) ([]*delivery.Subscription, error) {
	var rows []subscriptionRow
	if err := db.Conn(ctx, r.db).Where("deleted_at IS NULL").Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]*delivery.Subscription, 0, len(rows))
	for _, row := range rows {
		s, err := r.domain(row)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Get implements app.Subscriptions.
func (r *Subscriptions) Get(ctx context.Context, id int64) (*delivery.Subscription, error) {
	var row subscriptionRow
	err := db.Conn(ctx, r.db).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, delivery.ErrSubscriptionNotFound
	}
	if err != nil {
		return nil, err
	}
	return r.domain(row)
}

// Delete implements app.Subscriptions.
func (r *Subscriptions) Delete(ctx context.Context, id int64, at time.Time) error {
	res := db.Conn(ctx, r.db).Model(&subscriptionRow{}).Where("id = ? AND deleted_at IS NULL", id).
		Update("deleted_at", micro(at))
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return delivery.ErrSubscriptionNotFound
	}
	return nil
}

// Deliveries is the gorm repository of webhook deliveries and attempts.
type Deliveries struct {
	db    *gorm.DB
	newID func() int64
}

// NewDeliveries returns the repository; newID makes delivery ids (snowflake).
func NewDeliveries(gdb *gorm.DB, newID func() int64) *Deliveries {
	return &Deliveries{db: gdb, newID: newID}
}

type deliveryRow struct {
	ID             int64
	SubscriptionID int64
	EventID        string
	Body           []byte
	Status         int
	Attempts       int
	BudgetStart    int
	NextAttemptAt  sql.NullTime
	DeliveredAt    sql.NullTime
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (deliveryRow) TableName() string { return "webhook_deliveries" }

type attemptRow struct {
	ID         int64
	DeliveryID int64
	Attempt    int
	HTTPStatus int `gorm:"column:http_status"`
	Error      string
	LatencyMs  int64
	At         time.Time
}

func (attemptRow) TableName() string { return "webhook_attempts" }

// Enqueue implements app.Deliveries.
func (r *Deliveries) Enqueue(ctx context.Context, eventID string, body []byte, now time.Time) (int, error) {
	var subs []subscriptionRow
	conn := db.Conn(ctx, r.db)
	if err := conn.Select("id").Where("deleted_at IS NULL").Find(&subs).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, s := range subs {
		// Already enqueued only on (subscription, event); a clashing generated id is an error.
		err := conn.Exec(`INSERT INTO webhook_deliveries
			(id, subscription_id, event_id, body, status, attempts, budget_start, next_attempt_at, last_error, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 0, 0, ?, '', ?, ?)`,
			r.newID(), s.ID, eventID, body, int(delivery.StatusPending), micro(now), micro(now), micro(now)).Error
		if db.IsDuplicateKeyOn(err, "uk_deliveries_subscription_event") {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// ClaimDue implements app.Deliveries. Candidates are picked (oldest due first, at most the
// claim's room per subscription) without locks, then leased under SKIP LOCKED, which lets
// several instances claim disjoint rows and drops any another instance took meanwhile.
func (r *Deliveries) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, c app.Claim) ([]*delivery.Delivery, error) {
	var full []int64
	for id := range c.InFlight {
		if c.Room(id) <= 0 {
			full = append(full, id)
		}
	}
	q := db.Conn(ctx, r.db).Model(&deliveryRow{}).Select("id", "subscription_id").
		Where("status = ? AND next_attempt_at <= ?", int(delivery.StatusPending), micro(now))
	if len(full) > 0 {
		q = q.Where("subscription_id NOT IN ?", full)
	}
	var candidates []deliveryRow
	if err := q.Order("next_attempt_at").Limit(4 * c.Limit).Find(&candidates).Error; err != nil || len(candidates) == 0 {
		return nil, err
	}
	taken := map[int64]int{}
	var picked []int64
	for _, d := range candidates {
		if len(picked) == c.Limit {
			break
		}
		if taken[d.SubscriptionID] < c.Room(d.SubscriptionID) {
			taken[d.SubscriptionID]++
			picked = append(picked, d.ID)
		}
	}
	var rows []deliveryRow
	err := db.WithTx(ctx, r.db, func(ctx context.Context, tx *gorm.DB) error {
		err := tx.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"}).
			Where("id IN ? AND status = ? AND next_attempt_at <= ?", picked, int(delivery.StatusPending), micro(now)).
			Find(&rows).Error
		if err != nil || len(rows) == 0 {
			return err
		}
		ids := make([]int64, len(rows))
		for i, row := range rows {
			ids[i] = row.ID
		}
		return tx.Model(&deliveryRow{}).Where("id IN ?", ids).Update("next_attempt_at", micro(now.Add(lease))).Error
	})
	if err != nil {
		return nil, err
	}
	out := make([]*delivery.Delivery, 0, len(rows))
	for _, row := range rows {
		out = append(out, row.domain(nil))
	}
	return out, nil
}

// NextDue implements app.Deliveries.
func (r *Deliveries) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullTime
	err := db.Conn(ctx, r.db).Model(&deliveryRow{}).Where("status = ?", int(delivery.StatusPending)).
		Select("MIN(next_attempt_at)").Scan(&next).Error
	return next.Time, next.Valid, err
}

// Update implements app.Deliveries.
func (r *Deliveries) Update(ctx context.Context, id int64, fn func(d *delivery.Delivery) error) (*delivery.Delivery, error) {
	var out *delivery.Delivery
	err := db.WithTx(ctx, r.db, func(ctx context.Context, tx *gorm.DB) error {
		var row deliveryRow
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", id).Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return delivery.ErrDeliveryNotFound
		}
		if err != nil {
			return err
		}
		d := row.domain(nil)
		if err := fn(d); err != nil {
			return err
		}
		for _, a := range d.Log { // only attempts fn added: the log starts empty
			err := tx.Create(&attemptRow{DeliveryID: d.ID, Attempt: a.N, HTTPStatus: a.HTTPStatus, Error: a.Error,
				LatencyMs: a.Latency.Milliseconds(), At: micro(a.At)}).Error
			if err != nil {
				return err
			}
		}
		err = tx.Model(&deliveryRow{}).Where("id = ?", d.ID).Updates(map[string]any{
			"status": int(d.Status), "attempts": d.Attempts, "budget_start": d.BudgetStart,
			"next_attempt_at": nullTime(d.NextAttemptAt), "delivered_at": nullTime(d.DeliveredAt),
			"last_error": truncate(d.LastError), "updated_at": micro(time.Now()),
		}).Error
		if err != nil {
			return err
		}
		out = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	logs, err := r.attempts(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	out.Log = logs[id]
	return out, nil
}

// ListBySubscription implements app.Deliveries.
func (r *Deliveries) ListBySubscription(ctx context.Context, subscriptionID, beforeID int64, limit int) ([]*delivery.Delivery, error) {
	q := db.Conn(ctx, r.db).Where("subscription_id = ?", subscriptionID)
	if beforeID > 0 {
		q = q.Where("id < ?", beforeID)
	}
	var rows []deliveryRow
	if err := q.Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	ids := make([]int64, len(rows))
	for i, row := range rows {
		ids[i] = row.ID
	}
	logs, err := r.attempts(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*delivery.Delivery, 0, len(rows))
	for _, row := range rows {
		out = append(out, row.domain(logs[row.ID]))
	}
	return out, nil
}

func (r *Deliveries) attempts(ctx context.Context, ids []int64) (map[int64][]delivery.Attempt, error) {
	out := map[int64][]delivery.Attempt{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []attemptRow
	if err := db.Conn(ctx, r.db).Where("delivery_id IN ?", ids).Order("delivery_id, attempt").Find(&rows).Error; err != nil {
		return nil, err
	}
	for _, a := range rows {
		out[a.DeliveryID] = append(out[a.DeliveryID], delivery.Attempt{N: a.Attempt, HTTPStatus: a.HTTPStatus,
			Error: a.Error, Latency: time.Duration(a.LatencyMs) * time.Millisecond, At: a.At})
	}
	return out, nil
}

func (row deliveryRow) domain(log []delivery.Attempt) *delivery.Delivery {
	return &delivery.Delivery{ID: row.ID, SubscriptionID: row.SubscriptionID, EventID: row.EventID, Body: row.Body,
		Status: delivery.Status(row.Status), Attempts: row.Attempts, BudgetStart: row.BudgetStart,
		NextAttemptAt: row.NextAttemptAt.Time, DeliveredAt: row.DeliveredAt.Time, LastError: row.LastError,
		CreatedAt: row.CreatedAt, Log: log}
}

func truncate(s string) string {
	if len(s) > 1024 {
		return s[:1024]
	}
	return s
}
