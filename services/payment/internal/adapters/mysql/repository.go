// Package mysql stores payments, refunds, the notify log and durable tasks in the service's own
// MariaDB database (gorm), migrated by the goose files in migrations/.
package mysql

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the goose files, rooted for db.Open.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}

// Repository implements the storage ports of the app: payments, refunds, notify log and tasks.
type Repository struct {
	gdb    *gorm.DB
	outbox app.Outbox
	paid   *paidBatcher
	lookup *lookupBatcher
}

var (
	_ app.Payments  = (*Repository)(nil)
	_ app.Refunds   = (*Repository)(nil)
	_ app.NotifyLog = (*Repository)(nil)
	_ app.Tasks     = (*Repository)(nil)
)

// NewRepository stores in gdb; events go to outbox inside the state-change transaction.
func NewRepository(gdb *gorm.DB, outbox app.Outbox) *Repository {
	r := &Repository{gdb: gdb, outbox: outbox}
	r.paid = newPaidBatcher(r)
	r.lookup = newLookupBatcher(r)
	return r
}

func notFound(err error, what string, id any) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return payment.NotFoundError(what, id)
	}
	return err
}

// CreatePayment inserts p (and ch) unless a live attempt of the same order and channel exists.
func (r *Repository) CreatePayment(ctx context.Context, p *payment.Payment, ch app.Changes) (*payment.Payment, bool, error) {
	row := toPaymentRow(p)
	err := db.WithTx(ctx, r.gdb, func(ctx context.Context, tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return r.writeChanges(ctx, tx, &ch)
	})
	if err == nil {
		return p, true, nil
	}
	if !db.IsDuplicateKeyOn(err, "uk_payments_live") { // a clashing generated id is an error, not a live attempt
		return nil, false, err
	}
	var live paymentRow
	if err := db.Conn(ctx, r.gdb).Where("live_key = ?", row.LiveKey.String).Take(&live).Error; err != nil {
		return nil, false, fmt.Errorf("load live attempt: %w", err)
	}
	return live.domain(), false, nil
}

// SetQRCode records the provider's QR code of a prepaid attempt.
func (r *Repository) SetQRCode(ctx context.Context, id int64, qr string) error {
	return db.Conn(ctx, r.gdb).Model(&paymentRow{}).Where("id = ?", id).Update("qr_code", qr).Error
}

func (r *Repository) GetPayment(ctx context.Context, id int64) (*payment.Payment, error) {
	var row paymentRow
	if err := db.Conn(ctx, r.gdb).Take(&row, id).Error; err != nil {
		return nil, notFound(err, "payment", id)
	}
	return row.domain(), nil
}

// GetPaymentByOutTradeNo is the lookup of every notify: a plain committed read, shared with
// the concurrent lookups (lookup_batch.go) and scanned by hand.
func (r *Repository) GetPaymentByOutTradeNo(ctx context.Context, no string) (*payment.Payment, error) {
	row, err := r.lookup.get(ctx, no)
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

func (r *Repository) ListOrderPayments(ctx context.Context, orderID int64) ([]*payment.Payment, error) {
	var rows []paymentRow
	if err := db.Conn(ctx, r.gdb).Where("order_id = ?", orderID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]*payment.Payment, len(rows))
	for i, row := range rows {
		out[i] = row.domain()
	}
	return out, nil
}

// UpdatePayment: SELECT … FOR UPDATE, fn, then a conditional UPDATE … WHERE id=? AND status=<read>
// (belt and braces with the lock: a transition can only ever apply to the state it was decided on).
func (r *Repository) UpdatePayment(ctx context.Context, id int64, fn func(*payment.Payment, *app.Changes) error) error {
	return r.tx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		p, err := lockPayment(tx, id)
		if err != nil {
			return err
		}
		before := toPaymentRow(p)
		var ch app.Changes
		if err := fn(p, &ch); err != nil {
			return err
		}
		if err := savePayment(tx, p, before); err != nil {
			return err
		}
		return r.writeChanges(ctx, tx, &ch)
	})
}

var errNotChanged = errors.New("payment already left WAITING/CLOSED")

// MarkSucceeded is the conditional update itself: only one of any number of concurrent
// notifies, polls and closes can move the row, the others see 0 rows affected. Concurrent
// successes share one transaction (paid_batch.go); it returns after the commit.
func (r *Repository) MarkSucceeded(ctx context.Context, p *payment.Payment, ch app.Changes) (bool, error) {
	if !batchable(ch) {
		return r.markSucceededOne(ctx, p, ch)
	}
	return r.paid.do(ctx, p, ch)
}

// markSucceededOne is MarkSucceeded in a transaction of its own.
func (r *Repository) markSucceededOne(ctx context.Context, p *payment.Payment, ch app.Changes) (bool, error) {
	row := toPaymentRow(p)
	err := r.tx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		res := tx.Model(&paymentRow{}).
			Where("id = ? AND status IN ?", p.ID, []string{string(payment.StatusWaiting), string(payment.StatusClosed)}).
			Updates(map[string]any{
				"status": row.Status, "live_key": row.LiveKey, "provider_trade_no": row.ProviderTradeNo,
				"paid_at": row.PaidAt, "updated_at": row.UpdatedAt,
			})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errNotChanged
		}
		return r.writeChanges(ctx, tx, &ch)
	})
	if errors.Is(err, errNotChanged) {
		return false, nil
	}
	return err == nil, err
}

// UpdateRefund locks the payment first, then the refund (the same order as RefundPayment).
func (r *Repository) UpdateRefund(ctx context.Context, refundID int64, fn func(*payment.Payment, *payment.Refund, *app.Changes) error) error {
	return r.tx(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var rr refundRow
		if err := tx.Take(&rr, refundID).Error; err != nil {
			return notFound(err, "refund", refundID)
		}
		p, err := lockPayment(tx, rr.PaymentID)
		if err != nil {
			return err
		}
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&rr, refundID).Error; err != nil {
			return err
		}
		before := toPaymentRow(p)
		ref := rr.domain()
		var ch app.Changes
		if err := fn(p, ref, &ch); err != nil {
			return err
		}
		if err := savePayment(tx, p, before); err != nil {
			return err
		}
		ch.Refund = ref
		return r.writeChanges(ctx, tx, &ch)
	})
}

// tx runs fn in a transaction, again when InnoDB picked it as a deadlock victim (fn reloads
// its rows each time), and maps a taken notify dedupe key to app.ErrDuplicateNotify.
func (r *Repository) tx(ctx context.Context, fn func(ctx context.Context, tx *gorm.DB) error) error {
	for attempt := 1; ; attempt++ {
		var dupNotify bool
		err := db.WithTx(ctx, r.gdb, func(ctx context.Context, tx *gorm.DB) error {
			err := fn(ctx, tx)
			if errors.Is(err, errDupNotify) {
				dupNotify = true
			}
			return err
		})
		if dupNotify {
			return app.ErrDuplicateNotify
		}
		if attempt < 5 && isDeadlock(err) && ctx.Err() == nil {
			time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
			continue
		}
		return err
	}
}

// isDeadlock: MySQL 1213 (deadlock victim) or 1205 (lock wait timeout); the transaction was
// rolled back and may simply be run again.
func isDeadlock(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

var errDupNotify = errors.New("duplicate notify dedupe key")

func lockPayment(tx *gorm.DB, id int64) (*payment.Payment, error) {
	var row paymentRow
	if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&row, id).Error; err != nil {
		return nil, notFound(err, "payment", id)
	}
	return row.domain(), nil
}

// savePayment writes p if fn changed it, conditionally on the status it was read with.
func savePayment(tx *gorm.DB, p *payment.Payment, before paymentRow) error {
	row := toPaymentRow(p)
	if row == before {
		return nil
	}
	old := before.Status
	res := tx.Model(&paymentRow{}).Where("id = ? AND status = ?", p.ID, old).Updates(map[string]any{
		"status": row.Status, "live_key": row.LiveKey, "qr_code": row.QRCode, "provider_trade_no": row.ProviderTradeNo,
		"paid_at": row.PaidAt, "refunded_fen": row.RefundedFen, "refunding_fen": row.RefundingFen, "refund_lines": row.RefundLines,
		"close_reason": row.CloseReason, "closed_at": row.ClosedAt, "updated_at": row.UpdatedAt,
	})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("payment %d left %s under us: %w", p.ID, old, payment.ErrNotWaiting)
	}
	return nil
}

func (r *Repository) writeChanges(ctx context.Context, tx *gorm.DB, ch *app.Changes) error {
	if ch.Notify != nil {
		row := toNotifyRow(*ch.Notify)
		if err := tx.Create(&row).Error; err != nil {
			if db.IsDuplicateKeyOn(err, "uk_notify_dedupe") {
				return errDupNotify
			}
			return err
		}
	}
	if ch.NewRefund != nil {
		row := toRefundRow(ch.NewRefund)
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
	}
	if ch.Refund != nil {
		row := toRefundRow(ch.Refund)
		if err := tx.Model(&refundRow{}).Where("id = ?", row.ID).Updates(map[string]any{
			"status": row.Status, "submitted": row.Submitted, "order_begun": row.OrderBegun,
			"order_finished": row.OrderFinished, "fail_reason": row.FailReason, "succeeded_at": row.SucceededAt,
			"updated_at": row.UpdatedAt,
		}).Error; err != nil {
			return err
		}
	}
	for _, a := range ch.Anomalies {
		if err := raiseAnomaly(tx, a); err != nil {
			return fmt.Errorf("anomaly: %w", err)
		}
	}
	if ch.Resolve != nil {
		if err := resolveAnomalies(tx, *ch.Resolve); err != nil {
			return fmt.Errorf("resolve anomalies: %w", err)
		}
	}
	for _, t := range ch.DoneTasks {
		// Find the row with a plain (non-locking) read and delete it by primary key: a DELETE by
		// a (kind, ref_id) that may not exist would take a gap lock and deadlock concurrent
		// task inserts.
		var ids []int64
		if err := tx.Model(&taskRow{}).Where("kind = ? AND ref_id = ?", string(t.Kind), t.RefID).Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) > 0 {
			if err := tx.Delete(&taskRow{}, ids).Error; err != nil {
				return err
			}
		}
	}
	for _, t := range ch.Tasks {
		if err := upsertTask(tx, t); err != nil {
			return err
		}
	}
	if len(ch.Events) > 0 && r.outbox != nil {
		if err := r.outbox.Add(ctx, ch.Events...); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// upsertTask inserts the task, or moves the existing (kind, ref) row. Not INSERT … ON DUPLICATE
// KEY UPDATE: under REPEATABLE READ that takes next-key locks up to the supremum, and
// concurrent notifies (ever-increasing ref ids) then deadlock each other.
func upsertTask(tx *gorm.DB, t app.Task) error {
	row := taskRow{Kind: string(t.Kind), RefID: t.RefID, NextRunAt: t.RunAt.UTC(), CreatedAt: time.Now().UTC()}
	err := tx.Create(&row).Error
	if !db.IsDuplicateKeyOn(err, "uk_tasks_ref") {
		return err
	}
	return tx.Model(&taskRow{}).Where("kind = ? AND ref_id = ?", row.Kind, row.RefID).
		Updates(map[string]any{"next_run_at": row.NextRunAt, "attempt": 0}).Error
}

func (r *Repository) GetRefund(ctx context.Context, id int64) (*payment.Refund, error) {
	var row refundRow
	if err := db.Conn(ctx, r.gdb).Take(&row, id).Error; err != nil {
		return nil, notFound(err, "refund", id)
	}
	return row.domain(), nil
}

func (r *Repository) FindRefund(ctx context.Context, paymentID int64, requestID string) (*payment.Refund, error) {
	var row refundRow
	if err := db.Conn(ctx, r.gdb).Where("payment_id = ? AND request_id = ?", paymentID, requestID).Take(&row).Error; err != nil {
		return nil, notFound(err, "refund request", requestID)
	}
	return row.domain(), nil
}

func (r *Repository) GetRefundByOutRefundNo(ctx context.Context, no string) (*payment.Refund, error) {
	var row refundRow
	if err := db.Conn(ctx, r.gdb).Where("out_refund_no = ?", no).Take(&row).Error; err != nil {
		return nil, notFound(err, "refund", no)
	}
	return row.domain(), nil
}

// ListRefunds returns a payment's refunds, oldest first.
func (r *Repository) ListRefunds(ctx context.Context, paymentID int64) ([]*payment.Refund, error) {
	var rows []refundRow
	if err := db.Conn(ctx, r.gdb).Where("payment_id = ?", paymentID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]*payment.Refund, len(rows))
	for i, row := range rows {
		out[i] = row.domain()
	}
	return out, nil
}

func (r *Repository) LogNotify(ctx context.Context, rec app.NotifyRecord) error {
	rec.DedupeKey = "" // only UpdatePayment's state change may claim the key
	row := toNotifyRow(rec)
	return db.Conn(ctx, r.gdb).Create(&row).Error
}

func (r *Repository) ListNotifies(ctx context.Context, outTradeNo string) ([]app.NotifyRecord, error) {
	var rows []notifyRow
	if err := db.Conn(ctx, r.gdb).Where("out_trade_no = ?", outTradeNo).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]app.NotifyRecord, len(rows))
	for i, row := range rows {
		out[i] = row.domain()
	}
	return out, nil
}

func (r *Repository) DueTasks(ctx context.Context, now time.Time, limit int) ([]app.DueTask, error) {
	var rows []taskRow
	if err := db.Conn(ctx, r.gdb).Where("next_run_at <= ?", now.UTC()).Order("next_run_at").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]app.DueTask, len(rows))
	for i, row := range rows {
		out[i] = app.DueTask{ID: row.ID, Kind: app.TaskKind(row.Kind), RefID: row.RefID, Attempt: row.Attempt, NextRunAt: row.NextRunAt.UTC()}
	}
	return out, nil
}

// ClaimTask is an optimistic claim: only the runner that still sees the same next_run_at wins,
// so two instances never run one task at once (the lease expires if the winner dies).
func (r *Repository) ClaimTask(ctx context.Context, t app.DueTask, leaseUntil time.Time) (bool, error) {
	res := db.Conn(ctx, r.gdb).Model(&taskRow{}).Where("id = ? AND next_run_at = ?", t.ID, t.NextRunAt.UTC()).
		Updates(map[string]any{"next_run_at": leaseUntil.UTC(), "attempt": gorm.Expr("attempt + 1")})
	return res.RowsAffected == 1, res.Error
}

func (r *Repository) RetryTask(ctx context.Context, t app.DueTask, runAt time.Time, lastErr string) error {
	return db.Conn(ctx, r.gdb).Model(&taskRow{}).Where("id = ? AND next_run_at = ?", t.ID, t.NextRunAt.UTC()).
		Updates(map[string]any{"next_run_at": runAt.UTC(), "last_error": truncate(lastErr, 1024)}).Error
}

func (r *Repository) DeleteTask(ctx context.Context, t app.DueTask) error {
	return db.Conn(ctx, r.gdb).Where("next_run_at = ?", t.NextRunAt.UTC()).Delete(&taskRow{}, t.ID).Error
}
