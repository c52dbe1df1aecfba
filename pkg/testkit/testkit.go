// Package testkit gives integration tests their own throw-away resources on the real MariaDB
// and RabbitMQ: a uniquely named database prefix and vhost per test, dropped afterwards.
package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/paysuite/paysuite/pkg/logging"
)

// Env variables that point tests at other servers.
const (
	EnvMySQL     = "TEST_MYSQL_DSN"
	EnvAMQP      = "TEST_AMQP_URL"
	defaultMySQL = "root@tcp(127.0.0.1:3306)/paysuite?parseTime=true"
	defaultAMQP  = "amqp://guest:guest@127.0.0.1:5672/"
)

// UniqueName returns prefix followed by random hex, safe for database and vhost names.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// MySQLDSN returns a DSN whose database name is unique to this test. Services open
// `<name>_<service>` from it; every database starting with the name is dropped at cleanup.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvMySQL)
	if base == "" {
		base = defaultMySQL
	}
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvMySQL, err)
	}
	name := UniqueName("pst_")
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Ping(); err != nil {
		t.Fatalf("MariaDB at %s is not reachable (start it, or set %s): %v", cfg.Addr, EnvMySQL, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		rows, err := admin.Query("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ?", strings.ReplaceAll(name, "_", `\_`)+"%")
		if err != nil {
			t.Errorf("list test databases: %v", err)
			return
		}
		var names []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err == nil {
				names = append(names, n)
			}
		}
		rows.Close()
		for _, n := range names {
			if _, err := admin.Exec("DROP DATABASE IF EXISTS `" + n + "`"); err != nil {
				t.Errorf("drop %s: %v", n, err)
			}
		}
	})
	cfg.DBName = name
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

// Logger returns a JSON logger that writes into the test log (shown on failure or with -v).
func Logger(t testing.TB) *slog.Logger {
	return logging.NewTo(testWriter{t}, t.Name(), os.Getenv("TEST_LOG_LEVEL"))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Eventually polls cond every 20ms until it holds or timeout passes, then fails with msg.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %s", timeout, fmt.Sprintf(msg, args...))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Context returns a context cancelled when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
