package db

import (
	"context"

	"gorm.io/gorm"
)

type txKey struct{}

// WithTx runs fn in one transaction; repositories called with the returned context join it.
// It lets an adapter compose several writes (state change + outbox row) atomically without the
// app layer ever seeing gorm.
func WithTx(ctx context.Context, gdb *gorm.DB, fn func(ctx context.Context, tx *gorm.DB) error) error {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(ctx, tx)
	}
	return gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, tx), tx)
	})
}

// Conn returns the transaction carried by ctx, or gdb bound to ctx.
func Conn(ctx context.Context, gdb *gorm.DB) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return gdb.WithContext(ctx)
}
