package boot_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/boot"
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
	dsn := testkit.MySQLDSN(t)
	if _, err := boot.Start(ctx, boot.Config{Service: "svc", MySQLDSN: dsn, Migrations: migrations}, testkit.Logger(t)); !errors.Is(err, boot.ErrNoBroker) {
		t.Fatalf("no AMQP_URL for a service that needs it: %v, want ErrNoBroker", err)
	}
	in, err := boot.Start(ctx, boot.Config{Service: "svc", MySQLDSN: dsn, Migrations: migrations, BrokerOptional: true}, testkit.Logger(t))
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
		BrokerOptional: true, SnowflakeNode: 1024}, testkit.Logger(t))
	if err == nil {
		t.Fatal("snowflake node 1024 was accepted")
	}
}
