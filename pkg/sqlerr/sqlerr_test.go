package sqlerr_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/paysuite/paysuite/pkg/sqlerr"
)

// refusedDial is what dialing a port nobody listens on returns.
func refusedDial(t *testing.T) error {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		conn.Close()
		t.Fatal("dialing a closed port succeeded")
	}
	return err
}

// timedOutDial is a dial that ran out of time: "dial tcp …: i/o timeout".
func timedOutDial(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:9")
	if err == nil {
		conn.Close()
		t.Fatal("a dial past its deadline succeeded")
	}
	return err
}

func TestUnreachable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("create order: insert: %w", err) }
	for name, err := range map[string]error{
		"driver.ErrBadConn":        wrap(driver.ErrBadConn),
		"mysql.ErrInvalidConn":     wrap(mysql.ErrInvalidConn),
		"sql.ErrConnDone":          wrap(sql.ErrConnDone),
		"connection refused":       wrap(refusedDial(t)),
		"i/o timeout dialing":      wrap(timedOutDial(t)),
		"server shutdown (1053)":   wrap(&mysql.MySQLError{Number: 1053, Message: "Server shutdown in progress"}),
		"connection killed (1927)": wrap(&mysql.MySQLError{Number: 1927, Message: "Connection was killed"}),
		"gone away (2006)":         wrap(&mysql.MySQLError{Number: 2006, Message: "MySQL server has gone away"}),
		"lost connection (2013)":   wrap(&mysql.MySQLError{Number: 2013, Message: "Lost connection to MySQL server during query"}),
		"too many connections":     wrap(&mysql.MySQLError{Number: 1040, Message: "Too many connections"}),
		"galera node not ready":    wrap(&mysql.MySQLError{Number: 1047, Message: "WSREP has not yet prepared node for application use"}),
	} {
		if !sqlerr.Unreachable(err) {
			t.Errorf("%s (%v): not classified as unreachable", name, err)
		}
	}
	for name, err := range map[string]error{
		"nil":                  nil,
		"duplicate key":        wrap(&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}),
		"deadlock":             wrap(&mysql.MySQLError{Number: 1213, Message: "Deadlock found"}),
		"syntax":               wrap(&mysql.MySQLError{Number: 1064, Message: "You have an error in your SQL syntax"}),
		"the caller's timeout": wrap(context.DeadlineExceeded),
		"cancelled":            wrap(context.Canceled),
		"a bug":                errors.New("nil pointer somewhere"),
	} {
		if sqlerr.Unreachable(err) {
			t.Errorf("%s (%v): classified as unreachable", name, err)
		}
	}
}
