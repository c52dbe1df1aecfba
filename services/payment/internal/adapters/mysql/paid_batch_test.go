package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/events"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

type batchEnv struct {
	t    *testing.T
	ctx  context.Context
	repo *Repository
	next int64
}

func newBatchEnv(t *testing.T) *batchEnv {
	ctx := context.Background()
	log := testkit.Logger(t)
	gdb, err := db.Open(ctx, testkit.MySQLDSN(t), "payment", Migrations(), log)
	if err != nil {
		t.Fatal(err)
	}
	if err := amqpx.MigrateOutbox(ctx, gdb, log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := gdb.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return &batchEnv{t: t, ctx: ctx, repo: NewRepository(gdb, events.NewOutbox(gdb)), next: time.Now().UnixNano()}
}

// waiting stores a WAITING payment.
func (e *batchEnv) waiting() *payment.Payment {
	e.t.Helper()
	e.next++
	now := time.Now().UTC()
	p, err := payment.New(e.next, e.next, "u", payment.ChannelAlipayQR, fmt.Sprintf("PST%d", e.next), money.Fen(100), now.Add(time.Hour), now, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, _, err := e.repo.CreatePayment(e.ctx, p, app.Changes{}); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// success is what recordPaid hands MarkSucceeded for a notify with this dedupe key.
func (e *batchEnv) success(p *payment.Payment, dedupe string) *paidReq {
	e.t.Helper()
	now := time.Now().UTC()
	paid := *p
	if err := paid.Succeed("T"+p.OutTradeNo, p.Amount, now, now); err != nil {
		e.t.Fatal(err)
	}
	e.next++
	return &paidReq{p: &paid, done: make(chan struct{}), ch: app.Changes{
		Tasks:  []app.Task{{Kind: app.TaskMarkOrderPaid, RefID: p.ID, RunAt: now}},
		Events: []app.Event{{ID: strconv.FormatInt(e.next, 10), Type: app.EventSucceeded, Payment: paid, OccurredAt: now}},
		Notify: &app.NotifyRecord{Channel: p.Channel, OutTradeNo: p.OutTradeNo, NotifyID: dedupe, DedupeKey: "alipay:" + dedupe,
			Verified: true, Outcome: app.NotifyAccepted, Body: "b", ReceivedAt: now},
	}}
}

func (e *batchEnv) count(q string, args ...any) int {
	e.t.Helper()
	var n int64
	if err := e.repo.gdb.Raw(q, args...).Scan(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return int(n)
}

func (e *batchEnv) status(p *payment.Payment) payment.Status {
	e.t.Helper()
	got, err := e.repo.GetPayment(e.ctx, p.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got.Status
}

func TestBatchWritesEverySuccessInOneTransaction(t *testing.T) {
	e := newBatchEnv(t)
	ps := []*payment.Payment{e.waiting(), e.waiting(), e.waiting()}
	qs := make([]*paidReq, len(ps))
	for i, p := range ps {
		qs[i] = e.success(p, fmt.Sprint("ok", i))
	}
	if err := e.repo.markSucceededBatch(e.ctx, qs); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		got, err := e.repo.GetPayment(e.ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != payment.StatusSucceeded || got.ProviderTradeNo != "T"+p.OutTradeNo || got.PaidAt.IsZero() || got.LiveKey() != "" {
			t.Fatalf("payment %d after the batch: %+v", p.ID, got)
		}
	}
	for q, want := range map[string]int{
		"SELECT COUNT(*) FROM notify_log WHERE outcome = 'ACCEPTED' AND dedupe_key IS NOT NULL": 3,
		"SELECT COUNT(*) FROM tasks WHERE kind = '" + string(app.TaskMarkOrderPaid) + "'":       3,
		"SELECT COUNT(*) FROM outbox_messages":                                                  3,
	} {
		if got := e.count(q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
}

func TestBatchIsAllOrNothing(t *testing.T) {
	e := newBatchEnv(t)
	done, fresh, taken := e.waiting(), e.waiting(), e.waiting()
	if err := e.repo.markSucceededBatch(e.ctx, []*paidReq{e.success(done, "first"), e.success(taken, "taken")}); err != nil {
		t.Fatal(err)
	}
	before := e.count("SELECT COUNT(*) FROM notify_log") + e.count("SELECT COUNT(*) FROM outbox_messages") + e.count("SELECT COUNT(*) FROM tasks")
	for name, batch := range map[string][]*paidReq{
		"row already SUCCEEDED": {e.success(fresh, "f1"), e.success(done, "again")},
		"dedupe key taken":      {e.success(fresh, "f2"), e.success(e.waiting(), "taken")},
	} {
		if err := e.repo.markSucceededBatch(e.ctx, batch); err == nil {
			t.Fatalf("%s: the batch committed", name)
		}
		if e.status(fresh) != payment.StatusWaiting {
			t.Fatalf("%s: the other payment of the failed batch moved", name)
		}
	}
	after := e.count("SELECT COUNT(*) FROM notify_log") + e.count("SELECT COUNT(*) FROM outbox_messages") + e.count("SELECT COUNT(*) FROM tasks")
	if after != before {
		t.Fatalf("failed batches left %d rows behind", after-before)
	}
}

// A failed batch falls back to one transaction per success, so each caller gets the answer it
// would have got alone.
func TestFlushFallsBackOneByOne(t *testing.T) {
	e := newBatchEnv(t)
	a, b, c := e.waiting(), e.waiting(), e.waiting()
	qa, qaAgain, qb, qc := e.success(a, "a"), e.success(a, "a2"), e.success(b, "b"), e.success(c, "b") // c reuses b's notify id
	e.repo.paid.flush([]*paidReq{qa, qb, qaAgain, qc})
	for _, q := range []*paidReq{qa, qb, qaAgain, qc} {
		select {
		case <-q.done:
		default:
			t.Fatal("a caller was not answered")
		}
	}
	if !qa.changed || qa.err != nil || !qb.changed || qb.err != nil {
		t.Fatalf("a: %v %v, b: %v %v; want both changed", qa.changed, qa.err, qb.changed, qb.err)
	}
	if qaAgain.changed || qaAgain.err != nil {
		t.Fatalf("second success of a: %v %v; want unchanged, no error", qaAgain.changed, qaAgain.err)
	}
	if qc.changed || !errors.Is(qc.err, app.ErrDuplicateNotify) {
		t.Fatalf("c with b's notify id: %v %v; want ErrDuplicateNotify", qc.changed, qc.err)
	}
	if e.status(c) != payment.StatusWaiting {
		t.Fatal("c moved on a replayed notify id")
	}
	if got := e.count("SELECT COUNT(*) FROM outbox_messages"); got != 2 {
		t.Fatalf("outbox rows = %d, want 2", got)
	}
}

func TestConcurrentMarkSucceeded(t *testing.T) {
	e := newBatchEnv(t)
	const n = 24
	ps := make([]*payment.Payment, n)
	qs := make([]*paidReq, 2*n)
	for i := range ps {
		ps[i] = e.waiting()
		qs[i], qs[n+i] = e.success(ps[i], fmt.Sprint("n", i)), e.success(ps[i], fmt.Sprint("dup", i))
	}
	changed := make([]bool, 2*n)
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := e.repo.MarkSucceeded(e.ctx, q.p, q.ch)
			if err != nil {
				t.Error(err)
			}
			changed[i] = ok
		}()
	}
	wg.Wait()
	for i, p := range ps {
		if changed[i] == changed[n+i] {
			t.Errorf("payment %d: changed %v and %v; want exactly one", p.ID, changed[i], changed[n+i])
		}
		if e.status(p) != payment.StatusSucceeded {
			t.Errorf("payment %d not SUCCEEDED", p.ID)
		}
	}
	if got := e.count("SELECT COUNT(*) FROM outbox_messages"); got != n {
		t.Fatalf("outbox rows = %d, want %d", got, n)
	}
}

// The batch's hand-built INSERTs and UPDATE must write exactly the rows the one-by-one path
// (gorm models) writes for the same success.
func TestBatchWritesTheSameRowsAsOneByOne(t *testing.T) {
	e := newBatchEnv(t)
	one, batched := e.waiting(), e.waiting()
	qOne, qBatch := e.success(one, "same-one"), e.success(batched, "same-batch")
	for _, q := range []*paidReq{qOne, qBatch} {
		q.ch.Notify.Headers = "Content-Type: application/x-www-form-urlencoded\nX-Odd: \"quoted\" \\ 支付\n"
		q.ch.Notify.Body = "a=1&b=" + strings.Repeat("x", 3000) + "&c=?&d=%27"
	}
	if changed, err := e.repo.markSucceededOne(e.ctx, qOne.p, qOne.ch); err != nil || !changed {
		t.Fatalf("one by one: %v %v", changed, err)
	}
	if err := e.repo.markSucceededBatch(e.ctx, []*paidReq{qBatch}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query   string
		ignored []string // columns that differ by construction (ids, keys)
		one     []any
		batched []any
	}{
		{"SELECT * FROM payments WHERE id = ?", []string{"id", "order_id", "out_trade_no", "provider_trade_no", "paid_at", "updated_at", "created_at", "expire_at"},
			[]any{one.ID}, []any{batched.ID}},
		{"SELECT * FROM notify_log WHERE out_trade_no = ?", []string{"id", "out_trade_no", "notify_id", "dedupe_key", "received_at"},
			[]any{one.OutTradeNo}, []any{batched.OutTradeNo}},
		{"SELECT * FROM tasks WHERE ref_id = ?", []string{"id", "ref_id", "next_run_at", "created_at"},
			[]any{one.ID}, []any{batched.ID}},
		{"SELECT * FROM outbox_messages WHERE message_id = ?", []string{"id", "message_id", "body", "headers", "created_at"},
			[]any{qOne.ch.Events[0].ID}, []any{qBatch.ch.Events[0].ID}},
	} {
		a, b := e.row(c.query, c.one...), e.row(c.query, c.batched...)
		for _, k := range c.ignored {
			if (a[k] == nil) != (b[k] == nil) {
				t.Errorf("%s: %s is %v one by one, %v batched", c.query, k, a[k], b[k])
			}
			delete(a, k)
			delete(b, k)
		}
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s:\none by one %v\nbatched    %v", c.query, a, b)
		}
	}
	var n app.NotifyRecord
	got, err := e.repo.ListNotifies(e.ctx, batched.OutTradeNo)
	if err != nil || len(got) != 1 {
		t.Fatalf("notifies of the batched payment: %v %v", got, err)
	}
	n = got[0]
	want := *qBatch.ch.Notify
	if n.Headers != want.Headers || n.Body != want.Body || n.DedupeKey != want.DedupeKey || !n.ReceivedAt.Equal(want.ReceivedAt.Truncate(time.Microsecond)) {
		t.Fatalf("notify row read back %+v, wrote %+v", n, want)
	}
}

// row reads one row as column → text (NULL as nil).
func (e *batchEnv) row(q string, args ...any) map[string]any {
	e.t.Helper()
	rows, err := e.repo.gdb.Raw(q, args...).Rows()
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		e.t.Fatalf("%s %v: no row", q, args)
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		e.t.Fatal(err)
	}
	out := make(map[string]any, len(cols))
	for i, c := range cols {
		if vals[i] != nil {
			out[c] = string(vals[i])
		} else {
			out[c] = nil
		}
	}
	return out
}
