package leader

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/paysuite/paysuite/pkg/sqlerr"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the goose files of leader_leases (migrate them with db.MigrateNamed and
// VersionTable; boot does it for every service).
func Migrations() fs.FS {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded directory exists
	}
	return files
}

// VersionTable is the goose version table of leader_leases, apart from the service's own.
const VersionTable = "goose_leader_version"

// ErrDeposed fails a leader-only write made by a holder that no longer leads: its lease
// expired and another instance took it (with a greater fencing token), or it released it.
var ErrDeposed = errors.New("leader: this instance no longer leads (fencing token outdated)")

// Lease defaults.
const (
	DefaultTTL        = 15 * time.Second
	DefaultSkewMargin = 5 * time.Second
)

// Lease is a Lock on a row of leader_leases: correct on a multi-primary cluster (Galera), where
// GET_LOCK is local to one node. Taking over is a conditional UPDATE (the row must have expired
// more than the skew margin ago, by the database's clock), so of two instances racing, on one
// server or on two Galera nodes, one changes the row and the other finds it taken or loses
// certification. The holder renews it while it leads; its fencing token, the row's token when it
// took over, is checked by every write made in a Fenced context.
type Lease struct {
	db     *sql.DB
	role   string
	holder string
	ttl    time.Duration
	skew   time.Duration
	now    func() time.Time

	mu      sync.Mutex
	token   int64     // 0 when not held
	renewAt time.Time // the next Hold after this renews the row
	until   time.Time // by the local clock, the lease may have expired from here on
}

var _ Lock = (*Lease)(nil)

// LeaseOption tunes a Lease.
type LeaseOption func(*Lease)

// WithTTL sets how long a lease lasts without a renewal (default DefaultTTL); the holder renews
// it when a third has passed.
func WithTTL(d time.Duration) LeaseOption { return func(l *Lease) { l.ttl = d } }

// WithSkewMargin sets how long past its expiry a lease stays untaken (default DefaultSkewMargin):
// the bound on clock differences between the database nodes.
func WithSkewMargin(d time.Duration) LeaseOption { return func(l *Lease) { l.skew = d } }

// WithHolder names the holder (default: host, pid and a random suffix, unique per Lease).
func WithHolder(name string) LeaseOption { return func(l *Lease) { l.holder = name } }

// NewLease returns the lease of role in sqlDB's database (leader_leases, see Migrate), not yet
// held.
func NewLease(sqlDB *sql.DB, role string, opts ...LeaseOption) *Lease {
	l := &Lease{db: sqlDB, role: role, holder: HolderName(), ttl: DefaultTTL, skew: DefaultSkewMargin, now: time.Now}
	for _, o := range opts {
		o(l)
	}
	return l
}

// HolderName is a name unique to this call: host, pid and 8 random hex digits.
func HolderName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	if len(name) > 128 {
		name = name[len(name)-128:]
	}
	return name
}

// Holder is this lease's holder name.
func (l *Lease) Holder() string { return l.holder }

// Token is the fencing token while held, else 0.
func (l *Lease) Token() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token
}

// Hold implements Lock: it renews the row when a third of the TTL has passed since the last
// renewal, and otherwise tries to take it over.
func (l *Lease) Hold(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := l.now()
	if l.token != 0 {
		if start.Before(l.renewAt) {
			return true, nil
		}
		res, err := l.db.ExecContext(ctx, `UPDATE leader_leases SET expires_at = NOW(6) + INTERVAL ? MICROSECOND
			WHERE role = ? AND holder = ? AND token = ?`, l.ttl.Microseconds(), l.role, l.holder, l.token)
		if err != nil {
			if start.Before(l.until) {
				return true, nil // not renewed, but still ours for a while: try again next time
			}
			l.token = 0
			return false, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			l.renewed(start)
			return true, nil
		}
		l.token = 0 // taken over
	}
	token, err := l.takeOver(ctx)
	if err != nil || token == 0 {
		return false, err
	}
	l.token = token
	l.renewed(start)
	return true, nil
}

func (l *Lease) renewed(start time.Time) {
	l.renewAt = start.Add(l.ttl / 3)
	l.until = start.Add(l.ttl)
}

// takeOver creates the role's row or takes it when it expired more than the skew margin ago,
// and returns the new fencing token (0: another instance holds it).
func (l *Lease) takeOver(ctx context.Context) (int64, error) {
	_, err := l.db.ExecContext(ctx, `INSERT INTO leader_leases (role, holder, token, expires_at)
		VALUES (?, ?, 1, NOW(6) + INTERVAL ? MICROSECOND)`, l.role, l.holder, l.ttl.Microseconds())
	if err == nil {
		return 1, nil
	}
	if sqlerr.Conflict(err) {
		return 0, nil // on Galera: another node's INSERT of the role won certification
	}
	if !sqlerr.DuplicateKeyOn(err, "PRIMARY") { // the role is the natural key: the row exists
		return 0, err
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `UPDATE leader_leases SET holder = ?, token = token + 1,
		expires_at = NOW(6) + INTERVAL ? MICROSECOND
		WHERE role = ? AND expires_at < NOW(6) - INTERVAL ? MICROSECOND`,
		l.holder, l.ttl.Microseconds(), l.role, l.skew.Microseconds())
	if err != nil {
		return 0, ignoreConflict(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return 0, nil
	}
	var token int64
	if err := tx.QueryRowContext(ctx, "SELECT token FROM leader_leases WHERE role = ? AND holder = ?", l.role, l.holder).Scan(&token); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, ignoreConflict(err) // another node's takeover won certification
	}
	return token, nil
}

// ignoreConflict turns losing a race for the row (a deadlock, or on Galera a failed
// certification) into "not taken".
func ignoreConflict(err error) error {
	if sqlerr.Conflict(err) {
		return nil
	}
	return err
}

// Release implements Lock: the row expires at once, so another instance can take it without
// waiting out the TTL.
func (l *Lease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.token == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.db.ExecContext(ctx, `UPDATE leader_leases SET expires_at = '1970-01-02'
		WHERE role = ? AND holder = ? AND token = ?`, l.role, l.holder, l.token)
	l.token = 0
}

// Fenced implements Lock: every transaction db.WithTx runs in the returned context first bumps
// the row's fence count, on the condition that this holder's token is still the row's and its
// lease has not expired. A deposed leader's transaction fails with ErrDeposed and writes nothing;
// on Galera a takeover racing it fails one of the two in certification.
func (l *Lease) Fenced(ctx context.Context) context.Context {
	token := l.Token()
	return WithFence(ctx, func(ctx context.Context, tx Execer) error {
		if token == 0 {
			return ErrDeposed
		}
		res, err := tx.ExecContext(ctx, `UPDATE leader_leases SET fences = fences + 1
			WHERE role = ? AND holder = ? AND token = ? AND expires_at > NOW(6)`, l.role, l.holder, token)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%s (role %s, token %d): %w", l.holder, l.role, token, ErrDeposed)
		}
		return nil
	})
}
