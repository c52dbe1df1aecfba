package clustertest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/bwmarrin/snowflake"
)

// Databases are the services' databases on the cluster.
type Databases struct{ Order, Payment, Notification, Course *sql.DB }

// Report is what the checks found.
type Report struct {
	Facts  []string
	Failed []string
}

func (r *Report) fact(format string, args ...any) {
	r.Facts = append(r.Facts, fmt.Sprintf(format, args...))
}
func (r *Report) fail(format string, args ...any) {
	r.Failed = append(r.Failed, fmt.Sprintf(format, args...))
}

// SnapshotStock is every sku's stock now (before the load).
func SnapshotStock(ctx context.Context, order *sql.DB) (map[string]int64, error) {
	rows, err := order.QueryContext(ctx, "SELECT sku_id, stock FROM skus")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var sku string
		var n int64
		if err := rows.Scan(&sku, &n); err != nil {
			return nil, err
		}
		out[sku] = n
	}
	return out, rows.Err()
}

// Check verifies the books once the load has drained (no order still awaiting payment):
//   - every order the buyer paid is PAID, with exactly one SUCCEEDED payment of its total;
//   - money: the SUCCEEDED payments add up to the PAID orders' totals, and no cancelled order
//     kept a successful payment (a late one is refunded);
//   - stock: each sku's stock before, minus the items of orders not cancelled, is its stock now;
//   - both replicas did work (order and payment ids minted on at least two snowflake nodes),
//     and no two live processes hold one node id;
//   - every outbox row of every database was published; each leader-only job's lease row says
//     how many leaders it had (token) and how many fenced writes they made.
func Check(ctx context.Context, dbs Databases, stockBefore map[string]int64, res LoadResult) Report {
	var r Report
	q := func(d *sql.DB, query string, args ...any) *sql.Rows {
		rows, err := d.QueryContext(ctx, query, args...)
		if err != nil {
			r.fail("query %q: %v", query, err)
			return nil
		}
		return rows
	}
	status := map[int64]string{}
	total := map[int64]int64{}
	byStatus := map[string]int{}
	if rows := q(dbs.Order, "SELECT order_id, status, total_fen FROM orders"); rows != nil {
		for rows.Next() {
			var id, t int64
			var s string
			_ = rows.Scan(&id, &s, &t)
			status[id], total[id] = s, t
			byStatus[s]++
		}
		rows.Close()
	}
	r.fact("orders by status: %v", byStatus)
	if byStatus["PENDING_PAYMENT"] > 0 {
		r.fail("%d orders still PENDING_PAYMENT after the drain (deadline and sweeper missed them)", byStatus["PENDING_PAYMENT"])
	}

	type pay struct {
		order, amount int64
		status        string
	}
	succeeded := map[int64][]pay{}
	var paySum int64
	payNodes := map[int64]bool{}
	if rows := q(dbs.Payment, "SELECT id, order_id, amount_fen, status FROM payments"); rows != nil {
		for rows.Next() {
			var id int64
			var p pay
			_ = rows.Scan(&id, &p.order, &p.amount, &p.status)
			payNodes[snowflake.ParseInt64(id).Node()] = true
			if p.status == "SUCCEEDED" {
				succeeded[p.order] = append(succeeded[p.order], p)
				paySum += p.amount
			}
		}
		rows.Close()
	}
	var paidSum int64
	for id, s := range status {
		switch s {
		case "PAID":
			paidSum += total[id]
			if n := len(succeeded[id]); n != 1 {
				r.fail("order %d is PAID with %d succeeded payments", id, n)
			} else if succeeded[id][0].amount != total[id] {
				r.fail("order %d: total %d, paid %d", id, total[id], succeeded[id][0].amount)
			}
		case "CANCELLED":
			if len(succeeded[id]) > 0 {
				r.fail("order %d is CANCELLED but keeps a succeeded payment", id)
			}
		}
	}
	for _, id := range res.Paid {
		var n int64
		if _, err := fmt.Sscan(id, &n); err != nil || status[n] != "PAID" {
			r.fail("order %s was paid by the buyer but is %q", id, status[n])
		}
	}
	if paySum != paidSum {
		r.fail("succeeded payments add up to %d fen, PAID orders to %d", paySum, paidSum)
	}
	r.fact("money: %d PAID orders worth %d fen = %d fen of succeeded payments", byStatus["PAID"], paidSum, paySum)

	held := map[string]int64{}
	if rows := q(dbs.Order, `SELECT i.sku_id, SUM(i.quantity) FROM order_items i JOIN orders o ON o.order_id = i.order_id
		WHERE o.status <> 'CANCELLED' GROUP BY i.sku_id`); rows != nil {
		for rows.Next() {
			var sku string
			var n int64
			_ = rows.Scan(&sku, &n)
			held[sku] = n
		}
		rows.Close()
	}
	after, err := SnapshotStock(ctx, dbs.Order)
	if err != nil {
		r.fail("stock: %v", err)
	}
	for sku, before := range stockBefore {
		if before-held[sku] != after[sku] {
			r.fail("stock of %s: %d before - %d held = %d, but %d now", sku, before, held[sku], before-held[sku], after[sku])
		}
	}
	r.fact("stock conserved for %d skus", len(stockBefore))

	orderNodes := map[int64]bool{}
	for id := range status {
		orderNodes[snowflake.ParseInt64(id).Node()] = true
	}
	if len(orderNodes) < 2 || len(payNodes) < 2 {
		r.fail("ids minted on %d order node(s) and %d payment node(s): want both replicas of each", len(orderNodes), len(payNodes))
	}
	r.fact("ids minted on snowflake nodes: order %v, payment %v", keys(orderNodes), keys(payNodes))

	for name, d := range map[string]*sql.DB{"order": dbs.Order, "payment": dbs.Payment, "notification": dbs.Notification, "course": dbs.Course} {
		var live, holders int
		if err := d.QueryRowContext(ctx, "SELECT COUNT(*), COUNT(DISTINCT holder) FROM snowflake_nodes WHERE holder <> '' AND expires_at > NOW(6)").Scan(&live, &holders); err != nil {
			r.fail("%s snowflake_nodes: %v", name, err)
		} else if live != holders {
			r.fail("%s: %d live node-id leases for %d holders", name, live, holders)
		}
		var unpublished int
		if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox_messages WHERE published_at IS NULL").Scan(&unpublished); err != nil {
			r.fail("%s outbox: %v", name, err)
		} else if unpublished > 0 {
			r.fail("%s: %d outbox rows never published", name, unpublished)
		}
		if rows := q(d, "SELECT role, token, fences FROM leader_leases"); rows != nil {
			for rows.Next() {
				var role string
				var token, fences int64
				_ = rows.Scan(&role, &token, &fences)
				r.fact("%s leader %s: %d leader(s) over the run (fencing token), %d fenced writes", name, role, token, fences)
			}
			rows.Close()
		}
	}
	return r
}

func keys(m map[int64]bool) []int64 {
	var out []int64
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Err is the failures as one error, or nil.
func (r Report) Err() error {
	var errs []error
	for _, f := range r.Failed {
		errs = append(errs, errors.New(f))
	}
	return errors.Join(errs...)
}
