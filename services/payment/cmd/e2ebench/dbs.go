package main

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/paysuite/paysuite/pkg/db"
)

const benchSKU = "e2e-bench"

// dbs are the services' databases, read for what the figures need after the fact.
type dbs struct{ order, payment *sql.DB }

func openDBs(dsn string) (*dbs, error) {
	open := func(svc string) (*sql.DB, error) {
		cfg, err := db.ServiceDSN(dsn, svc)
		if err != nil {
			return nil, err
		}
		return sql.Open("mysql", cfg.FormatDSN())
	}
	o, err := open("order")
	if err != nil {
		return nil, err
	}
	p, err := open("payment")
	if err != nil {
		o.Close()
		return nil, err
	}
	return &dbs{order: o, payment: p}, nil
}

func (d *dbs) close() { d.order.Close(); d.payment.Close() }

// seed adds a SKU with stock enough for every order of the run.
func (d *dbs) seed(ctx context.Context) error {
	_, err := d.order.ExecContext(ctx, "INSERT INTO skus (sku_id, title, kind, price_fen, stock) VALUES (?, 'e2e bench', 'GOODS', 990, 1000000000)", benchSKU)
	return err
}

// groupCount runs a `SELECT key, COUNT(*) … GROUP BY key` and formats it.
func groupCount(ctx context.Context, db *sql.DB, query string, args ...any) (string, map[string]int, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return "", nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return "", nil, err
		}
		out[k] = n
	}
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, out[k])
	}
	return b.String(), out, rows.Err()
}

// percentiles prints count, p50, p99 and max of a set of durations.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n=0"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	r := func(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
	return fmt.Sprintf("n=%d p50 %s  p99 %s  max %s", len(s), r(at(0.50)), r(at(0.99)), r(s[len(s)-1]))
}
