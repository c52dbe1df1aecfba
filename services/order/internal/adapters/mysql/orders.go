package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/order/internal/app"
	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

var _ app.OrderRepository = (*OrderRepository)(nil)

// OrderRepository stores orders, their items and course seats, and moves stock with them.
type OrderRepository struct {
	gdb    *gorm.DB
	now    func() time.Time
	outbox app.Outbox
}

// NewOrderRepository returns a repository on gdb writing events to outbox in the state change's
// transaction. A nil outbox drops them: a deployment without a broker has no one to send them to.
func NewOrderRepository(gdb *gorm.DB, outbox app.Outbox) *OrderRepository {
	return &OrderRepository{gdb: gdb, now: time.Now, outbox: outbox}
}

// Create inserts the order and its items, counts the user's unpaid orders, takes the course
// seats, writes the events, then takes the stock, all in one transaction. Stock rows are locked
// last and in sku order: the hot row is held only from its UPDATE to COMMIT, and two orders
// never wait on each other's skus in a cycle.
func (r *OrderRepository) Create(ctx context.Context, o *order.Order, events []app.Event, maxPending int) error {
	err := db.WithTx(ctx, r.gdb, func(ctx context.Context, _ *gorm.DB) error {
		conn, err := sqlConn(ctx, r.gdb)
		if err != nil {
			return err
		}
		now := r.now().UTC()
		_, err = conn.ExecContext(ctx, `INSERT INTO orders (order_id, user_id, request_id, status, total_fen, created_at, pay_deadline, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, o.UserID, o.RequestID, string(o.Status), int64(o.Total), o.CreatedAt, o.PayDeadline, now)
		// Only the natural key means "this request was made before"; an order id minted twice
		// (two processes on one snowflake node) is an error, never someone else's order.
		if db.IsDuplicateKeyOn(err, "orders_user_request") {
			return app.ErrDuplicateRequest
		}
		if err != nil {
			return err
		}
		if err := insertItems(ctx, conn, o); err != nil {
			return err
		}
		if maxPending > 0 {
			if err := checkPending(ctx, conn, o.UserID, maxPending); err != nil {
				return err
			}
		}
		if courses := o.Courses(); len(courses) > 0 {
			if err := holdCourses(ctx, conn, o, courses); err != nil {
				return err
			}
		}
		if r.outbox != nil && len(events) > 0 {
			if err := r.outbox.Add(ctx, events...); err != nil {
				return err
			}
		}
		for _, it := range o.Items { // sorted by sku id
			res, err := conn.ExecContext(ctx, "UPDATE skus SET stock = stock - ? WHERE sku_id = ? AND stock >= ?",
				it.Quantity, it.SkuID, it.Quantity)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return errors.Join(catalog.OutOfStock(it.SkuID), err)
			}
		}
		return nil
	})
	var held *app.CourseHeldError
	if errors.As(err, &held) {
		return r.findHolder(ctx, o)
	}
	return err
}

// checkPending refuses an order that would give its user more than max unpaid ones (the new
// order, inserted already in this transaction, included). The user's row in order_users is
// locked first, so one user's creates count one after another: a burst cannot all see the same
// count and pass together. The count is a plain read taken after that lock, so it sees every
// order committed before (the transaction's snapshot starts at its first read, this one).
func checkPending(ctx context.Context, conn sqlRunner, userID string, max int) error {
	if _, err := conn.ExecContext(ctx, "INSERT INTO order_users (user_id) VALUES (?) ON DUPLICATE KEY UPDATE user_id = user_id", userID); err != nil {
		return err
	}
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders WHERE user_id = ? AND status = 'PENDING_PAYMENT'", userID).Scan(&n); err != nil {
		return err
	}
	if n > max {
		return fmt.Errorf("user %q already holds %d unpaid orders (at most %d): %w", userID, n-1, max, order.ErrTooManyPending)
	}
	return nil
}

func insertItems(ctx context.Context, conn sqlRunner, o *order.Order) error {
	var q strings.Builder
	q.WriteString("INSERT INTO order_items (order_id, sku_id, title, kind, unit_price_fen, quantity) VALUES ")
	args := make([]any, 0, 6*len(o.Items))
	for i, it := range o.Items {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?)")
		args = append(args, o.ID, it.SkuID, it.Title, string(it.Kind), int64(it.UnitPrice), it.Quantity)
	}
	_, err := conn.ExecContext(ctx, q.String(), args...)
	return err
}

func holdCourses(ctx context.Context, conn sqlRunner, o *order.Order, courses []string) error {
	var q strings.Builder
	q.WriteString("INSERT INTO course_holds (user_id, sku_id, order_id) VALUES ")
	args := make([]any, 0, 3*len(courses))
	for i, sku := range courses {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?)")
		args = append(args, o.UserID, sku, o.ID)
	}
	_, err := conn.ExecContext(ctx, q.String(), args...)
	if db.IsDuplicateKey(err) {
		return &app.CourseHeldError{} // which one is looked up after the rollback
	}
	return err
}

// findHolder names the live order holding one of o's courses, read after the rollback so the
// holder's commit is visible.
func (r *OrderRepository) findHolder(ctx context.Context, o *order.Order) error {
	var h struct {
		SkuID   string
		OrderID int64
	}
	q, args := inList("SELECT sku_id, order_id FROM course_holds WHERE user_id = ? AND sku_id IN ", o.Courses())
	res := db.Conn(ctx, r.gdb).Raw(q+" ORDER BY sku_id LIMIT 1", append([]any{o.UserID}, args...)...).Scan(&h)
	if res.Error != nil {
		return res.Error
	}
	// Released between our attempt and this read: report a holder that is no longer live,
	// the app retries.
	return &app.CourseHeldError{SkuID: h.SkuID, OrderID: h.OrderID}
}

// Get returns one order with its items.
func (r *OrderRepository) Get(ctx context.Context, id int64) (*order.Order, error) {
	return r.getWhere(ctx, "order_id = ?", id)
}

// GetByRequest returns the order created by (user, request id).
func (r *OrderRepository) GetByRequest(ctx context.Context, userID, requestID string) (*order.Order, error) {
	return r.getWhere(ctx, "user_id = ? AND request_id = ?", userID, requestID)
}

func (r *OrderRepository) getWhere(ctx context.Context, where string, args ...any) (*order.Order, error) {
	orders, err := r.query(ctx, "SELECT "+orderColumns+" FROM orders WHERE "+where, args...)
	if err != nil {
		return nil, err
	}
	if len(orders) == 0 {
		return nil, order.ErrNotFound
	}
	return orders[0], nil
}

// ListByUser returns a user's orders newest first, after the cursor.
func (r *OrderRepository) ListByUser(ctx context.Context, userID string, after *app.Cursor, limit int) ([]*order.Order, error) {
	q := "SELECT " + orderColumns + " FROM orders WHERE user_id = ?"
	args := []any{userID}
	if after != nil {
		q += " AND (created_at < ? OR (created_at = ? AND order_id < ?))"
		args = append(args, after.CreatedAt, after.CreatedAt, after.ID)
	}
	q += " ORDER BY created_at DESC, order_id DESC LIMIT ?"
	return r.query(ctx, q, append(args, limit)...)
}

// Update loads the order FOR UPDATE, applies fn and writes what changed. The transition that
// leaves a stock-holding status for CANCELLED puts the stock back in this same transaction,
// and the row lock makes it happen once however many cancels race.
func (r *OrderRepository) Update(ctx context.Context, id int64, fn func(o *order.Order) error) (*order.Order, error) {
	var out *order.Order
	err := db.WithTx(ctx, r.gdb, func(ctx context.Context, _ *gorm.DB) error {
		orders, err := r.query(ctx, "SELECT "+orderColumns+" FROM orders WHERE order_id = ? FOR UPDATE", id)
		if err != nil {
			return err
		}
		if len(orders) == 0 {
			return order.ErrNotFound
		}
		o := orders[0]
		before := *o
		if err := fn(o); err != nil {
			return err
		}
		out = o
		return r.write(ctx, &before, o)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *OrderRepository) write(ctx context.Context, before, o *order.Order) error {
	if sameState(before, o) {
		return nil
	}
	conn, err := sqlConn(ctx, r.gdb)
	if err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, `UPDATE orders SET status = ?, paid_at = ?, payment_id = ?, cancelled_at = ?, cancel_reason = ?,
		refunding_id = ?, refunded_fen = ?, refunded_at = ?, updated_at = ? WHERE order_id = ?`,
		string(o.Status), nullTime(o.PaidAt), o.PaymentID, nullTime(o.CancelledAt), o.CancelReason,
		o.RefundingID, int64(o.RefundedFen), nullTime(o.RefundedAt), r.now().UTC(), o.ID)
	if err != nil {
		return err
	}
	if before.Status.HoldsStock() && !o.Status.HoldsStock() {
		items := slices.Clone(o.Items)
		slices.SortFunc(items, func(a, b order.Item) int { return strings.Compare(a.SkuID, b.SkuID) })
		for _, it := range items {
			if _, err := conn.ExecContext(ctx, "UPDATE skus SET stock = stock + ? WHERE sku_id = ?", it.Quantity, it.SkuID); err != nil {
				return err
			}
		}
	}
	if before.Status.HoldsCourse() && !o.Status.HoldsCourse() && len(o.Courses()) > 0 {
		if _, err := conn.ExecContext(ctx, "DELETE FROM course_holds WHERE order_id = ?", o.ID); err != nil {
			return err
		}
	}
	return nil
}

func sameState(a, b *order.Order) bool {
	return a.Status == b.Status && a.PaidAt.Equal(b.PaidAt) && a.PaymentID == b.PaymentID &&
		a.CancelledAt.Equal(b.CancelledAt) && a.CancelReason == b.CancelReason && a.RefundingID == b.RefundingID &&
		a.RefundedFen == b.RefundedFen && a.RefundedAt.Equal(b.RefundedAt)
}

const orderColumns = `order_id, user_id, request_id, status, total_fen, created_at, pay_deadline, paid_at, payment_id,
	cancelled_at, cancel_reason, refunding_id, refunded_fen, refunded_at`

// query runs an orders SELECT of orderColumns and loads the items of every order found.
func (r *OrderRepository) query(ctx context.Context, q string, args ...any) ([]*order.Order, error) {
	conn, err := sqlConn(ctx, r.gdb)
	if err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var orders []*order.Order
	byID := map[int64]*order.Order{}
	for rows.Next() {
		var (
			o                             order.Order
			status                        string
			total, refunded               int64
			paidAt, cancelledAt, refundAt sql.NullTime
		)
		if err := rows.Scan(&o.ID, &o.UserID, &o.RequestID, &status, &total, &o.CreatedAt, &o.PayDeadline, &paidAt,
			&o.PaymentID, &cancelledAt, &o.CancelReason, &o.RefundingID, &refunded, &refundAt); err != nil {
			rows.Close()
			return nil, err
		}
		o.Status, o.Total, o.RefundedFen = order.Status(status), money.Fen(total), money.Fen(refunded)
		o.PaidAt, o.CancelledAt, o.RefundedAt = paidAt.Time, cancelledAt.Time, refundAt.Time
		orders = append(orders, &o)
		byID[o.ID] = &o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(orders) == 0 {
		return nil, nil
	}
	ids := make([]int64, 0, len(orders))
	for _, o := range orders {
		ids = append(ids, o.ID)
	}
	iq, iargs := inList("SELECT order_id, sku_id, title, kind, unit_price_fen, quantity FROM order_items WHERE order_id IN ", ids)
	irows, err := conn.QueryContext(ctx, iq+" ORDER BY order_id, sku_id", iargs...)
	if err != nil {
		return nil, err
	}
	defer irows.Close()
	for irows.Next() {
		var (
			id    int64
			it    order.Item
			kind  string
			price int64
		)
		if err := irows.Scan(&id, &it.SkuID, &it.Title, &kind, &price, &it.Quantity); err != nil {
			return nil, err
		}
		it.Kind, it.UnitPrice = catalog.Kind(kind), money.Fen(price)
		if o := byID[id]; o != nil {
			o.Items = append(o.Items, it)
		}
	}
	return orders, irows.Err()
}

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }
