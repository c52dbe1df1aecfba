package testkit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/grpc"

	"github.com/paysuite/paysuite/pkg/access"
	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/scratch"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// Stack is one test's share of the real servers, set up the way `make run` sets up the local
// ones: a throw-away CA with a certificate for every paysuite name, a database prefix and a
// vhost of its own with a MariaDB and a RabbitMQ user per service (pkg/access), the payment
// results exchange declared. The databases and vhost are made on first use; everything is
// removed at cleanup.
type Stack struct {
	t      testing.TB
	tlsDir string

	mu        sync.Mutex
	adminDSN  string // the test's database prefix, as the MariaDB admin
	adminAMQP string // the test's vhost, as the RabbitMQ admin
	dsns      map[string]string
	amqpURLs  map[string]string
	users     map[string]string // service -> broker user
}

// NewStack makes the test's CA; the rest comes on first use.
func NewStack(t testing.TB) *Stack {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := tlsx.EnsureDevCA(dir, tlsx.Names(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return &Stack{t: t, tlsDir: dir, dsns: map[string]string{}, amqpURLs: map[string]string{}, users: map[string]string{}}
}

// TLS returns the files of name's certificate (tlsx.Order, …, tlsx.Admin).
func (s *Stack) TLS(name string) tlsx.Files { return tlsx.DevFiles(s.tlsDir, name) }

// TLSDir is the directory of the test's CA and certificates.
func (s *Stack) TLSDir() string { return s.tlsDir }

// CA is the test's CA, to issue certificates a test needs beyond the standard ones.
func (s *Stack) CA() *tlsx.CA {
	s.t.Helper()
	certPEM, err := os.ReadFile(filepath.Join(s.tlsDir, "ca.pem"))
	if err != nil {
		s.t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(s.tlsDir, "ca-key.pem"))
	if err != nil {
		s.t.Fatal(err)
	}
	ca, err := tlsx.ParseCA(certPEM, keyPEM)
	if err != nil {
		s.t.Fatal(err)
	}
	return ca
}

// Dial connects to the paysuite service named server at addr as admin and waits until its
// health service answers SERVING. The connection is closed at cleanup.
func (s *Stack) Dial(server, addr string) *grpc.ClientConn {
	s.t.Helper()
	conn := s.DialAs(tlsx.Admin, server, addr)
	if err := scratch.WaitHealthy(context.Background(), conn, nil); err != nil {
		s.t.Fatalf("gRPC server %s at %s: %v", server, addr, err)
	}
	return conn
}

// DialAs connects to the service named server at addr with caller's certificate, without
// waiting. The connection is closed at cleanup.
func (s *Stack) DialAs(caller, server, addr string) *grpc.ClientConn {
	s.t.Helper()
	src, err := tlsx.Load(s.TLS(caller), Logger(s.t))
	if err != nil {
		s.t.Fatal(err)
	}
	conn, err := grpcserver.Dial(addr, src, server)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { conn.Close() })
	return conn
}

// AdminMySQLDSN is the test's database prefix as the MariaDB admin: services open
// `<name>_<service>` from it.
func (s *Stack) AdminMySQLDSN() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adminMySQLDSN()
}

func (s *Stack) adminMySQLDSN() string {
	if s.adminDSN == "" {
		s.adminDSN = MySQLDSN(s.t)
	}
	return s.adminDSN
}

// MySQLDSN is the test's database prefix as service's own MariaDB user, which may use only
// `<prefix>_<service>`; the user is dropped at cleanup.
func (s *Stack) MySQLDSN(service string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if dsn, ok := s.dsns[service]; ok {
		return dsn
	}
	cfg, err := mysql.ParseDSN(s.adminMySQLDSN())
	if err != nil {
		s.t.Fatal(err)
	}
	database := cfg.DBName + "_" + service
	user, password := access.DatabaseUser(cfg.DBName, service), secret()
	admin := adminDB(s.t, cfg)
	if err := access.EnsureDatabaseUser(context.Background(), admin, user, password, database); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		if err := access.DropDatabaseUser(context.Background(), admin, user); err != nil {
			s.t.Errorf("drop database user %s: %v", user, err)
		}
	})
	own := cfg.Clone()
	own.User, own.Passwd = user, password
	s.dsns[service] = own.FormatDSN()
	return s.dsns[service]
}

// adminDB is a connection to MariaDB as cfg's (admin) user, closed at cleanup.
func adminDB(t testing.TB, cfg *mysql.Config) *sql.DB {
	t.Helper()
	c := cfg.Clone()
	c.DBName = ""
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// AdminAMQPURL is the test's vhost as the RabbitMQ admin.
func (s *Stack) AdminAMQPURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adminAMQPURL()
}

func (s *Stack) adminAMQPURL() string {
	s.t.Helper()
	if s.adminAMQP == "" {
		s.adminAMQP = AMQPURL(s.t)
		// As make run's set-up does: consumers bind to the results exchange and may not
		// declare it themselves (only payment may configure it).
		ch := AMQPChannel(s.t, s.adminAMQP)
		if err := amqpx.DeclarePaymentResults(ch); err != nil {
			s.t.Fatal(err)
		}
		if err := amqpx.DeclarePaymentRefusals(ch); err != nil { // payment binds to it; order publishes
			s.t.Fatal(err)
		}
	}
	return s.adminAMQP
}

// AMQPURL is the test's vhost as service's own RabbitMQ user, with the permissions of
// access.BrokerPermissionsOf; the user is deleted at cleanup.
func (s *Stack) AMQPURL(service string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.amqpURLs[service]; ok {
		return u
	}
	adminURL := s.adminAMQPURL()
	u, err := url.Parse(adminURL)
	if err != nil {
		s.t.Fatal(err)
	}
	vhost := strings.TrimPrefix(u.Path, "/")
	perms, err := access.BrokerPermissionsOf(service)
	if err != nil {
		s.t.Fatal(err)
	}
	admin, err := access.NewBrokerAdmin(adminURL)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx := context.Background()
	user, password := access.BrokerUser(vhost, service), secret()
	if err := admin.EnsureUser(ctx, user, password); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		if err := admin.DeleteUser(context.Background(), user); err != nil {
			s.t.Errorf("delete broker user %s: %v", user, err)
		}
	})
	if err := admin.SetPermissions(ctx, vhost, user, perms); err != nil {
		s.t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	s.amqpURLs[service], s.users[service] = u.String(), user
	return s.amqpURLs[service]
}

// BrokerUser is service's RabbitMQ user (made by AMQPURL(service)), what its messages carry
// as user_id.
func (s *Stack) BrokerUser(service string) string {
	s.t.Helper()
	s.AMQPURL(service)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[service]
}

// secret is a random password.
func secret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PublishAs publishes body to exchange (routing key key) over a connection as url's user with
// the given user_id ("" for none) and reports the broker's answer: nil when it took the message.
// Forgery tests use it to show what a broker user other than the publisher can and cannot do.
func PublishAs(t testing.TB, rawURL, exchange, key, userID string, msg amqp.Publishing) error {
	t.Helper()
	conn, err := amqp.Dial(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	msg.UserId = userID
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, msg)
	if err != nil {
		return err
	}
	select {
	case e := <-closed: // the broker refused: access or user_id
		if e == nil {
			return amqp.ErrClosed
		}
		return e
	case <-dc.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	if !dc.Acked() {
		// The channel may close right after the nack; prefer its reason.
		select {
		case e := <-closed:
			if e != nil {
				return e
			}
		case <-time.After(100 * time.Millisecond):
		}
		return amqp.ErrClosed
	}
	return nil
}
