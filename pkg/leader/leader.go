// Package leader lets one instance among several do a job that must run once at a time (the
// outbox relay, the order sweeper). Callers hold a Lock; the implementation decides what
// "one" means: GetLock is one per MySQL/MariaDB server and database.
package leader

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// Lock is a named lock at most one holder has at a time.
type Lock interface {
	// Hold takes the lock if it is free, or checks that this holder still has it; false when
	// another holder has it. A holder that lost the lock (its connection died) gets false or
	// an error from the check, and its next Hold tries to take it again.
	Hold(ctx context.Context) (bool, error)
	// Release gives the lock up; without it held, it does nothing.
	Release()
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
