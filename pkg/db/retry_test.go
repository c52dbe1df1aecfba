package db_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// Two transactions lock the same two rows in opposite orders: the server kills one as the
// deadlock victim (on Galera the same error reports a failed certification). WithTx runs the
// victim again, so both commit, and the retry is counted.
func TestWithTxRunsADeadlockVictimAgain(t *testing.T) {
	ctx := context.Background()
	gdb, err := db.Open(ctx, testkit.MySQLDSN(t), "things", os.DirFS("testdata/migrations"), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := gdb.Exec("INSERT INTO things (id, name) VALUES (1, 'a'), (2, 'b')").Error; err != nil {
		t.Fatal(err)
	}
	before := testutil.ToFloat64(db.TxRetries.WithLabelValues("deadlock"))
	var (
		firstLocked sync.WaitGroup // each transaction holds its first row
		wg          sync.WaitGroup
		errs        [2]error
		runs        [2]int
	)
	firstLocked.Add(2)
	for i, order := range [2][2]int{{1, 2}, {2, 1}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.WithTx(ctx, gdb, func(ctx context.Context, tx *gorm.DB) error {
				runs[i]++
				if err := tx.Exec("UPDATE things SET name = CONCAT(name, '+') WHERE id = ?", order[0]).Error; err != nil {
					return err
				}
				if runs[i] == 1 {
					firstLocked.Done()
					firstLocked.Wait() // both hold their first row: the second UPDATEs close the cycle
				}
				return tx.Exec("UPDATE things SET name = CONCAT(name, '*') WHERE id = ?", order[1]).Error
			})
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("errors = %v, %v; want both transactions committed", errs[0], errs[1])
	}
	if runs[0]+runs[1] < 3 {
		t.Fatalf("runs = %v: no transaction was run again", runs)
	}
	var names []string
	if err := gdb.Table("things").Order("id").Pluck("name", &names).Error; err != nil {
		t.Fatal(err)
	}
	// Each row got one '+' and one '*' (in some order): the victim's first try left nothing.
	for _, n := range names {
		if len(n) != 3 {
			t.Fatalf("names = %v: want each row changed exactly twice", names)
		}
	}
	if got := testutil.ToFloat64(db.TxRetries.WithLabelValues("deadlock")) - before; got < 1 {
		t.Fatalf("paysuite_db_tx_retries_total{cause=deadlock} grew by %v, want >= 1", got)
	}
}

// Only the named index makes a duplicate "already done": a clash on the primary key is not it.
func TestIsDuplicateKeyOnNamesTheIndex(t *testing.T) {
	ctx := context.Background()
	gdb, err := db.Open(ctx, testkit.MySQLDSN(t), "things", os.DirFS("testdata/migrations"), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := gdb.Exec("INSERT INTO things (id, name) VALUES (1, 'a')").Error; err != nil {
		t.Fatal(err)
	}
	byName := gdb.Exec("INSERT INTO things (id, name) VALUES (2, 'a')").Error
	byID := gdb.Exec("INSERT INTO things (id, name) VALUES (1, 'b')").Error
	if !db.IsDuplicateKeyOn(byName, "uk_things_name") || db.IsDuplicateKeyOn(byName, "PRIMARY") {
		t.Fatalf("duplicate name: %v; want it on uk_things_name only", byName)
	}
	if db.IsDuplicateKeyOn(byID, "uk_things_name") || !db.IsDuplicateKeyOn(byID, "PRIMARY") {
		t.Fatalf("duplicate id: %v; want it on PRIMARY only", byID)
	}
}
