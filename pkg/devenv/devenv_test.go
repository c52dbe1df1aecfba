package devenv_test

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/access"
	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/devenv"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// make run's set-up on the test's own database prefix and vhost, with users named after them.
func TestUsersAreMadeOnceAndKeepTheirPasswords(t *testing.T) {
	dsn, amqpURL := testkit.MySQLDSN(t), testkit.AMQPURL(t)
	cfg, _ := mysql.ParseDSN(dsn)
	prefix := cfg.DBName
	s := devenv.Settings{AdminDSN: dsn, AdminAMQ: amqpURL, MySQLDSN: dsn, AMQPURL: amqpURL, UserPrefix: prefix,
		Given: map[string]string{}}
	t.Cleanup(func() { dropUsers(t, dsn, amqpURL, prefix) })
	ctx := context.Background()
	first, err := devenv.EnsureUsers(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(t.TempDir(), "services.env")
	if err := devenv.WriteExports(envFile, first); err != nil {
		t.Fatal(err)
	}
	previous, err := devenv.ReadExports(envFile)
	if err != nil {
		t.Fatal(err)
	}
	second, err := devenv.EnsureUsers(ctx, s, previous)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range first {
		if second[name] != v {
			t.Errorf("%s changed on the second run: %s -> %s", name, v, second[name])
		}
	}

	// The order user works in its own database and vhost, as itself.
	orderCfg, err := mysql.ParseDSN(second["ORDER_MYSQL_DSN"])
	if err != nil || orderCfg.User != prefix+"_order" {
		t.Fatalf("ORDER_MYSQL_DSN = %s (%v)", second["ORDER_MYSQL_DSN"], err)
	}
	orderCfg.DBName = ""
	conn, err := sql.Open("mysql", orderCfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec("CREATE DATABASE `" + prefix + "_order`"); err != nil {
		t.Fatalf("the order user cannot create its database: %v", err)
	}
	if _, err := conn.Exec("CREATE DATABASE `" + prefix + "_payment`"); err == nil {
		t.Fatal("the order user created the payment database")
	}
	mq, err := amqp.Dial(second["PAYMENT_AMQP_URL"])
	if err != nil {
		t.Fatalf("PAYMENT_AMQP_URL: %v", err)
	}
	defer mq.Close()
	ch, err := mq.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclarePassive(amqpx.PaymentResultsExchange, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		t.Fatalf("the results exchange was not declared: %v", err)
	}

	// Given URLs (docker-compose declares them) are made as given.
	given := s
	given.Given = map[string]string{"COURSE_AMQP_URL": withUser(t, amqpURL, prefix+"-given", "given-password-1")}
	third, err := devenv.EnsureUsers(ctx, given, previous)
	if err != nil {
		t.Fatal(err)
	}
	if third["COURSE_AMQP_URL"] != given.Given["COURSE_AMQP_URL"] {
		t.Fatalf("COURSE_AMQP_URL = %s, want the given one", third["COURSE_AMQP_URL"])
	}
	c, err := amqp.Dial(third["COURSE_AMQP_URL"])
	if err != nil {
		t.Fatalf("the given course user: %v", err)
	}
	c.Close()
	admin, _ := access.NewBrokerAdmin(amqpURL)
	_ = admin.DeleteUser(ctx, prefix+"-given")
}

func withUser(t *testing.T, raw, user, password string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

func dropUsers(t *testing.T, dsn, amqpURL, prefix string) {
	cfg, _ := mysql.ParseDSN(dsn)
	cfg.DBName = ""
	adminDB, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Error(err)
		return
	}
	defer adminDB.Close()
	admin, _ := access.NewBrokerAdmin(amqpURL)
	for _, svc := range access.Services() {
		if err := access.DropDatabaseUser(context.Background(), adminDB, access.DatabaseUser(prefix, svc)); err != nil {
			t.Error(err)
		}
		_ = admin.DeleteUser(context.Background(), access.BrokerUser(prefix, svc))
	}
}
