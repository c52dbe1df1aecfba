// Package testkit gives integration tests their own throw-away resources on the real MariaDB
// and RabbitMQ: a uniquely named database prefix and vhost per test, dropped afterwards.
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/logging"
	"github.com/paysuite/paysuite/pkg/scratch"
)

// Env variables that point tests at other servers.
const (
	EnvMySQL     = "TEST_MYSQL_DSN"
	EnvAMQP      = "TEST_AMQP_URL"
	defaultMySQL = "root@tcp(127.0.0.1:3306)/paysuite?parseTime=true"
	defaultAMQP  = "amqp://guest:guest@127.0.0.1:5672/"
)

// UniqueName returns prefix followed by random hex, safe for database and vhost names.
func UniqueName(prefix string) string { return scratch.Name(prefix) }

// BaseMySQLDSN is the MariaDB the tests use, as its admin (TEST_MYSQL_DSN or the default).
func BaseMySQLDSN() string {
	if v := os.Getenv(EnvMySQL); v != "" {
		return v
	}
	return defaultMySQL
}

// BaseAMQPURL is the RabbitMQ the tests use, as its admin (TEST_AMQP_URL or the default).
func BaseAMQPURL() string {
	if v := os.Getenv(EnvAMQP); v != "" {
		return v
	}
	return defaultAMQP
}

// MySQLDSN returns a DSN whose database name is unique to this test. Services open
// `<name>_<service>` from it; every database starting with the name is dropped at cleanup.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvMySQL)
	if base == "" {
		base = defaultMySQL
	}
	dsn, drop, err := scratch.Databases(base, UniqueName("pst_"))
	if err != nil {
		t.Fatalf("%v (start MariaDB, or set %s)", err, EnvMySQL)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("drop test databases: %v", err)
		}
	})
	return dsn
}

// AMQPURL creates a fresh vhost for this test and returns the broker URL pointing at it; the
// vhost is deleted at cleanup.
func AMQPURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvAMQP)
	if base == "" {
		base = defaultAMQP
	}
	u, drop, err := scratch.Vhost(base, UniqueName("pst_"))
	if err != nil {
		t.Fatalf("%v (start RabbitMQ, or set %s)", err, EnvAMQP)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("delete test vhost: %v", err)
		}
	})
	return u
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
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		// The kernel may offer a port again once it is closed, before the caller binds it: two
		// services of one test were given the same port that way. Never hand one out twice.
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr
		}
	}
}

// handedOut is every address FreeAddr returned in this test process.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

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

// Lazy prints as what its func returns at the moment the message is formatted. Eventually's
// message args are evaluated before the wait: Lazy(func() any { return last }) shows the last
// value seen instead of the one before the first try.
type Lazy func() any

func (l Lazy) String() string { return fmt.Sprint(l()) }

// Context returns a context cancelled when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
