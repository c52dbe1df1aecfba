package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
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
// held in memory nor written after it; Commit makes them visible, Abort leaves nothing. The
// parser appends each fee's line to a 64 KiB chunk and hands full chunks over a bounded channel
// to the load (its own connection and goroutine), so it waits for the database only when that
// many chunks are queued. A server that does not allow local_infile (MariaDB allows it by
// default) gets batches of INSERT … ON DUPLICATE KEY UPDATE in the same transaction instead.
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
	src := &chunkReader{chunks: make(chan []byte, feeChunksQueued), free: make(chan []byte, feeChunksQueued+2), aborted: make(chan struct{})}
	for range feeChunksQueued + 2 {
		src.free <- make([]byte, 0, feeChunkBytes+256)
	}
	gomysql.RegisterReaderHandler(w.name, func() io.Reader { return src })
	w.src, w.buf, w.done = src, <-src.free, make(chan error, 1)
	go func() {
		// The run's channel and day are the same on every line: SET, not sent 100,000 times.
		_, err := tx.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::"+w.name+"' REPLACE INTO TABLE recon_fees "+
			"CHARACTER SET utf8mb4 (out_trade_no, out_refund_no, gross_fen, fee_fen) SET channel = ?, bill_date = ?", w.ch, w.date)
		src.finish() // a writer still writing learns the load ended
		w.done <- err
	}()
	return w, nil
}

const (
	feeChunkBytes   = 64 << 10
	feeChunksQueued = 16
)

var (
	loadSeq     atomic.Int64
	loadEscaper = strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\n", "\\n")
	errAborted  = errors.New("fees aborted")
	errLoadDone = errors.New("the fee load ended early")
)

// chunkReader is the LOAD DATA file: the chunks the parser queued, in order, until closed.
type chunkReader struct {
	chunks  chan []byte
	free    chan []byte
	cur     []byte
	off     int
	aborted chan struct{} // closed: Read fails (the load rolls back)
	once    sync.Once
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for c.off == len(c.cur) {
		if c.cur != nil {
			c.free <- c.cur[:0]
			c.cur = nil
		}
		select {
		case b, ok := <-c.chunks:
			if !ok {
				select {
				case <-c.aborted:
					return 0, errAborted
				default:
				}
				return 0, io.EOF
			}
			c.cur, c.off = b, 0
		case <-c.aborted:
			return 0, errAborted
		}
	}
	n := copy(p, c.cur[c.off:])
	c.off += n
	return n, nil
}

// finish: the load ended (done or failed); no one reads the chunks any more. A writer waiting
// to queue a chunk or for a free one learns it (the free list closes).
func (c *chunkReader) finish() {
	c.once.Do(func() {
		for drained := false; !drained; {
			select {
			case _, ok := <-c.chunks:
				drained = !ok
			default:
				drained = true
			}
		}
		close(c.free)
	})
}

type feeWriter struct {
	ctx      context.Context
	tx       *sql.Tx
	ch, date string
	// LOAD DATA mode
	name string
	src  *chunkReader
	buf  []byte
	done chan error
	// INSERT mode
	batch []recon.Fee
}

func (w *feeWriter) Add(f recon.Fee) error {
	if w.src == nil {
		w.batch = append(w.batch, f)
		if len(w.batch) == insertBatch {
			return w.flushBatch()
		}
		return nil
	}
	b := w.buf
	b = appendEscaped(b, f.OutTradeNo)
	b = append(b, '\t')
	b = appendEscaped(b, f.OutRefundNo)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(f.GrossFen), 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(f.FeeFen), 10)
	b = append(b, '\n')
	w.buf = b
	if len(b) >= feeChunkBytes {
		return w.send()
	}
	return nil
}

// send queues the current chunk for the load and takes a free one.
func (w *feeWriter) send() error {
	select {
	case w.src.chunks <- w.buf:
	case err := <-w.done:
		w.done <- err
		return errors.Join(errLoadDone, err)
	}
	b, ok := <-w.src.free
	if !ok {
		return errLoadDone
	}
	w.buf = b
	return nil
}

// appendEscaped appends s as a LOAD DATA field (backslash, TAB and newline escaped).
func appendEscaped(b []byte, s string) []byte {
	if strings.ContainsAny(s, "\\\t\n") {
		return append(b, loadEscaper.Replace(s)...)
	}
	return append(b, s...)
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
	if w.src == nil {
		err = w.flushBatch()
	} else {
		if len(w.buf) > 0 {
			err = w.send()
		}
		if err == nil {
			close(w.src.chunks)
		} else {
			close(w.src.aborted)
		}
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
	if w.src != nil {
		close(w.src.aborted)
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
