package mysql

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

var _ app.Anomalies = (*Repository)(nil)

type anomalyRow struct {
	ID                int64 `gorm:"primaryKey"`
	Kind              string
	Ref               string
	State             string
	PaymentID         int64
	RefundID          int64
	OrderID           int64
	Channel           string
	OutTradeNo        string
	OutRefundNo       string
	AmountFen         int64
	ProviderAmountFen int64
	Detail            string
	Tried             string
	CreatedAt         time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt         time.Time `gorm:"autoUpdateTime:false"`
	ResolvedAt        sql.NullTime
}

func (anomalyRow) TableName() string { return "anomalies" }

func toAnomalyRow(a payment.Anomaly) anomalyRow {
	return anomalyRow{
		Kind: string(a.Kind), Ref: a.Ref(), State: string(a.State), PaymentID: a.PaymentID, RefundID: a.RefundID,
		OrderID: a.OrderID, Channel: string(a.Channel), OutTradeNo: a.OutTradeNo, OutRefundNo: a.OutRefundNo,
		AmountFen: int64(a.AmountFen), ProviderAmountFen: int64(a.ProviderAmountFen), Detail: truncate(a.Detail, 1024),
		Tried: truncate(a.Tried, 1024), CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(), ResolvedAt: nullTime(a.ResolvedAt),
	}
}

func (r anomalyRow) domain() payment.Anomaly {
	return payment.Anomaly{
		ID: r.ID, Kind: payment.AnomalyKind(r.Kind), State: payment.AnomalyState(r.State), PaymentID: r.PaymentID,
		RefundID: r.RefundID, OrderID: r.OrderID, Channel: payment.Channel(r.Channel), OutTradeNo: r.OutTradeNo,
		OutRefundNo: r.OutRefundNo, AmountFen: money.Fen(r.AmountFen), ProviderAmountFen: money.Fen(r.ProviderAmountFen),
		Detail: r.Detail, Tried: r.Tried, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		ResolvedAt: r.ResolvedAt.Time.UTC(),
	}
}

// raiseAnomaly inserts the case, or updates the one with the same ref (and reopens it: the
// provider said something new that needs a person).
func raiseAnomaly(tx *gorm.DB, a payment.Anomaly) error {
	row := toAnomalyRow(a)
	err := tx.Create(&row).Error
	if !db.IsDuplicateKey(err) {
		return err
	}
	return tx.Model(&anomalyRow{}).Where("ref = ?", row.Ref).Updates(map[string]any{
		"state": row.State, "detail": row.Detail, "tried": row.Tried, "updated_at": row.UpdatedAt, "resolved_at": nil,
	}).Error
}

// resolveAnomalies closes the open cases of a refund (or of a payment, for RefundID 0).
func resolveAnomalies(tx *gorm.DB, res app.AnomalyResolution) error {
	q := tx.Model(&anomalyRow{}).Where("state = ?", string(payment.AnomalyOpen))
	if res.RefundID != 0 {
		q = q.Where("refund_id = ?", res.RefundID)
	} else {
		q = q.Where("payment_id = ? AND refund_id = 0", res.PaymentID)
	}
	return q.Updates(map[string]any{
		"state": string(payment.AnomalyResolved), "resolved_at": res.At.UTC(), "updated_at": res.At.UTC(),
		"tried": gorm.Expr("LEFT(CONCAT(tried, '; resolved: ', ?), 1024)", res.Note),
	}).Error
}

// ListAnomalies returns anomalies newest first.
func (r *Repository) ListAnomalies(ctx context.Context, f app.AnomalyFilter) ([]payment.Anomaly, error) {
	q := db.Conn(ctx, r.gdb).Model(&anomalyRow{})
	if f.State != "" {
		q = q.Where("state = ?", string(f.State))
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", string(f.Kind))
	}
	if f.BeforeID > 0 {
		q = q.Where("id < ?", f.BeforeID)
	}
	var rows []anomalyRow
	if err := q.Order("id DESC").Limit(f.Limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]payment.Anomaly, len(rows))
	for i, row := range rows {
		out[i] = row.domain()
	}
	return out, nil
}
