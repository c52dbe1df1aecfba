package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// Reconciliation storage and the ledger reads behind it (plain SQL: a day can hold many rows).

var _ app.Reconciliations = (*Repository)(nil)

const ledgerPaymentCols = "p.id, p.out_trade_no, p.status, p.amount_fen, p.paid_at"

// LedgerDay implements app.Reconciliations.
func (r *Repository) LedgerDay(ctx context.Context, ch payment.Channel, from, to time.Time) (map[string]*app.LedgerPayment, error) {
	from, to = from.UTC(), to.UTC()
	conn := db.Conn(ctx, r.gdb)
	rows, err := conn.Raw("SELECT "+ledgerPaymentCols+" FROM payments p WHERE p.channel = ? AND p.paid_at >= ? AND p.paid_at < ? "+
		"UNION SELECT "+ledgerPaymentCols+" FROM payments p JOIN refunds r ON r.payment_id = p.id "+
		"WHERE p.channel = ? AND r.succeeded_at >= ? AND r.succeeded_at < ?", ch, from, to, ch, from, to).Rows()
	if err != nil {
		return nil, err
	}
	out, byID, err := scanLedgerPayments(rows)
	if err != nil {
		return nil, err
	}
	refunds, err := conn.Raw("SELECT r.id, r.payment_id, r.out_refund_no, r.status, r.amount_fen, r.succeeded_at FROM refunds r "+
		"JOIN payments p ON p.id = r.payment_id WHERE p.channel = ? AND (p.paid_at >= ? AND p.paid_at < ? OR r.payment_id IN "+
		"(SELECT payment_id FROM refunds WHERE succeeded_at >= ? AND succeeded_at < ?))", ch, from, to, from, to).Rows()
	if err != nil {
		return nil, err
	}
	return out, scanLedgerRefunds(refunds, byID)
}

// LedgerTrades implements app.Reconciliations.
func (r *Repository) LedgerTrades(ctx context.Context, ch payment.Channel, nos []string) (map[string]*app.LedgerPayment, error) {
	if len(nos) == 0 {
		return map[string]*app.LedgerPayment{}, nil
	}
	conn := db.Conn(ctx, r.gdb)
	rows, err := conn.Raw("SELECT "+ledgerPaymentCols+" FROM payments p WHERE p.channel = ? AND p.out_trade_no IN ?", ch, nos).Rows()
	if err != nil {
		return nil, err
	}
	out, byID, err := scanLedgerPayments(rows)
	if err != nil || len(byID) == 0 {
		return out, err
	}
	ids := make([]int64, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	refunds, err := conn.Raw("SELECT r.id, r.payment_id, r.out_refund_no, r.status, r.amount_fen, r.succeeded_at FROM refunds r "+
		"WHERE r.payment_id IN ?", ids).Rows()
	if err != nil {
		return nil, err
	}
	return out, scanLedgerRefunds(refunds, byID)
}

func scanLedgerPayments(rows *sql.Rows) (map[string]*app.LedgerPayment, map[int64]*app.LedgerPayment, error) {
	defer rows.Close()
	out, byID := map[string]*app.LedgerPayment{}, map[int64]*app.LedgerPayment{}
	for rows.Next() {
		var no, status string
		var paidAt sql.NullTime
		lp := &app.LedgerPayment{}
		if err := rows.Scan(&lp.ID, &no, &status, &lp.Amount, &paidAt); err != nil {
			return nil, nil, err
		}
		lp.Status, lp.PaidAt = payment.Status(status), paidAt.Time.UTC()
		out[no], byID[lp.ID] = lp, lp
	}
	return out, byID, rows.Err()
}

func scanLedgerRefunds(rows *sql.Rows, byID map[int64]*app.LedgerPayment) error {
	defer rows.Close()
	for rows.Next() {
		var paymentID int64
		var no, status string
		var at sql.NullTime
		lr := &app.LedgerRefund{}
		if err := rows.Scan(&lr.ID, &paymentID, &no, &status, &lr.Amount, &at); err != nil {
			return err
		}
		lr.Status, lr.SucceededAt = payment.RefundStatus(status), at.Time.UTC()
		if lp := byID[paymentID]; lp != nil {
			if lp.Refunds == nil {
				lp.Refunds = map[string]*app.LedgerRefund{}
			}
			lp.Refunds[no] = lr
		}
	}
	return rows.Err()
}

// FirstPaymentAt implements app.Reconciliations.
func (r *Repository) FirstPaymentAt(ctx context.Context) (time.Time, error) {
	var first sql.NullTime
	err := db.Conn(ctx, r.gdb).Raw("SELECT MIN(created_at) FROM payments").Row().Scan(&first)
	return first.Time.UTC(), err
}

const selectRecon = "SELECT id, channel, DATE_FORMAT(bill_date, '%Y-%m-%d'), status, fail_reason, bill_rows, matched, gross_fen, " +
	"refund_fen, fee_fen, net_fen, runs, created_at, updated_at FROM reconciliations"

func scanRecon(s interface{ Scan(...any) error }) (*recon.Reconciliation, error) {
	var rc recon.Reconciliation
	var day, status string
	if err := s.Scan(&rc.ID, &rc.Channel, &day, &status, &rc.FailReason, &rc.BillRows, &rc.Matched, &rc.GrossFen,
		&rc.RefundFen, &rc.FeeFen, &rc.NetFen, &rc.Runs, &rc.CreatedAt, &rc.UpdatedAt); err != nil {
		return nil, err
	}
	d, err := recon.ParseDay(day)
	if err != nil {
		return nil, fmt.Errorf("stored bill_date %q: %w", day, err)
	}
	rc.Day, rc.Status = d, recon.Status(status)
	rc.CreatedAt, rc.UpdatedAt = rc.CreatedAt.UTC(), rc.UpdatedAt.UTC()
	return &rc, nil
}

// ReconciliationOf implements app.Reconciliations.
func (r *Repository) ReconciliationOf(ctx context.Context, ch payment.Channel, day recon.Day) (*recon.Reconciliation, error) {
	return r.getRecon(ctx, db.Conn(ctx, r.gdb), "channel = ? AND bill_date = ?", string(ch), day.String())
}

// GetReconciliation implements app.Reconciliations.
func (r *Repository) GetReconciliation(ctx context.Context, id int64) (*recon.Reconciliation, error) {
	return r.getRecon(ctx, db.Conn(ctx, r.gdb), "id = ?", id)
}

func (r *Repository) getRecon(_ context.Context, conn *gorm.DB, where string, args ...any) (*recon.Reconciliation, error) {
	rc, err := scanRecon(conn.Raw(selectRecon+" WHERE "+where, args...).Row())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, payment.NotFoundError("reconciliation", args)
	}
	if err != nil {
		return nil, err
	}
	rows, err := conn.Raw("SELECT kind, out_trade_no, out_refund_no, ledger_fen, provider_fen, action, detail "+
		"FROM recon_discrepancies WHERE recon_id = ? ORDER BY id", rc.ID).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var d recon.Discrepancy
		var kind, action string
		if err := rows.Scan(&kind, &d.OutTradeNo, &d.OutRefundNo, &d.LedgerFen, &d.ProviderFen, &action, &d.Detail); err != nil {
			return nil, err
		}
		d.Kind, d.Action = recon.Kind(kind), recon.Action(action)
		rc.Discrepancies = append(rc.Discrepancies, d)
	}
	return rc, rows.Err()
}

// ListReconciliations implements app.Reconciliations (without the discrepancies).
func (r *Repository) ListReconciliations(ctx context.Context, ch payment.Channel, limit int) ([]*recon.Reconciliation, error) {
	q, args := selectRecon, []any{}
	if ch != "" {
		q, args = q+" WHERE channel = ?", append(args, string(ch))
	}
	rows, err := db.Conn(ctx, r.gdb).Raw(q+" ORDER BY bill_date DESC, channel LIMIT ?", append(args, limit)...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*recon.Reconciliation
	for rows.Next() {
		rc, err := scanRecon(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rc)
	}
	return out, rows.Err()
}

// SaveReconciliation implements app.Reconciliations. A FAILED run keeps the figures of an
// earlier successful one and only says it failed and why.
func (r *Repository) SaveReconciliation(ctx context.Context, rc *recon.Reconciliation, raw app.RawBill, fees []recon.Fee) error {
	now := time.Now().UTC()
	return db.WithTx(ctx, r.gdb, func(ctx context.Context, tx *gorm.DB) error {
		update := "status = VALUES(status), fail_reason = VALUES(fail_reason), runs = VALUES(runs), updated_at = VALUES(updated_at)"
		if rc.Status == recon.StatusSucceeded {
			update += ", bill_rows = VALUES(bill_rows), matched = VALUES(matched), gross_fen = VALUES(gross_fen), " +
				"refund_fen = VALUES(refund_fen), fee_fen = VALUES(fee_fen), net_fen = VALUES(net_fen)"
		}
		if err := tx.Exec("INSERT INTO reconciliations (id, channel, bill_date, status, fail_reason, bill_rows, matched, gross_fen, "+
			"refund_fen, fee_fen, net_fen, runs, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "+
			"ON DUPLICATE KEY UPDATE "+update, rc.ID, rc.Channel, rc.Day.String(), string(rc.Status), truncate(rc.FailReason, 1024),
			rc.BillRows, rc.Matched, int64(rc.GrossFen), int64(rc.RefundFen), int64(rc.FeeFen), int64(rc.NetFen), rc.Runs,
			rc.CreatedAt.UTC(), now).Error; err != nil {
			return err
		}
		// A concurrent first run of the same day may have won the insert: use its id.
		if err := tx.Raw("SELECT id FROM reconciliations WHERE channel = ? AND bill_date = ?", rc.Channel, rc.Day.String()).
			Row().Scan(&rc.ID); err != nil {
			return err
		}
		if err := insertDiscrepancies(tx, rc.ID, rc.Discrepancies, now); err != nil {
			return err
		}
		if err := upsertFees(tx, rc.Channel, rc.Day, fees); err != nil {
			return err
		}
		return tx.Exec("REPLACE INTO recon_files (recon_id, name, hash, body) VALUES (?,?,?,?)",
			rc.ID, truncate(raw.Name, 128), raw.Hash, raw.Body).Error
	})
}

const insertBatch = 1000

func insertDiscrepancies(tx *gorm.DB, reconID int64, ds []recon.Discrepancy, now time.Time) error {
	for start := 0; start < len(ds); start += insertBatch {
		part := ds[start:min(start+insertBatch, len(ds))]
		args := make([]any, 0, len(part)*9)
		for _, d := range part {
			args = append(args, reconID, string(d.Kind), d.OutTradeNo, d.OutRefundNo, int64(d.LedgerFen), int64(d.ProviderFen),
				string(d.Action), truncate(d.Detail, 512), now)
		}
		if err := tx.Exec("INSERT IGNORE INTO recon_discrepancies (recon_id, kind, out_trade_no, out_refund_no, ledger_fen, "+
			"provider_fen, action, detail, created_at) VALUES "+placeholders(len(part), 9), args...).Error; err != nil {
			return err
		}
	}
	return nil
}

func upsertFees(tx *gorm.DB, ch string, day recon.Day, fees []recon.Fee) error {
	for start := 0; start < len(fees); start += insertBatch {
		part := fees[start:min(start+insertBatch, len(fees))]
		args := make([]any, 0, len(part)*6)
		for _, f := range part {
			args = append(args, ch, f.OutTradeNo, f.OutRefundNo, day.String(), int64(f.GrossFen), int64(f.FeeFen))
		}
		if err := tx.Exec("INSERT INTO recon_fees (channel, out_trade_no, out_refund_no, bill_date, gross_fen, fee_fen) VALUES "+
			placeholders(len(part), 6)+" ON DUPLICATE KEY UPDATE bill_date = VALUES(bill_date), gross_fen = VALUES(gross_fen), "+
			"fee_fen = VALUES(fee_fen)", args...).Error; err != nil {
			return err
		}
	}
	return nil
}

// placeholders is "(?,…),(?,…)" for rows of n columns.
func placeholders(rows, n int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(one+",", rows), ",")
}
