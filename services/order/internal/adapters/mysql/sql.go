package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

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
