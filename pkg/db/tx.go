package db

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/leader"
	"github.com/paysuite/paysuite/pkg/pause"
	"github.com/paysuite/paysuite/pkg/sqlerr"
)

type txKey struct{}

// IsConflict reports whether err is the server rolling a transaction back for a conflict: a
// deadlock or, on Galera, a certification failure (both error 1213).
func IsConflict(err error) bool { return sqlerr.Conflict(err) }

// txState is what a transaction carries in its context: the gorm handle and the work to do
// once it has committed.
type txState struct {
	tx          *gorm.DB
	afterCommit []func()
}

// MaxTxAttempts bounds how often WithTx runs a transaction that the server rolled back as a
// deadlock victim or, on Galera, because it failed certification at commit.
const MaxTxAttempts = 5

// TxRetries counts the transactions WithTx ran again, by cause ("deadlock": error 1213, which
// is also how Galera reports a certification failure at commit; "lock_wait_timeout": 1205).
// pkg/metrics registers it on every service's /metrics as paysuite_tx_retries_total.
var TxRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "paysuite_tx_retries_total",
	Help: "Transactions run again after the server rolled them back (deadlock or Galera certification failure, lock wait timeout).",
}, []string{"cause"})

// WithTx runs fn in one transaction; repositories called with the returned context join it.
// It lets an adapter compose several writes (state change + outbox row) atomically without the
// app layer ever seeing gorm. Called inside another WithTx, it joins that transaction (and the
// outer one owns any retry).
//
// A transaction the server rolled back as a deadlock victim or, on a Galera cluster, because a
// write on another node won certification, runs again from the start, up to MaxTxAttempts times
// with a jittered backoff, each retry counted in TxRetries. fn must therefore do nothing outside
// the database that it cannot do twice; work for after the commit goes through AfterCommit.
func WithTx(ctx context.Context, gdb *gorm.DB, fn func(ctx context.Context, tx *gorm.DB) error) error {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		return fn(ctx, st.tx)
	}
	var err error
	for attempt := 1; ; attempt++ {
		st := &txState{}
		err = gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			st.tx = tx
			txctx := context.WithValue(ctx, txKey{}, st)
			if fences := leader.Fences(ctx); len(fences) > 0 {
				exec, ok := tx.Statement.ConnPool.(leader.Execer)
				if !ok {
					return fmt.Errorf("gorm transaction %T cannot run a fence", tx.Statement.ConnPool)
				}
				for _, f := range fences {
					if err := f(txctx, exec); err != nil {
						return err
					}
				}
			}
			return fn(txctx, tx)
		})
		if err == nil {
			for _, f := range st.afterCommit {
				f()
			}
			return nil
		}
		cause := sqlerr.RetryCause(err)
		if cause == "" || attempt >= MaxTxAttempts || ctx.Err() != nil {
			return err
		}
		TxRetries.WithLabelValues(cause).Inc()
		if !pause.For(ctx, txBackoff(attempt)) {
			return err
		}
	}
}

// txBackoff is the wait before retry n (n >= 1): 5ms doubling to at most 200ms, jittered over
// [d/2, d] so two transactions that conflicted do not meet again in lockstep.
func txBackoff(n int) time.Duration {
	d := 5 * time.Millisecond << min(n-1, 6)
	d = min(d, 200*time.Millisecond)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// AfterCommit runs f once the transaction carried by ctx has committed, and never if it rolls
// back; without a transaction in ctx it runs f now. For side effects others may observe (waking
// a worker, telling a live watcher) that must not announce what might still be undone.
func AfterCommit(ctx context.Context, f func()) {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		st.afterCommit = append(st.afterCommit, f)
		return
	}
	f()
}

// Conn returns the transaction carried by ctx, or gdb bound to ctx.
func Conn(ctx context.Context, gdb *gorm.DB) *gorm.DB {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		return st.tx
	}
	return gdb.WithContext(ctx)
}
