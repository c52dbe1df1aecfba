package leader_test

import (
	"context"
	"database/sql"
	"testing"
	"testing/fstest"
	"time"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/leader"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// openDB opens (creating it) the throw-away database `<test database>_<suffix>` on the real MariaDB.
func openDB(t *testing.T, dsn, suffix string) *sql.DB {
	t.Helper()
	noTables := fstest.MapFS{"00001_none.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}
	gdb, err := db.Open(context.Background(), dsn, suffix, noTables, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	d, err := gdb.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func hold(t *testing.T, l leader.Lock) bool {
	t.Helper()
	ok, err := l.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestGetLockHasOneHolderPerDatabase(t *testing.T) {
	dsn := testkit.MySQLDSN(t)
	d := openDB(t, dsn, "a")
	first, second := leader.NewGetLock(d, "job"), leader.NewGetLock(d, "job")
	if !hold(t, first) {
		t.Fatal("a free lock was not taken")
	}
	if hold(t, second) {
		t.Fatal("a second holder took a held lock")
	}
	if !hold(t, first) {
		t.Fatal("the holder lost its lock on re-checking it")
	}
	if !hold(t, leader.NewGetLock(d, "other job")) {
		t.Fatal("a lock of another name was refused")
	}
	if !hold(t, leader.NewGetLock(openDB(t, dsn, "b"), "job")) {
		t.Fatal("the same name in another database was refused")
	}
	first.Release()
	first.Release() // twice is harmless
	if !hold(t, second) {
		t.Fatal("a released lock could not be taken")
	}
	if hold(t, first) {
		t.Fatal("the former holder took the lock back while held")
	}
}

func TestGetLockDiesWithItsConnection(t *testing.T) {
	d := openDB(t, testkit.MySQLDSN(t), "a")
	crashed, standby := leader.NewGetLock(d, "job"), leader.NewGetLock(d, "job")
	if !hold(t, crashed) {
		t.Fatal("a free lock was not taken")
	}
	// Kill the holder's connection, as a crash or network cut would.
	var holder int64
	if err := d.QueryRow("SELECT IS_USED_LOCK(LEFT(CONCAT('job_', DATABASE()), 64))").Scan(&holder); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec("KILL CONNECTION ?", holder); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return hold(t, standby) }, "the standby never got the lock of a dead connection")
	if ok, _ := crashed.Hold(context.Background()); ok {
		t.Fatal("the holder whose connection died still believes it holds the lock")
	}
}
