package mysql

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// Reconciliation storage and the ledger reads behind it (plain SQL: a day can hold many rows).

var _ app.Reconciliations = (*Repository)(nil)

const ledgerPaymentCols = "p.id, p.out_trade_no, p.status, p.amount_fen, p.paid_at"

// LedgerDay implements app.Reconciliations: the payments paid within the day (index on
// channel, paid_at) with their refunds, plus the payments of refunds settled within it.
func (r *Repository) LedgerDay(ctx context.Context, ch payment.Channel, from, to time.Time) (map[string]*app.LedgerPayment, error) {
	from, to = from.UTC(), to.UTC()
	conn := db.Conn(ctx, r.gdb)
	rows, err := conn.Raw("SELECT "+ledgerPaymentCols+" FROM payments p WHERE p.channel = ? AND p.paid_at >= ? AND p.paid_at < ?",
		ch, from, to).Rows()
	if err != nil {
		return nil, err
	}
	out, byID, err := scanLedgerPayments(rows)
	if err != nil {
		return nil, err
	}
	refunds, err := conn.Raw("SELECT r.id, r.payment_id, r.out_refund_no, r.status, r.amount_fen, r.succeeded_at FROM payments p "+
		"JOIN refunds r ON r.payment_id = p.id WHERE p.channel = ? AND p.paid_at >= ? AND p.paid_at < ?", ch, from, to).Rows()
	if err != nil {
		return nil, err
	}
	if err := scanLedgerRefunds(refunds, byID); err != nil {
		return nil, err
	}
	// Refunds settled within the day of payments paid before it.
	var older []string
	settled, err := conn.Raw("SELECT DISTINCT p.out_trade_no FROM refunds r JOIN payments p ON p.id = r.payment_id "+
		"WHERE r.succeeded_at >= ? AND r.succeeded_at < ? AND p.channel = ?", from, to, ch).Rows()
	if err != nil {
		return nil, err
	}
	defer settled.Close()
	for settled.Next() {
		var no string
		if err := settled.Scan(&no); err != nil {
			return nil, err
		}
		if out[no] == nil {
			older = append(older, no)
		}
	}
	if err := settled.Err(); err != nil {
		return nil, err
	}
	for start := 0; start < len(older); start += insertBatch {
		more, err := r.LedgerTrades(ctx, ch, older[start:min(start+insertBatch, len(older))])
		if err != nil {
			return nil, err
		}
		for no, lp := range more {
			out[no] = lp
		}
	}
	return out, nil
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
		return nil, payment.NotFoundError("reconciliation", strings.TrimSpace(fmt.Sprintln(args...)))
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
func (r *Repository) SaveReconciliation(ctx context.Context, rc *recon.Reconciliation, raw app.RawBill) error {
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

// WriteFees implements app.Reconciliations: the fees stream into one transaction with LOAD
// DATA LOCAL INFILE (REPLACE: a rerun overwrites) while the bill is parsed, so they are neither
// held in memory nor written after it; Commit makes them visible, Abort leaves nothing. A
// server that does not allow local_infile (MariaDB allows it by default) gets batches of
// INSERT … ON DUPLICATE KEY UPDATE in the same transaction instead.
func (r *Repository) WriteFees(ctx context.Context, ch payment.Channel, day recon.Day) (app.FeeWriter, error) {
	sqlDB, err := r.gdb.DB()
	if err != nil {
		return nil, err
	}
	var localInfile bool
	if err := sqlDB.QueryRowContext(ctx, "SELECT @@local_infile").Scan(&localInfile); err != nil {
		return nil, err
	}
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	w := &feeWriter{ctx: ctx, tx: tx, ch: string(ch), date: day.String()}
	if !localInfile {
		return w, nil
	}
	w.name = fmt.Sprintf("recon-fees-%d", loadSeq.Add(1))
	pr, pw := io.Pipe()
	gomysql.RegisterReaderHandler(w.name, func() io.Reader { return pr })
	w.pw, w.bw, w.done = pw, bufio.NewWriterSize(pw, 64<<10), make(chan error, 1)
	go func() {
		_, err := tx.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::"+w.name+"' REPLACE INTO TABLE recon_fees "+
			"CHARACTER SET utf8mb4 (channel, out_trade_no, out_refund_no, bill_date, gross_fen, fee_fen)")
		pr.CloseWithError(io.ErrClosedPipe) // a writer still writing learns the load ended
		w.done <- err
	}()
	return w, nil
}

var (
	loadSeq     atomic.Int64
	loadEscaper = strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\n", "\\n")
	errAborted  = errors.New("fees aborted")
)

type feeWriter struct {
	ctx      context.Context
	tx       *sql.Tx
	ch, date string
	// LOAD DATA mode
	name string
	pw   *io.PipeWriter
	bw   *bufio.Writer
	done chan error
	// INSERT mode
	batch []recon.Fee
}

func (w *feeWriter) Add(f recon.Fee) error {
	if w.bw == nil {
		w.batch = append(w.batch, f)
		if len(w.batch) == insertBatch {
			return w.flushBatch()
		}
		return nil
	}
	bw := w.bw
	bw.WriteString(w.ch)
	bw.WriteByte('\t')
	bw.WriteString(loadEscaper.Replace(f.OutTradeNo))
	bw.WriteByte('\t')
	bw.WriteString(loadEscaper.Replace(f.OutRefundNo))
	bw.WriteByte('\t')
	bw.WriteString(w.date)
	bw.WriteByte('\t')
	bw.WriteString(strconv.FormatInt(int64(f.GrossFen), 10))
	bw.WriteByte('\t')
	bw.WriteString(strconv.FormatInt(int64(f.FeeFen), 10))
	return bw.WriteByte('\n')
}

func (w *feeWriter) flushBatch() error {
	if len(w.batch) == 0 {
		return nil
	}
	args := make([]any, 0, len(w.batch)*6)
	for _, f := range w.batch {
		args = append(args, w.ch, f.OutTradeNo, f.OutRefundNo, w.date, int64(f.GrossFen), int64(f.FeeFen))
	}
	_, err := w.tx.ExecContext(w.ctx, "INSERT INTO recon_fees (channel, out_trade_no, out_refund_no, bill_date, gross_fen, fee_fen) VALUES "+
		placeholders(len(w.batch), 6)+" ON DUPLICATE KEY UPDATE bill_date = VALUES(bill_date), gross_fen = VALUES(gross_fen), "+
		"fee_fen = VALUES(fee_fen)", args...)
	w.batch = w.batch[:0]
	return err
}

func (w *feeWriter) Commit() error {
	var err error
	if w.bw == nil {
		err = w.flushBatch()
	} else {
		err = w.bw.Flush()
		w.pw.CloseWithError(err)
		err = errors.Join(err, <-w.done)
		gomysql.DeregisterReaderHandler(w.name)
	}
	if err != nil {
		_ = w.tx.Rollback()
		return err
	}
	return w.tx.Commit()
}

func (w *feeWriter) Abort() {
	if w.bw != nil {
		w.pw.CloseWithError(errAborted)
		<-w.done
		gomysql.DeregisterReaderHandler(w.name)
	}
	_ = w.tx.Rollback()
}

// placeholders is "(?,…),(?,…)" for rows of n columns.
func placeholders(rows, n int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(one+",", rows), ",")
}
