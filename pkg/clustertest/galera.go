// Package clustertest is what `make cluster-test` runs against the private 3-node Galera and
// RabbitMQ clusters (scripts/cluster-test.sh): the checks that only a multi-primary database
// can make (GetLock is node-local, the lease row is not, certification failures are retried),
// a bounded purchase load through the gateways, and the invariants checked once it drained.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/leader"
)

// GaleraChecks runs, on two different nodes of one cluster (dsn1, dsn2: the same database name
// on each node), the properties the replicas rely on. Each failure is returned.
func GaleraChecks(ctx context.Context, dsn1, dsn2 string, log *slog.Logger) (facts []string, err error) {
	schema := fstest.MapFS{"00001_rows.sql": {Data: []byte("-- +goose Up\nCREATE TABLE hot (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);\nINSERT INTO hot VALUES (1, 0);\n")}}
	g1, err := db.Open(ctx, dsn1, "galera_checks", schema, log)
	if err != nil {
		return nil, err
	}
	g2, err := db.Open(ctx, dsn2, "galera_checks", schema, log)
	if err != nil {
		return nil, err
	}
	s1, _ := g1.DB()
	s2, _ := g2.DB()
	defer s1.Close()
	defer s2.Close()
	if err := db.MigrateNamed(ctx, s1, leader.Migrations(), leader.VersionTable, log); err != nil {
		return nil, err
	}
	if err := db.MigrateNamed(ctx, s1, ids.Migrations(), ids.VersionTable, log); err != nil {
		return nil, err
	}
	var errs []error

	// 1. GET_LOCK is node-local: both nodes grant it. (Why services use leader.Lease.)
	l1, l2 := leader.NewGetLock(s1, "galera_check"), leader.NewGetLock(s2, "galera_check")
	ok1, err1 := l1.Hold(ctx)
	ok2, err2 := l2.Hold(ctx)
	l1.Release()
	l2.Release()
	if err := errors.Join(err1, err2); err != nil {
		errs = append(errs, fmt.Errorf("GET_LOCK: %w", err))
	}
	facts = append(facts, fmt.Sprintf("GET_LOCK held on node A: %v, on node B at the same time: %v (node-local)", ok1, ok2))

	// 2. The lease row elects one leader across nodes, even when both race.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		leaders int
	)
	for i := range 8 {
		wg.Go(func() {
			d := s1
			if i%2 == 1 {
				d = s2
			}
			ok, err := leader.NewLease(d, "galera_check").Hold(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("lease: %w", err))
			}
			if ok {
				leaders++
			}
		})
	}
	wg.Wait()
	if leaders != 1 {
		errs = append(errs, fmt.Errorf("lease across nodes: %d leaders, want 1", leaders))
	}
	facts = append(facts, fmt.Sprintf("lease row raced by 8 instances on 2 nodes: %d leader", leaders))

	// 3. Two transactions on two nodes change one row: one fails certification at commit
	// (1213) and db.WithTx runs it again, so both increments land.
	before := testutil.ToFloat64(db.TxRetries.WithLabelValues("deadlock"))
	const rounds = 20
	wg = sync.WaitGroup{}
	for _, g := range []*gorm.DB{g1, g2} {
		wg.Go(func() {
			for range rounds {
				err := db.WithTx(ctx, g, func(ctx context.Context, tx *gorm.DB) error {
					return tx.Exec("UPDATE hot SET n = n + 1 WHERE id = 1").Error
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("increment: %w", err))
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	// A commit on one node is certified everywhere before it returns, but applied on the others
	// a moment later: read causally (wsrep_sync_wait), or node A may not show node B's last one.
	var n int64
	if conn, err := s1.Conn(ctx); err != nil {
		errs = append(errs, err)
	} else {
		if _, err := conn.ExecContext(ctx, "SET SESSION wsrep_sync_wait = 1"); err != nil {
			errs = append(errs, err)
		}
		if err := conn.QueryRowContext(ctx, "SELECT n FROM hot WHERE id = 1").Scan(&n); err != nil {
			errs = append(errs, err)
		}
		_, _ = conn.ExecContext(ctx, "SET SESSION wsrep_sync_wait = 0")
		conn.Close()
	}
	retries := testutil.ToFloat64(db.TxRetries.WithLabelValues("deadlock")) - before
	if n != 2*rounds {
		errs = append(errs, fmt.Errorf("hot row = %d after %d increments on two nodes", n, 2*rounds))
	}
	facts = append(facts, fmt.Sprintf("%d increments of one row from two nodes: row = %d, certification failures retried: %v", 2*rounds, n, retries))

	// 4. Node ids claimed at once on two nodes are distinct.
	var nodeIDs []int64
	for i := range 10 {
		wg.Go(func() {
			d := s1
			if i%2 == 1 {
				d = s2
			}
			l, err := ids.ClaimNode(ctx, d, log, ids.LeaseOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("claim node id: %w", err))
				return
			}
			nodeIDs = append(nodeIDs, l.NodeID())
			l.Close()
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, id := range nodeIDs {
		if seen[id] {
			errs = append(errs, fmt.Errorf("node id %d claimed twice across nodes: %v", id, nodeIDs))
		}
		seen[id] = true
	}
	facts = append(facts, fmt.Sprintf("10 node-id claims on 2 nodes: %d distinct", len(seen)))
	if err := g1.Exec("DROP DATABASE " + g1.Migrator().CurrentDatabase()).Error; err != nil {
		errs = append(errs, err)
	}
	return facts, errors.Join(errs...)
}
