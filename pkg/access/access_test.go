package access_test

import (
	"database/sql"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/paysuite/paysuite/pkg/access"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// openAs connects as service's own MariaDB user (the DSN the stack gives that service) to
// database, "" for none.
func openAs(t *testing.T, stack *testkit.Stack, service, database string) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(stack.MySQLDSN(service))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = database
	conn, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestAServicesDatabaseUserReachesOnlyItsOwnDatabase(t *testing.T) {
	stack := testkit.NewStack(t)
	admin, err := mysql.ParseDSN(stack.AdminMySQLDSN())
	if err != nil {
		t.Fatal(err)
	}
	prefix := admin.DBName
	for _, svc := range []string{"order", "payment"} { // as pkg/db does at a service's start
		if _, err := openAs(t, stack, svc, "").Exec("CREATE DATABASE `" + prefix + "_" + svc + "`"); err != nil {
			t.Fatalf("%s may not create its own database: %v", svc, err)
		}
	}
	payment := openAs(t, stack, "payment", prefix+"_payment")
	if _, err := payment.Exec("CREATE TABLE payments (id BIGINT PRIMARY KEY, amount_fen BIGINT)"); err != nil {
		t.Fatalf("payment in its own database: %v", err)
	}
	if _, err := payment.Exec("INSERT INTO payments VALUES (1, 9900)"); err != nil {
		t.Fatal(err)
	}

	order := openAs(t, stack, "order", prefix+"_order")
	if _, err := order.Exec("CREATE TABLE orders (id BIGINT PRIMARY KEY)"); err != nil {
		t.Fatalf("order in its own database: %v", err)
	}
	other := "`" + prefix + "_payment`.payments"
	for _, stmt := range []string{
		"SELECT COUNT(*) FROM " + other,
		"UPDATE " + other + " SET amount_fen = 1",
		"DELETE FROM " + other,
		"DROP TABLE " + other,
		"CREATE TABLE `" + prefix + "_payment`.stolen (id INT)",
		"CREATE DATABASE `" + prefix + "_orderx`", // _ is a GRANT wildcard: the grant names one database
		"CREATE DATABASE `" + prefix + "Xorder`",
	} {
		_, err := order.Exec(stmt)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || (me.Number != 1142 && me.Number != 1044) {
			t.Errorf("order user: %s: %v; want access denied (1142 or 1044)", stmt, err)
		}
	}
	var amount int64
	if err := payment.QueryRow("SELECT amount_fen FROM payments WHERE id = 1").Scan(&amount); err != nil || amount != 9900 {
		t.Fatalf("payment's row after the order user's attempts: %d, %v", amount, err)
	}
	rows, err := order.Query("SHOW DATABASES")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		_ = rows.Scan(&name)
		if strings.HasPrefix(name, prefix) && name != prefix+"_order" {
			t.Errorf("the order user sees database %s", name)
		}
	}
}

func TestBrokerPermissionsKeepServicesInTheirOwnNames(t *testing.T) {
	matches := func(re, name string) bool { return regexp.MustCompile(re).MatchString(name) }
	for _, svc := range access.Services() {
		p, err := access.BrokerPermissionsOf(svc)
		if err != nil {
			t.Fatal(err)
		}
		if got := matches(p.Write, "paysuite.payment.results"); got != (svc == "payment") {
			t.Errorf("%s may write to paysuite.payment.results: %v", svc, got)
		}
		if matches(p.Configure, "paysuite.payment.results") != (svc == "payment") {
			t.Errorf("%s may configure (delete) paysuite.payment.results", svc)
		}
		if !matches(p.Read, "paysuite.payment.results") && svc != "payment" {
			t.Errorf("%s may not bind to the payment results", svc)
		}
		if got := matches(p.Write, "paysuite.order.payment-refusals"); got != (svc == "order") {
			t.Errorf("%s may write to paysuite.order.payment-refusals: %v", svc, got)
		}
		if got := matches(p.Read, "paysuite.order.payment-refusals"); got != (svc == "order" || svc == "payment") {
			t.Errorf("%s may bind to paysuite.order.payment-refusals: %v", svc, got)
		}
		for _, other := range access.Services() {
			if other == svc {
				continue
			}
			own := "paysuite." + other + ".payment-results"
			if matches(p.Configure, own) || matches(p.Read, own) || matches(p.Write, own) {
				t.Errorf("%s may touch %s", svc, own)
			}
		}
		if matches(p.Write, "paysuite.order.pay-deadline.x") != (svc == "order") || matches(p.Read, "xpaysuite."+svc+".q") {
			t.Errorf("%s: permissions not anchored: %+v", svc, p)
		}
	}
	if _, err := access.BrokerPermissionsOf("gateway"); err == nil {
		t.Error("the gateway has no broker user")
	}
}
