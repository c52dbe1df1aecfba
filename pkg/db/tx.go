package db

import (
	"context"

	"gorm.io/gorm"
)

type txKey struct{}

// txState is what a transaction carries in its context: the gorm handle and the work to do
// once it has committed.
type txState struct {
	tx          *gorm.DB
	afterCommit []func()
}

// WithTx runs fn in one transaction; repositories called with the returned context join it.
// It lets an adapter compose several writes (state change + outbox row) atomically without the
// app layer ever seeing gorm. Called inside another WithTx, it joins that transaction.
func WithTx(ctx context.Context, gdb *gorm.DB, fn func(ctx context.Context, tx *gorm.DB) error) error {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		return fn(ctx, st.tx)
	}
	st := &txState{}
	err := gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		st.tx = tx
		return fn(context.WithValue(ctx, txKey{}, st), tx)
	})
	if err != nil {
		return err
	}
	for _, f := range st.afterCommit {
		f()
	}
	return nil
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
