package leader_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/leader"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// openLeaseDB opens a throw-away database with leader_leases and a table a leader writes to.
func openLeaseDB(t *testing.T) (*gorm.DB, *sql.DB) {
	t.Helper()
	jobs := fstest.MapFS{"00001_jobs.sql": {Data: []byte("-- +goose Up\nCREATE TABLE jobs_done (id BIGINT AUTO_INCREMENT PRIMARY KEY, by_holder VARCHAR(128) NOT NULL);\n")}}
	gdb, d := testkit.OpenDB(t, "lease", jobs)
	if err := db.MigrateNamed(context.Background(), d, leader.Migrations(), leader.VersionTable, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	return gdb, d
}

// doJob is a leader-only write: one row, in a transaction fenced by l.
func doJob(gdb *gorm.DB, l *leader.Lease) error {
	return db.WithTx(l.Fenced(context.Background()), gdb, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Exec("INSERT INTO jobs_done (by_holder) VALUES (?)", l.Holder()).Error
	})
}

func TestLeaseHasOneHolderAndHandsOverOnRelease(t *testing.T) {
	_, d := openLeaseDB(t)
	first, second := leader.NewLease(d, "job"), leader.NewLease(d, "job")
	if !hold(t, first) {
		t.Fatal("a free lease was not taken")
	}
	if hold(t, second) {
		t.Fatal("a second holder took a held lease")
	}
	if !hold(t, first) {
		t.Fatal("the holder lost its lease on re-checking it")
	}
	if !hold(t, leader.NewLease(d, "other job")) {
		t.Fatal("the lease of another role was refused")
	}
	token := first.Token()
	first.Release()
	first.Release() // twice is harmless
	if !hold(t, second) {
		t.Fatal("a released lease could not be taken at once")
	}
	if second.Token() <= token {
		t.Fatalf("token after the hand-over = %d, want more than %d", second.Token(), token)
	}
	if hold(t, first) {
		t.Fatal("the former holder took the lease back while held")
	}
}

// The holder renews its lease while it leads; a standby gets it only once the holder stopped
// renewing and the lease is past its expiry plus the skew margin.
func TestLeaseIsRenewedAndTakenOnlyAfterExpiryPlusSkew(t *testing.T) {
	_, d := openLeaseDB(t)
	ttl, skew := 600*time.Millisecond, 400*time.Millisecond
	holder := leader.NewLease(d, "job", leader.WithTTL(ttl), leader.WithSkewMargin(skew))
	standby := leader.NewLease(d, "job", leader.WithTTL(ttl), leader.WithSkewMargin(skew))
	if !hold(t, holder) {
		t.Fatal("a free lease was not taken")
	}
	for end := time.Now().Add(3 * ttl); time.Now().Before(end); time.Sleep(ttl / 6) {
		if !hold(t, holder) {
			t.Fatal("the holder lost a lease it kept renewing")
		}
		if hold(t, standby) {
			t.Fatal("the standby took a lease its holder kept renewing")
		}
	}
	// The holder stops renewing (it hangs, or its process died). By the database's clock, its
	// lease expired less than the skew margin ago: still not free. Past expiry plus margin: free.
	long := leader.NewLease(d, "job", leader.WithSkewMargin(10*time.Second))
	if _, err := d.Exec("UPDATE leader_leases SET expires_at = NOW(6) - INTERVAL 5 SECOND WHERE role = 'job'"); err != nil {
		t.Fatal(err)
	}
	if hold(t, long) {
		t.Fatal("a lease 5s past its expiry was taken with a 10s skew margin")
	}
	if _, err := d.Exec("UPDATE leader_leases SET expires_at = NOW(6) - INTERVAL 11 SECOND WHERE role = 'job'"); err != nil {
		t.Fatal(err)
	}
	if !hold(t, long) {
		t.Fatal("a lease past its expiry plus the skew margin was not taken")
	}
}

// A leader that was deposed (its lease expired and another took it) has its fenced write
// refused, and writes nothing; the new leader's write goes through.
func TestFencedWriteOfADeposedLeaderIsRefused(t *testing.T) {
	gdb, d := openLeaseDB(t)
	ttl, skew := 300*time.Millisecond, 100*time.Millisecond
	old := leader.NewLease(d, "job", leader.WithTTL(ttl), leader.WithSkewMargin(skew))
	if !hold(t, old) {
		t.Fatal("a free lease was not taken")
	}
	if err := doJob(gdb, old); err != nil {
		t.Fatalf("the leader's own write: %v", err)
	}
	// old pauses (GC, a stalled VM) past its lease; a new leader takes over meanwhile.
	successor := leader.NewLease(d, "job", leader.WithTTL(time.Minute), leader.WithSkewMargin(skew))
	testkit.Eventually(t, 10*time.Second, func() bool { return hold(t, successor) }, "no takeover of an expired lease")
	if err := doJob(gdb, old); !errors.Is(err, leader.ErrDeposed) {
		t.Fatalf("the deposed leader's write: err = %v, want ErrDeposed", err)
	}
	if err := doJob(gdb, successor); err != nil {
		t.Fatalf("the new leader's write: %v", err)
	}
	var by []string
	if err := gdb.Table("jobs_done").Order("id").Pluck("by_holder", &by).Error; err != nil {
		t.Fatal(err)
	}
	if len(by) != 2 || by[0] != old.Holder() || by[1] != successor.Holder() {
		t.Fatalf("jobs done by %v; want one by the old leader, then one by its successor", by)
	}
	var fences int64
	if err := d.QueryRow("SELECT fences FROM leader_leases WHERE role = 'job'").Scan(&fences); err != nil || fences != 2 {
		t.Fatalf("fences = %d, %v; want 2 (the refused write counted nothing)", fences, err)
	}
}

// Many instances race for an expired lease at once: exactly one gets it.
func TestLeaseRaceHasOneWinner(t *testing.T) {
	_, d := openLeaseDB(t)
	if _, err := d.Exec("INSERT INTO leader_leases (role, holder, token, expires_at) VALUES ('job', 'gone', 7, '2000-01-01')"); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  []int64
		errs []error
	)
	for range n {
		wg.Go(func() {
			l := leader.NewLease(d, "job")
			ok, err := l.Hold(context.Background())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				won = append(won, l.Token())
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 || len(won) != 1 || won[0] != 8 {
		t.Fatalf("winners' tokens = %v, errors = %v; want exactly one winner with token 8", won, errs)
	}
}
