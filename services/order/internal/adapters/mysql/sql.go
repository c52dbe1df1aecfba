package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
)

// sqlConn is the database/sql handle under gorm (the transaction in ctx, if any): hot paths
// use it directly and skip gorm's reflection and callback chain.
type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func sqlConn(ctx context.Context, gdb *gorm.DB) (sqlRunner, error) {
	pool := db.Conn(ctx, gdb).Statement.ConnPool
	r, ok := pool.(sqlRunner)
	if !ok {
		return nil, fmt.Errorf("gorm connection pool %T is not database/sql", pool)
	}
	return r, nil
}

// inList appends "(?, ?, …)" for ids to prefix.
func inList[T string | int64](prefix string, ids []T) (string, []any) {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('(')
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
		args[i] = id
	}
	b.WriteByte(')')
	return b.String(), args
}

func mysqlErrno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// isRetryable: a deadlock (1213) rolled the whole transaction back; running it again is safe.
func isRetryable(err error) bool { return mysqlErrno(err) == 1213 }

// withRetry runs one transaction, again up to twice when MySQL chose it as a deadlock victim.
// Inside a caller's transaction (a consumer's) the caller owns the retry: MySQL already rolled
// that whole transaction back.
func withRetry(ctx context.Context, gdb *gorm.DB, fn func(ctx context.Context, tx *gorm.DB) error) error {
	if _, nested := db.Conn(ctx, gdb).Statement.ConnPool.(gorm.TxCommitter); nested {
		return fn(ctx, db.Conn(ctx, gdb))
	}
	var err error
	for range 3 {
		err = db.WithTx(ctx, gdb, fn)
		if !isRetryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}
