// Package sqlerr classifies MySQL/MariaDB errors, for pkg/db and for packages that speak
// database/sql without gorm (pkg/leader, pkg/ids).
package sqlerr

import (
	"errors"
	"strings"

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
