package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/leader"
	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// Reconciliation storage and the ledger reads behind it (plain SQL: a day can hold many rows).

var _ app.Reconciliations = (*Repository)(nil)

// LedgerDay implements app.Reconciliations with two streaming queries: the payments of the
// account's channels paid within the day, an index-only range scan of idx_payments_paid
// (channel, paid_at, out_trade_no, status, amount_fen; the primary key id rides along) read
// row by row into the index without a string per row; then the refunds settled within the day
// (idx_refunds_succeeded) with their payments. Refunds of the day's payments settled on
// another day are not read: the comparison looks up a bill row's refund it does not find.
func (r *Repository) LedgerDay(ctx context.Context, chs []payment.Channel, from, to time.Time, into *app.LedgerIndex) error {
	if len(chs) == 0 {
		return nil
	}
	from, to = from.UTC(), to.UTC()
	sqlDB, err := r.gdb.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx) // both reads on one connection, the fee load on another
	if err != nil {
		return err
	}
	defer conn.Close()
	q, args := ledgerDayQuery(chs, from, to)
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	var id, amount int64
	var no, status sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&id, &no, &status, &amount); err != nil {
			rows.Close()
			return err
		}
		into.AddPayment(no, id, status, money.Fen(amount), true)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	in, args := channelsIn(chs)
	rows, err = conn.QueryContext(ctx, "SELECT p.id, p.out_trade_no, p.status, p.amount_fen, r.id, r.out_refund_no, r.status, r.amount_fen "+
		"FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.succeeded_at >= ? AND r.succeeded_at < ? AND p.channel IN ("+in+")",
		append([]any{from, to}, args...)...)
	if err != nil {
		return err
	}
	return scanLedgerRefunds(rows, into, true)
}

// ledgerDayQuery reads the payments of channels paid within [from, to).
func ledgerDayQuery(chs []payment.Channel, from, to time.Time) (string, []any) {
	in, args := channelsIn(chs)
	return "SELECT p.id, p.out_trade_no, p.status, p.amount_fen FROM payments p " +
		"WHERE p.channel IN (" + in + ") AND p.paid_at >= ? AND p.paid_at < ?", append(args, from.UTC(), to.UTC())
}

// ExplainLedgerDay is MariaDB's plan for LedgerDay's payment read, one line per table: type,
// key, rows, Extra (the benchmark shows it: one index-only range scan).
func (r *Repository) ExplainLedgerDay(ctx context.Context, chs []payment.Channel, from, to time.Time) ([]string, error) {
	q, args := ledgerDayQuery(chs, from, to)
	rows, err := db.Conn(ctx, r.gdb).Raw("EXPLAIN "+q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var line []string
		for i, c := range cols {
			switch c {
			case "table", "type", "key", "rows", "Extra":
				line = append(line, c+"="+vals[i].String)
			}
		}
		out = append(out, strings.Join(line, " "))
	}
	return out, rows.Err()
}

// channelsIn is "?,?,…" and the channels as arguments.
func channelsIn(chs []payment.Channel) (string, []any) {
	args := make([]any, len(chs))
	for i, ch := range chs {
		args[i] = string(ch)
	}
	return strings.TrimSuffix(strings.Repeat("?,", len(chs)), ","), args
}

// scanLedgerRefunds adds rows of (payment id, out_trade_no, status, amount, refund id,
// out_refund_no, status, amount): the payment as paid before the day (or already there), the
// refund as settled within the day or not.
func scanLedgerRefunds(rows *sql.Rows, into *app.LedgerIndex, settledInDay bool) error {
	defer rows.Close()
	var pid, pamount, rid, ramount int64
	var no, pstatus sql.RawBytes
	var rno, rstatus string
	for rows.Next() {
		if err := rows.Scan(&pid, &no, &pstatus, &pamount, &rid, &rno, &rstatus, &ramount); err != nil {
			return err
		}
		if settledInDay {
			into.AddPayment(no, pid, pstatus, money.Fen(pamount), false)
		} else {
			into.AddOutside(no, pid, pstatus, money.Fen(pamount))
		}
		into.AddRefund(no, rno, rid, payment.RefundStatus(rstatus), money.Fen(ramount), settledInDay)
	}
	return rows.Err()
}

// LedgerTrades implements app.Reconciliations.
func (r *Repository) LedgerTrades(ctx context.Context, chs []payment.Channel, nos []string, into *app.LedgerIndex) error {
	if len(nos) == 0 || len(chs) == 0 {
		return nil
	}
	conn := db.Conn(ctx, r.gdb)
	in, args := channelsIn(chs)
	rows, err := conn.Raw("SELECT p.id, p.out_trade_no, p.status, p.amount_fen FROM payments p WHERE p.channel IN ("+in+") AND p.out_trade_no IN ?",
		append(args, nos)...).Rows()
	if err != nil {
		return err
	}
	var ids []int64
	var id, amount int64
	var no, status sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&id, &no, &status, &amount); err != nil {
			rows.Close()
			return err
		}
		into.AddOutside(no, id, status, money.Fen(amount))
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil || len(ids) == 0 {
		return err
	}
	refunds, err := conn.Raw("SELECT p.id, p.out_trade_no, p.status, p.amount_fen, r.id, r.out_refund_no, r.status, r.amount_fen "+
		"FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.payment_id IN ?", ids).Rows()
	if err != nil {
		return err
	}
	return scanLedgerRefunds(refunds, into, false)
}

// FirstPaymentAt implements app.Reconciliations. MIN(created_at) has no index to use (a full
// scan of payments on every run and every look of the daily loop); ids are snowflakes, so the
// first attempts are the smallest ids, read off the primary key. Ids of processes whose clocks
// differ by a few milliseconds may interleave: the earliest of the first hundred is taken,
// which is the first payment to far better than the day this is checked against.
func (r *Repository) FirstPaymentAt(ctx context.Context) (time.Time, error) {
	var first sql.NullTime
	err := db.Conn(ctx, r.gdb).Raw("SELECT MIN(created_at) FROM (SELECT created_at FROM payments ORDER BY id LIMIT 100) f").Row().Scan(&first)
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
	return db.WithTx(ctx, r.gdb, func(ctx context.Context, tx *gorm.DB) error {
		return saveRun(ctx, tx.Statement.ConnPool, rc, &raw, 0)
	})
}

// execQuerier is a transaction: gorm's (SaveReconciliation) or the fee writer's *sql.Tx.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// saveRun writes the run, its new discrepancies and its raw file in tx. With raw nil, the raw
// file is already stored in tx under rawID (the fee writer stores it while the bill is parsed).
func saveRun(ctx context.Context, tx execQuerier, rc *recon.Reconciliation, raw *app.RawBill, rawID int64) error {
	now := time.Now().UTC()
	update := "status = VALUES(status), fail_reason = VALUES(fail_reason), runs = VALUES(runs), updated_at = VALUES(updated_at)"
	if rc.Status == recon.StatusSucceeded {
		update += ", bill_rows = VALUES(bill_rows), matched = VALUES(matched), gross_fen = VALUES(gross_fen), " +
			"refund_fen = VALUES(refund_fen), fee_fen = VALUES(fee_fen), net_fen = VALUES(net_fen)"
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO reconciliations (id, channel, bill_date, status, fail_reason, bill_rows, matched, gross_fen, "+
		"refund_fen, fee_fen, net_fen, runs, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "+
		"ON DUPLICATE KEY UPDATE "+update, rc.ID, rc.Channel, rc.Day.String(), string(rc.Status), truncate(rc.FailReason, 1024),
		rc.BillRows, rc.Matched, int64(rc.GrossFen), int64(rc.RefundFen), int64(rc.FeeFen), int64(rc.NetFen), rc.Runs,
		rc.CreatedAt.UTC(), now); err != nil {
		return err
	}
	// A concurrent first run of the same day may have won the insert: use its id.
	if err := tx.QueryRowContext(ctx, "SELECT id FROM reconciliations WHERE channel = ? AND bill_date = ?", rc.Channel, rc.Day.String()).
		Scan(&rc.ID); err != nil {
		return err
	}
	if err := insertDiscrepancies(ctx, tx, rc.ID, rc.Discrepancies, now); err != nil {
		return err
	}
	if raw != nil {
		_, err := tx.ExecContext(ctx, "REPLACE INTO recon_files (recon_id, name, hash, body) VALUES (?,?,?,?)",
			rc.ID, truncate(raw.Name, 128), raw.Hash, raw.Body)
		return err
	}
	if rawID == rc.ID {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM recon_files WHERE recon_id = ?", rc.ID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "UPDATE recon_files SET recon_id = ? WHERE recon_id = ?", rc.ID, rawID)
	return err
}

const insertBatch = 1000

func insertDiscrepancies(ctx context.Context, tx execQuerier, reconID int64, ds []recon.Discrepancy, now time.Time) error {
	for start := 0; start < len(ds); start += insertBatch {
		part := ds[start:min(start+insertBatch, len(ds))]
		args := make([]any, 0, len(part)*9)
		for _, d := range part {
			args = append(args, reconID, string(d.Kind), d.OutTradeNo, d.OutRefundNo, int64(d.LedgerFen), int64(d.ProviderFen),
				string(d.Action), truncate(d.Detail, 512), now)
		}
		if _, err := tx.ExecContext(ctx, "INSERT IGNORE INTO recon_discrepancies (recon_id, kind, out_trade_no, out_refund_no, ledger_fen, "+
			"provider_fen, action, detail, created_at) VALUES "+placeholders(len(part), 9), args...); err != nil {
			return err
		}
	}
	return nil
}

// WriteFees implements app.Reconciliations. A run's fees are stored as chunks of up to
// feeChunkRows fees, each one row of recon_fee_chunks holding a JSON array of
// [out_trade_no, gross_fen, fee_fen] (a refund adds its out_refund_no), read per payment and
// refund through the view recon_fees (migration 00006): a handful of INSERTs per day instead
// of one indexed row per bill row, which cost MariaDB more than parsing the whole bill.
//
// Everything is written in one transaction on its own connection and goroutine, while the bill
// is parsed: first the day is locked, its earlier chunks deleted and the raw file stored, then each
// chunk as the parser fills it (at most feeChunksQueued wait, so the parser waits for the
// database only when that many are queued). Commit stores the report in the same transaction,
// so a rerun replaces the day's fees, its report and its raw file at once; Abort leaves nothing.
func (r *Repository) WriteFees(ctx context.Context, ch payment.Channel, day recon.Day, reconID int64, raw app.RawBill) (app.FeeWriter, error) {
	sqlDB, err := r.gdb.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	w := &feeWriter{ctx: ctx, conn: conn, tx: tx, ch: string(ch), date: day.String(), rawID: reconID,
		chunks: make(chan feeChunk, feeChunksQueued), free: make(chan []byte, feeChunksQueued+2), done: make(chan error, 1)}
	for range feeChunksQueued + 1 {
		w.free <- make([]byte, 0, feeChunkRows*40)
	}
	w.buf = append(<-w.free, '[')
	go w.write(raw)
	return w, nil
}

const (
	feeChunkRows    = 4096
	feeChunksQueued = 4
)

var errFeesFailed = errors.New("storing the fees failed")

type feeChunk struct {
	no   int
	body []byte
}

type feeWriter struct {
	ctx      context.Context
	conn     *sql.Conn
	tx       *sql.Tx
	ch, date string
	rawID    int64

	chunks chan feeChunk // to the writing goroutine
	free   chan []byte   // back from it
	done   chan error    // its result, once chunks is closed
	failed atomic.Bool   // it failed (werr says why) or Abort: Add stops the parse
	mu     sync.Mutex
	werr   error
	buf    []byte    // the chunk being filled
	rows   int       // in buf
	next   int       // the next chunk's number
	ended  bool      // chunks closed
	once   sync.Once // the transaction ends once
}

// write runs the transaction's statements until the chunks end; after a failure it drains them.
func (w *feeWriter) write(raw app.RawBill) {
	// Chunk -1, always empty, is the day's lock: a concurrent run of the day waits here until
	// this one ends. (Two DELETEs of a day with no chunks yet would both pass, each holding a
	// gap lock the other's first INSERT waits for: a deadlock.)
	_, err := w.tx.ExecContext(w.ctx, "INSERT INTO recon_fee_chunks (channel, bill_date, chunk_no, fees) VALUES (?, ?, -1, '[]') "+
		"ON DUPLICATE KEY UPDATE fees = VALUES(fees)", w.ch, w.date)
	if err == nil {
		_, err = w.tx.ExecContext(w.ctx, "DELETE FROM recon_fee_chunks WHERE channel = ? AND bill_date = ? AND chunk_no >= 0", w.ch, w.date)
	}
	if err == nil {
		_, err = w.tx.ExecContext(w.ctx, "REPLACE INTO recon_files (recon_id, name, hash, body) VALUES (?,?,?,?)",
			w.rawID, truncate(raw.Name, 128), raw.Hash, raw.Body)
	}
	var ins *sql.Stmt
	if err == nil {
		ins, err = w.tx.PrepareContext(w.ctx, "INSERT INTO recon_fee_chunks (channel, bill_date, chunk_no, fees) VALUES (?,?,?,?)")
	}
	if err != nil {
		w.fail(err)
	}
	for c := range w.chunks {
		if err == nil && !w.failed.Load() { // failed: Abort, or the parse was told to stop
			if _, err = ins.ExecContext(w.ctx, w.ch, w.date, c.no, c.body); err != nil {
				w.fail(err)
			}
		}
		w.free <- c.body[:0]
	}
	if ins != nil {
		err = errors.Join(err, ins.Close())
	}
	if err != nil {
		w.fail(err)
	}
	w.done <- err
}

// fail records the first error of the writing goroutine and stops the parse.
func (w *feeWriter) fail(err error) {
	w.mu.Lock()
	if w.werr == nil {
		w.werr = err
	}
	w.mu.Unlock()
	w.failed.Store(true)
}

func (w *feeWriter) Add(f recon.Fee) error {
	if w.failed.Load() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.werr != nil {
			return fmt.Errorf("%w: %w", errFeesFailed, w.werr)
		}
		return errFeesFailed
	}
	b := w.buf
	if w.rows > 0 {
		b = append(b, ',')
	}
	b = append(b, '[')
	b = appendJSONString(b, f.OutTradeNo)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(f.GrossFen), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(f.FeeFen), 10)
	if f.OutRefundNo != "" {
		b = append(b, ',')
		b = appendJSONString(b, f.OutRefundNo)
	}
	b = append(b, ']')
	w.buf, w.rows = b, w.rows+1
	if w.rows == feeChunkRows {
		w.send()
		w.buf = append(<-w.free, '[')
	}
	return nil
}

// send queues the chunk being filled.
func (w *feeWriter) send() {
	w.chunks <- feeChunk{no: w.next, body: append(w.buf, ']')}
	w.next, w.buf, w.rows = w.next+1, nil, 0
}

// appendJSONString appends s as a JSON string (invalid UTF-8 becomes U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// end queues the last chunk (if commit) and waits for the writing goroutine.
func (w *feeWriter) end(commit bool) error {
	if w.ended {
		return errFeesFailed
	}
	w.ended = true
	if !commit {
		w.failed.Store(true)
	} else if w.rows > 0 && !w.failed.Load() {
		w.send()
	}
	close(w.chunks)
	return <-w.done
}

// Commit implements app.FeeWriter: the fees, the raw file and the report rc (its id may become
// that of a concurrent first run of the day that won) in one transaction. The leader's fences
// of ctx run here, at the end, so the lease's row is not held while the run repairs.
func (w *feeWriter) Commit(rc *recon.Reconciliation) error {
	err := w.end(true)
	for _, f := range leader.Fences(w.ctx) {
		if err != nil {
			break
		}
		err = f(w.ctx, w.tx)
	}
	if err == nil {
		err = saveRun(w.ctx, w.tx, rc, nil, w.rawID)
	}
	w.once.Do(func() {
		if err == nil {
			err = w.tx.Commit()
		} else {
			_ = w.tx.Rollback()
		}
		w.conn.Close()
	})
	return err
}

// Abort implements app.FeeWriter: nothing of the run is stored.
func (w *feeWriter) Abort() {
	if !w.ended {
		_ = w.end(false)
	}
	w.once.Do(func() {
		_ = w.tx.Rollback()
		w.conn.Close()
	})
}

// placeholders is "(?,…),(?,…)" for rows of n columns.
func placeholders(rows, n int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(one+",", rows), ",")
}
