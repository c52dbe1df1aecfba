package mysql

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/services/order/internal/app"
)

var _ app.Sweeper = (*SweeperStore)(nil)

// SweeperStore finds expired orders.
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
