package mysql

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/services/order/internal/app"
)

var _ app.Sweeper = (*SweeperStore)(nil)

// SweeperStore finds expired orders and holds the sweepers' advisory lock.
type SweeperStore struct{ gdb *gorm.DB }

// NewSweeperStore returns a store on gdb.
func NewSweeperStore(gdb *gorm.DB) *SweeperStore { return &SweeperStore{gdb: gdb} }

// ExpiredOrders uses the (status, pay_deadline) index.
func (s *SweeperStore) ExpiredOrders(ctx context.Context, before time.Time, limit int) ([]int64, error) {
	var ids []int64
	err := s.gdb.WithContext(ctx).Raw(`SELECT order_id FROM orders WHERE status = 'PENDING_PAYMENT' AND pay_deadline < ?
		ORDER BY pay_deadline LIMIT ?`, before.UTC(), limit).Scan(&ids).Error
	return ids, err
}

// TryLock takes GET_LOCK on a dedicated connection; the name is scoped to this database so
// services (and test runs) sharing a server do not exclude each other. The lock dies with the
// connection, so a crashed instance cannot keep it.
func (s *SweeperStore) TryLock(ctx context.Context, name string) (func(), bool, error) {
	sqlDB, err := s.gdb.DB()
	if err != nil {
		return nil, false, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	const lockName = "LEFT(CONCAT(?, '_', DATABASE()), 64)"
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+lockName+", 0)", name).Scan(&got); err != nil {
		conn.Close()
		return nil, false, err
	}
	if !got.Valid || got.Int64 != 1 {
		conn.Close()
		return nil, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(ctx, "DO RELEASE_LOCK("+lockName+")", name)
		conn.Close()
	}, true, nil
}
