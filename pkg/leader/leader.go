// Package leader lets one instance among several do a job that must run once at a time (the
// outbox relay, the order sweeper). Callers hold a Lock; the implementation decides what
// "one" means: Lease (a row per job with holder, fencing token and expiry) is one per database
// even on a Galera cluster, and is what services use; GetLock is one per MySQL/MariaDB server
// and database, and elects one leader per node on Galera.
package leader

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// Execer is the transaction a Fence runs in (*sql.Tx, *sql.Conn).
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Fence is a check a transaction makes before its own work: an error rolls it back unchanged.
type Fence func(ctx context.Context, tx Execer) error

type fenceKey struct{}

// WithFence returns ctx whose transactions (db.WithTx, at the outermost level) first run f.
func WithFence(ctx context.Context, f Fence) context.Context {
	fences := Fences(ctx)
	return context.WithValue(ctx, fenceKey{}, append(fences[:len(fences):len(fences)], f))
}

// Fences are the fences of ctx, in the order they were added.
func Fences(ctx context.Context) []Fence {
	f, _ := ctx.Value(fenceKey{}).([]Fence)
	return f
}

// Lock is a named lock at most one holder has at a time.
type Lock interface {
	// Hold takes the lock if it is free, or checks that this holder still has it; false when
	// another holder has it. A holder that lost the lock (its connection died) gets false or
	// an error from the check, and its next Hold tries to take it again.
	Hold(ctx context.Context) (bool, error)
	// Release gives the lock up; without it held, it does nothing.
	Release()
	// Fenced returns ctx whose transactions (db.WithTx) commit only while this holder still
	// holds the lock as of its last Hold: the leader's own writes go through it, so a holder
	// that was deposed meanwhile has its write refused (ErrDeposed) instead of doing the job
	// a second time beside the new leader.
	Fenced(ctx context.Context) context.Context
}

// lockName scopes the name to the connection's database, so services and test runs sharing a
// server do not exclude each other; GET_LOCK names are at most 64 characters.
const lockName = "LEFT(CONCAT(?, '_', DATABASE()), 64)"

// GetLock is a Lock on GET_LOCK, held by a dedicated connection: the lock dies with the
// connection, so a crashed holder cannot keep it. GET_LOCK is local to one server, so on a
// multi-primary cluster (Galera) two nodes can both hold it: use another Lock there.
type GetLock struct {
	db   *sql.DB
	name string

	mu   sync.Mutex
	conn *sql.Conn // non-nil while held
}

var _ Lock = (*GetLock)(nil)

// NewGetLock returns the lock name (scoped to db's database), not yet held.
func NewGetLock(db *sql.DB, name string) *GetLock { return &GetLock{db: db, name: name} }

// Hold implements Lock without waiting for the lock.
func (l *GetLock) Hold(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		var mine sql.NullBool
		err := l.conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK("+lockName+") = CONNECTION_ID()", l.name).Scan(&mine)
		if err == nil && mine.Valid && mine.Bool {
			return true, nil
		}
		l.release() // connection lost (and the lock with it) or lock gone: start over
		if err != nil {
			return false, err
		}
	}
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+lockName+", 0)", l.name).Scan(&got); err != nil {
		_ = conn.Close()
		return false, err
	}
	if !got.Valid || got.Int64 != 1 {
		_ = conn.Close()
		return false, nil
	}
	l.conn = conn
	return true, nil
}

// Fenced implements Lock: the transaction first checks, on the lock's own connection, that the
// lock is still held. That is not atomic with the commit (GET_LOCK cannot be), and on Galera
// the lock is node-local anyway: use a Lease where it matters.
func (l *GetLock) Fenced(ctx context.Context) context.Context {
	return WithFence(ctx, func(ctx context.Context, _ Execer) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.conn == nil {
			return ErrDeposed
		}
		var mine sql.NullBool
		err := l.conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK("+lockName+") = CONNECTION_ID()", l.name).Scan(&mine)
		if err != nil {
			return err
		}
		if !mine.Valid || !mine.Bool {
			return ErrDeposed
		}
		return nil
	})
}

// Release implements Lock.
func (l *GetLock) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.release()
}

func (l *GetLock) release() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.conn.ExecContext(ctx, "DO RELEASE_LOCK("+lockName+")", l.name)
	_ = l.conn.Close()
	l.conn = nil
}
