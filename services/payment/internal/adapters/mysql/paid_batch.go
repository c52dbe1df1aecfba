package mysql

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/tracing"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// Group commit for MarkSucceeded. One success on its own costs BEGIN, the conditional UPDATE,
// two INSERTs (the notify log row, the outbox event) and a COMMIT with its redo-log fsync: five
// round trips against the one of a bare UPDATE (cmd/bench: 5.5 statements and 1 commit per
// notify without the batch, 1.7 and 0.24 with it). Successes that arrive while a batch is being
// written wait and go together in the next one: the same statements, multi-row, in one
// transaction. Nothing waits on a timer: a lone success is written at once, as a batch of one.
// Each caller still gets its answer only after the commit that holds its rows; if the batch
// fails for any reason (a taken notify dedupe key, a row that already left WAITING, a
// deadlock), it is rolled back and every success in it is written alone by the one-by-one
// transaction.
const (
	maxPaidBatch    = 64
	maxPaidFlushers = 2 // one batch committing while the next is written
	paidBatchBudget = 30 * time.Second
)

// group collects the calls that arrive while up to maxFlushers batches are in flight and hands
// them to flush together; a call returns when flush has closed its done channel.
type group[T any] struct {
	mu       sync.Mutex
	queue    []T
	flushing int
	flushers int
	maxBatch int
	flush    func([]T)
}

func (g *group[T]) add(item T) {
	g.mu.Lock()
	g.queue = append(g.queue, item)
	start := g.flushing < g.flushers
	if start {
		g.flushing++
	}
	g.mu.Unlock()
	if start {
		go g.loop()
	}
}

func (g *group[T]) loop() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), g.maxBatch)
		if n == 0 {
			g.flushing--
			g.queue = nil
			g.mu.Unlock()
			return
		}
		batch := make([]T, n)
		copy(batch, g.queue)
		g.queue = g.queue[n:]
		g.mu.Unlock()
		g.flush(batch)
	}
}

type paidBatcher struct {
	r *Repository
	g group[*paidReq]
}

func newPaidBatcher(r *Repository) *paidBatcher {
	b := &paidBatcher{r: r}
	b.g = group[*paidReq]{flushers: maxPaidFlushers, maxBatch: maxPaidBatch, flush: b.flush}
	return b
}

type paidReq struct {
	p       *payment.Payment
	ch      app.Changes
	changed bool
	err     error
	done    chan struct{}
	trace   string // the caller's traceparent: its events' outbox rows continue its trace
}

// batchable: the changes a success writes (notify log row, tasks, events); anything else takes
// the one-by-one path.
func batchable(ch app.Changes) bool {
	return ch.NewRefund == nil && ch.Refund == nil && len(ch.DoneTasks) == 0
}

func (b *paidBatcher) do(ctx context.Context, p *payment.Payment, ch app.Changes) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	q := &paidReq{p: p, ch: ch, done: make(chan struct{}), trace: tracing.Traceparent(ctx)}
	b.g.add(q)
	// Not abandoned on ctx: once queued, the caller learns whether it committed.
	<-q.done
	return q.changed, q.err
}

func (b *paidBatcher) flush(batch []*paidReq) {
	ctx, cancel := context.WithTimeout(context.Background(), paidBatchBudget)
	defer cancel()
	// A payment twice in one batch (a notify racing a poll): the later ones go alone after the
	// batch, where they find the row already moved.
	seen := make(map[int64]bool, len(batch))
	var first, later []*paidReq
	for _, q := range batch {
		if seen[q.p.ID] {
			later = append(later, q)
			continue
		}
		seen[q.p.ID] = true
		first = append(first, q)
	}
	if len(first) > 0 {
		if err := b.r.markSucceededBatch(ctx, first); err == nil {
			for _, q := range first {
				q.changed = true
				close(q.done)
			}
			first = nil
		}
	}
	for _, q := range append(first, later...) {
		q.changed, q.err = b.r.markSucceededOne(tracing.WithTraceparent(ctx, q.trace), q.p, q.ch)
		close(q.done)
	}
}

var errBatchRowMoved = errors.New("a payment of the batch already left WAITING/CLOSED")

// markSucceededBatch writes every success of qs (distinct payments) in one transaction, or
// nothing. Prebuilt multi-row statements rather than gorm's Create: on the notify hot path the
// model reflection cost more CPU than the statements themselves.
func (r *Repository) markSucceededBatch(ctx context.Context, qs []*paidReq) error {
	var (
		notes, tasks insertSQL
		evs          []app.Event
		traces       = map[string]string{} // event id -> its request's traceparent
	)
	notes.start("INSERT INTO notify_log (channel, out_trade_no, notify_id, dedupe_key, verified, outcome, refuse_reason, headers, body, body_sha256, received_at) VALUES ", 11, len(qs))
	tasks.start("INSERT INTO tasks (kind, ref_id, next_run_at, created_at) VALUES ", 4, len(qs))
	now := time.Now().UTC()
	for _, q := range qs {
		if n := q.ch.Notify; n != nil {
			row := toNotifyRow(*n)
			var dedupe any // NULL unless this notify claims its key
			if row.DedupeKey.Valid {
				dedupe = row.DedupeKey.String
			}
			notes.row(row.Channel, row.OutTradeNo, row.NotifyID, dedupe, row.Verified, row.Outcome, row.RefuseReason,
				row.Headers, row.Body, row.BodySHA256, row.ReceivedAt)
		}
		for _, t := range q.ch.Tasks {
			tasks.row(string(t.Kind), t.RefID, t.RunAt.UTC(), now)
		}
		evs = append(evs, q.ch.Events...)
		for _, ev := range q.ch.Events {
			traces[ev.ID] = q.trace
		}
	}
	ctx = amqpx.WithMessageTraces(ctx, traces)
	stmt, args := batchSucceedSQL(qs)
	return db.WithTx(ctx, r.gdb, func(ctx context.Context, tx *gorm.DB) error {
		res := tx.Exec(stmt, args...)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != int64(len(qs)) {
			return errBatchRowMoved
		}
		// Plain multi-row INSERTs: a taken dedupe or task key fails the batch, and the
		// one-by-one path then sorts out which success it was.
		for _, ins := range []*insertSQL{&notes, &tasks} {
			if ins.rows == 0 {
				continue
			}
			if err := tx.Exec(ins.sql.String(), ins.args...).Error; err != nil {
				return err
			}
		}
		if len(evs) > 0 && r.outbox != nil {
			return r.outbox.Add(ctx, evs...)
		}
		return nil
	})
}

// insertSQL builds one multi-row INSERT … VALUES (?,…),(?,…).
type insertSQL struct {
	sql   strings.Builder
	args  []any
	tuple string
	rows  int
}

func (b *insertSQL) start(head string, cols, rows int) {
	b.tuple = "(" + strings.Repeat("?,", cols-1) + "?)"
	b.sql.Grow(len(head) + rows*(len(b.tuple)+1))
	b.sql.WriteString(head)
	b.args = make([]any, 0, cols*rows)
}

func (b *insertSQL) row(vals ...any) {
	if b.rows > 0 {
		b.sql.WriteByte(',')
	}
	b.sql.WriteString(b.tuple)
	b.args = append(b.args, vals...)
	b.rows++
}

// batchSucceedSQL is the conditional UPDATE of MarkSucceeded for many rows at once: each row gets
// its own values by CASE id, and only rows still WAITING or CLOSED move. The values are those
// markSucceededOne writes (paymentRow's), taken without building the whole row.
func batchSucceedSQL(qs []*paidReq) (string, []any) {
	cols := []struct {
		name string
		val  func(*payment.Payment) any
	}{
		{"status", func(p *payment.Payment) any { return string(p.Status) }},
		{"live_key", func(p *payment.Payment) any {
			if k := p.LiveKey(); k != "" {
				return k
			}
			return nil
		}},
		{"provider_trade_no", func(p *payment.Payment) any { return p.ProviderTradeNo }},
		{"paid_at", func(p *payment.Payment) any {
			if p.PaidAt.IsZero() {
				return nil
			}
			return p.PaidAt.UTC()
		}},
		{"updated_at", func(p *payment.Payment) any { return p.UpdatedAt.UTC() }},
	}
	args := make([]any, 0, len(qs)*(2*len(cols)+1)+2)
	var b strings.Builder
	b.Grow(len(cols)*(len(qs)*len(" WHEN ? THEN ?")+40) + 2*len(qs) + 80)
	b.WriteString("UPDATE payments SET ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.name + " = CASE id")
		for _, q := range qs {
			b.WriteString(" WHEN ? THEN ?")
			args = append(args, q.p.ID, c.val(q.p))
		}
		b.WriteString(" END")
	}
	b.WriteString(" WHERE id IN (")
	for i, q := range qs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("?")
		args = append(args, q.p.ID)
	}
	b.WriteString(") AND status IN (?, ?)")
	args = append(args, string(payment.StatusWaiting), string(payment.StatusClosed))
	return b.String(), args
}
