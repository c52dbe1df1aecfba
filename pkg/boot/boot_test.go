package boot_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/boot"
	"github.com/paysuite/paysuite/pkg/ops"
	"github.com/paysuite/paysuite/pkg/testkit"
)

var migrations = fstest.MapFS{"00001_init.sql": {Data: []byte("-- +goose Up\nCREATE TABLE things (id BIGINT PRIMARY KEY);\n")}}

func tableExists(t *testing.T, in *boot.Infra, table string) bool {
	t.Helper()
	var n int64
	if err := in.DB.Raw("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table).
		Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestStartGivesAServiceItsInfrastructure(t *testing.T) {
	ctx := testkit.Context(t)
	in, err := boot.Start(ctx, boot.Config{
		Service: "svc", MySQLDSN: testkit.MySQLDSN(t), Migrations: migrations, AMQPURL: testkit.AMQPURL(t),
		Topology: []amqpx.Topology{amqpx.DeclareExchange("boot.test", amqp.ExchangeFanout)}, SnowflakeNode: 3,
		TLS: testkit.NewStack(t).TLS("order"),
	}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for _, table := range []string{"things", "outbox_messages", "processed_messages"} {
		if !tableExists(t, in, table) {
			t.Errorf("table %s missing", table)
		}
	}
	ch, err := in.Broker.Channel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.ExchangeDeclarePassive("boot.test", amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		t.Fatalf("topology not declared: %v", err)
	}
	if a, b := in.NewID(), in.NewID(); a <= 0 || b <= a {
		t.Fatalf("ids %d then %d, want positive and increasing", a, b)
	}
	if ok, err := in.LeaderLock("job").Hold(ctx); err != nil || !ok {
		t.Fatalf("leader lock: %v, %v", ok, err)
	}
}

func TestStartWithoutABroker(t *testing.T) {
	ctx := context.Background()
	dsn, tls := testkit.MySQLDSN(t), testkit.NewStack(t).TLS("order")
	if _, err := boot.Start(ctx, boot.Config{Service: "svc", MySQLDSN: dsn, Migrations: migrations, TLS: tls}, testkit.Logger(t)); !errors.Is(err, boot.ErrNoBroker) {
		t.Fatalf("no AMQP_URL for a service that needs it: %v, want ErrNoBroker", err)
	}
	in, err := boot.Start(ctx, boot.Config{Service: "svc", MySQLDSN: dsn, Migrations: migrations, BrokerOptional: true, TLS: tls}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if in.Broker != nil || tableExists(t, in, "outbox_messages") || !tableExists(t, in, "things") {
		t.Fatal("a service without a broker got a broker or outbox tables, or not its own")
	}
}

func TestStartRefusesABadNodeID(t *testing.T) {
	_, err := boot.Start(context.Background(), boot.Config{Service: "svc", MySQLDSN: testkit.MySQLDSN(t), Migrations: migrations,
		BrokerOptional: true, SnowflakeNode: 1024, TLS: testkit.NewStack(t).TLS("order")}, testkit.Logger(t))
	if err == nil {
		t.Fatal("snowflake node 1024 was accepted")
	}
}

func TestStartRefusesAServiceWithoutItsTLSIdentity(t *testing.T) {
	_, err := boot.Start(context.Background(), boot.Config{Service: "svc", MySQLDSN: testkit.MySQLDSN(t), Migrations: migrations,
		BrokerOptional: true}, testkit.Logger(t))
	if err == nil || !strings.Contains(err.Error(), "TLS_CA_FILE") {
		t.Fatalf("no TLS files: %v, want an error naming TLS_CA_FILE", err)
	}
}

func TestOpsPortAnswersHealthReadinessAndMetrics(t *testing.T) {
	ctx := testkit.Context(t)
	proxy := testkit.NewTCPProxy(t, "127.0.0.1:5672")
	dbProxy := testkit.NewTCPProxy(t, "127.0.0.1:3306")
	dsn, err := mysql.ParseDSN(testkit.MySQLDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	dsn.Addr = dbProxy.Addr()
	in, err := boot.Start(ctx, boot.Config{Service: "svc", MySQLDSN: dsn.FormatDSN(), Migrations: migrations,
		AMQPURL: proxy.URL(testkit.AMQPURL(t)), TLS: testkit.NewStack(t).TLS("order")}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	addr := testkit.FreeAddr(t)
	testkit.Go(t, in.Ops(addr))
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	testkit.Eventually(t, 10*time.Second, func() bool { code, _ := get("/readyz"); return code == http.StatusOK },
		"/readyz never 200 with the database and broker up")
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d", code)
	}
	if err := ops.Probe(addr); err != nil {
		t.Fatalf("the container health check of a ready process: %v", err)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") ||
		!strings.Contains(body, "process_cpu_seconds_total") {
		t.Fatalf("/metrics %d without the runtime and process metrics:\n%.300s", code, body)
	}

	proxy.Cut() // the broker goes away
	testkit.Eventually(t, 30*time.Second, func() bool {
		code, body := get("/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "broker")
	}, "/readyz still ready without the broker")
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d while only the broker is down", code)
	}
	if err := ops.Probe(addr); err == nil {
		t.Fatal("the container health check passed without the broker")
	}
	proxy.Restore()
	testkit.Eventually(t, 30*time.Second, func() bool { code, _ := get("/readyz"); return code == http.StatusOK },
		"/readyz not ready again after the broker came back")

	dbProxy.Cut() // the database goes away
	testkit.Eventually(t, 30*time.Second, func() bool {
		code, body := get("/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "database")
	}, "/readyz still ready without the database")
	dbProxy.Restore()
	testkit.Eventually(t, 30*time.Second, func() bool { code, _ := get("/readyz"); return code == http.StatusOK },
		"/readyz not ready again after the database came back")
}
