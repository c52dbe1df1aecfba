package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// Every notify first reads its payment by out_trade_no. Under load that read was one round trip
// per notify, as many as the whole group-committed write of several notifies. Lookups that
// arrive while others are in flight go together as one SELECT … WHERE out_trade_no IN (…): the
// same committed read each would have made alone, just shared. A lone lookup goes at once.
const (
	maxLookupBatch    = 64
	maxLookupFlushers = 2
	lookupBudget      = 10 * time.Second
)

type lookupBatcher struct {
	r *Repository
	g group[*lookupReq]
}

type lookupReq struct {
	no   string
	row  paymentRow
	err  error
	done chan struct{}
}

func newLookupBatcher(r *Repository) *lookupBatcher {
	b := &lookupBatcher{r: r}
	b.g = group[*lookupReq]{flushers: maxLookupFlushers, maxBatch: maxLookupBatch, flush: b.flush}
	return b
}

func (b *lookupBatcher) get(ctx context.Context, no string) (paymentRow, error) {
	conn := db.Conn(ctx, b.r.gdb).Statement.ConnPool
	if _, inTx := conn.(*sql.Tx); inTx {
		// Inside a transaction the read must see the transaction's own view.
		return lookupOne(ctx, conn, no)
	}
	if err := ctx.Err(); err != nil {
		return paymentRow{}, err
	}
	q := &lookupReq{no: no, done: make(chan struct{})}
	b.g.add(q)
	select {
	case <-q.done:
		return q.row, q.err
	case <-ctx.Done(): // a read: nothing to wait for but the answer
		return paymentRow{}, ctx.Err()
	}
}

func lookupOne(ctx context.Context, conn gorm.ConnPool, no string) (paymentRow, error) {
	row, err := scanPayment(conn.QueryRowContext(ctx, selectPayment+" WHERE out_trade_no = ?", no))
	if errors.Is(err, sql.ErrNoRows) {
		err = fmt.Errorf("out_trade_no %v: %w", no, payment.ErrNotFound)
	}
	return row, err
}

func (b *lookupBatcher) flush(batch []*lookupReq) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupBudget)
	defer cancel()
	found, err := b.read(ctx, batch)
	for _, q := range batch {
		row, ok := found[q.no]
		switch {
		case err != nil:
			q.err = err
		case ok:
			q.row = row
		default:
			// Not under its exact spelling: ask alone, so the column's collation (case, trailing
			// spaces) decides exactly as it did for a lookup of its own.
			q.row, q.err = lookupOne(ctx, b.r.gdb.Statement.ConnPool, q.no)
		}
		close(q.done)
	}
}

func (b *lookupBatcher) read(ctx context.Context, batch []*lookupReq) (map[string]paymentRow, error) {
	var q strings.Builder
	q.Grow(len(selectPayment) + 30 + 2*len(batch))
	q.WriteString(selectPayment)
	q.WriteString(" WHERE out_trade_no IN (")
	args := make([]any, len(batch))
	for i, l := range batch {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('?')
		args[i] = l.no
	}
	q.WriteByte(')')
	rows, err := b.r.gdb.Statement.ConnPool.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[string]paymentRow, len(batch))
	for rows.Next() {
		row, err := scanPayment(rows)
		if err != nil {
			return nil, err
		}
		found[row.OutTradeNo] = row
	}
	return found, rows.Err()
}
