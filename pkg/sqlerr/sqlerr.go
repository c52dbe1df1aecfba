// Package sqlerr classifies MySQL/MariaDB errors, for pkg/db and for packages that speak
// database/sql without gorm (pkg/leader, pkg/ids).
package sqlerr

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

func number(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// DuplicateKey reports whether err is a unique-index violation (MySQL error 1062).
func DuplicateKey(err error) bool { return number(err) == 1062 }

// DuplicateKeyOn reports whether err is a unique-index violation of the index named key
// (MariaDB: "… for key 'key'"; MySQL 8: "… for key 'table.key'").
func DuplicateKeyOn(err error, key string) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1062 {
		return false
	}
	msg := strings.TrimSuffix(me.Message, "'")
	return strings.HasSuffix(msg, "'"+key) || strings.HasSuffix(msg, "."+key)
}

// RetryCause names why err is worth running the whole transaction again, or "" when it is not:
// "deadlock" (1213: a deadlock victim, or on Galera a transaction that failed certification at
// commit) and "lock_wait_timeout" (1205). Both leave nothing of the transaction once it is
// rolled back, so running it again from the start is safe.
func RetryCause(err error) string {
	switch number(err) {
	case 1213:
		return "deadlock"
	case 1205:
		return "lock_wait_timeout"
	}
	return ""
}

// Conflict reports whether the server rolled a transaction back for a conflict: a deadlock or,
// on Galera, a certification failure (both error 1213).
func Conflict(err error) bool { return number(err) == 1213 }

// Unreachable reports whether err means the database (or any server behind a TCP connection)
// could not be reached or went away mid-statement, rather than that the statement was wrong:
// the driver's broken-connection errors (driver.ErrBadConn, mysql.ErrInvalidConn, and
// database/sql's sql.ErrConnDone for a connection already closed under a statement), a network
// error (refused, reset, i/o timeout dialing or reading: *net.OpError, ECONNREFUSED,
// ECONNRESET, EPIPE), and the server's own "going away" answers: 1053 server shutdown in
// progress, 1927 connection killed, 2006 server has gone away, 2013 lost connection during
// query, 1040 too many connections, 1047 a Galera node not ready (WSREP).
// gorm and fmt wrap these with %w, so errors.Is/As find them in the chain.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	switch number(err) {
	case 1040, 1047, 1053, 1927, 2006, 2013:
		return true
	}
	return false
}
