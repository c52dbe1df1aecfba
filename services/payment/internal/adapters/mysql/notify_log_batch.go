package mysql

import (
	"context"
	"time"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/services/payment/internal/app"
)

// The notify log is written outside the state change (handle_notify.go says why), one row per
// notify, before the provider gets its answer. Alone, each row would be an autocommit INSERT
// with its own commit; rows that arrive while another batch is being written go together as
// one multi-row INSERT, one commit. A lone row is written at once. If a batch fails (a taken
// dedupe key), each of its rows is written alone.
const (
	maxNoteBatch    = 64
	maxNoteFlushers = 2
	noteBudget      = 10 * time.Second
)

type noteBatcher struct {
	r *Repository
	g group[*noteReq]
}

type noteReq struct {
	row  notifyRow
	err  error
	done chan struct{}
}

func newNoteBatcher(r *Repository) *noteBatcher {
	b := &noteBatcher{r: r}
	b.g = group[*noteReq]{flushers: maxNoteFlushers, maxBatch: maxNoteBatch, flush: b.flush}
	return b
}

func (b *noteBatcher) do(ctx context.Context, rec app.NotifyRecord) error {
	if db.InTx(ctx) { // inside someone's transaction: the row commits with it
		return b.r.insertNote(ctx, toNotifyRow(rec))
	}
	q := &noteReq{row: toNotifyRow(rec), done: make(chan struct{})}
	b.g.add(q)
	<-q.done // once queued, the caller learns whether its row was written
	return q.err
}

func (b *noteBatcher) flush(batch []*noteReq) {
	ctx, cancel := context.WithTimeout(context.Background(), noteBudget)
	defer cancel()
	if len(batch) > 1 {
		var ins insertSQL
		ins.start(notifyInsert, 11, len(batch))
		for _, q := range batch {
			ins.row(noteArgs(q.row)...)
		}
		if err := b.r.gdb.WithContext(ctx).Exec(ins.sql.String(), ins.args...).Error; err == nil {
			for _, q := range batch {
				close(q.done)
			}
			return
		}
	}
	for _, q := range batch {
		q.err = b.r.insertNote(ctx, q.row)
		close(q.done)
	}
}

const notifyInsert = "INSERT INTO notify_log (channel, out_trade_no, notify_id, dedupe_key, verified, outcome, refuse_reason, headers, body, body_sha256, received_at) VALUES "

func noteArgs(row notifyRow) []any {
	var dedupe any // NULL unless this notify claims its key
	if row.DedupeKey.Valid {
		dedupe = row.DedupeKey.String
	}
	return []any{row.Channel, row.OutTradeNo, row.NotifyID, dedupe, row.Verified, row.Outcome, row.RefuseReason,
		row.Headers, row.Body, row.BodySHA256, row.ReceivedAt}
}

// insertNote writes one row. A dedupe key another row holds already (one provider notify id
// accepted for two trades: not something a provider does, but the row must be kept anyway) is
// written without the key, its refuse reason saying so.
func (r *Repository) insertNote(ctx context.Context, row notifyRow) error {
	var ins insertSQL
	ins.start(notifyInsert, 11, 1)
	ins.row(noteArgs(row)...)
	err := db.Conn(ctx, r.gdb).Exec(ins.sql.String(), ins.args...).Error
	if err == nil || !db.IsDuplicateKey(err) || !row.DedupeKey.Valid {
		return err
	}
	row.RefuseReason = truncate("notify id already logged as "+row.DedupeKey.String+"; "+row.RefuseReason, 512)
	row.DedupeKey.Valid = false
	return r.insertNote(ctx, row)
}
