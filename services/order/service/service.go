// Package service starts the order service in-process: cmd/order runs it, and other modules'
// tests start a real one with it.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/ids"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/order/internal/adapters/mysql"
	"github.com/paysuite/paysuite/services/order/internal/adapters/mysql/migrations"
	"github.com/paysuite/paysuite/services/order/internal/adapters/paymentgrpc"
	"github.com/paysuite/paysuite/services/order/internal/app"
	grpcport "github.com/paysuite/paysuite/services/order/internal/ports/grpc"
)

// Name is the service name: its database is `<MYSQL_DSN database>_order`.
const Name = "order"

// Config is every setting of the order service.
type Config struct {
	GRPCAddr      string        // ORDER_GRPC_ADDR
	MySQLDSN      string        // MYSQL_DSN
	PayTimeout    time.Duration // ORDER_PAY_TIMEOUT: an unpaid order is cancelled this long after creation
	SweepInterval time.Duration // ORDER_SWEEP_INTERVAL
	SweepGrace    time.Duration // ORDER_SWEEP_GRACE: the sweeper cancels orders this long past their deadline
	PaymentTarget string        // PAYMENT_TARGET; empty: cancels do not close provider trades (order-only deployment)
	SnowflakeNode int64         // SNOWFLAKE_NODE
	AMQPURL       string        // AMQP_URL
}

// ConfigFromEnv reads the configuration; the caller checks env.Err().
func ConfigFromEnv(env *config.Env) Config {
	cfg := Config{
		GRPCAddr:      env.String("ORDER_GRPC_ADDR", ":9001"),
		MySQLDSN:      env.String("MYSQL_DSN", db.DefaultDSN),
		PayTimeout:    env.Duration("ORDER_PAY_TIMEOUT", 30*time.Minute),
		SweepInterval: env.Duration("ORDER_SWEEP_INTERVAL", 30*time.Second),
		SweepGrace:    env.Duration("ORDER_SWEEP_GRACE", 30*time.Second),
		PaymentTarget: env.String("PAYMENT_TARGET", "127.0.0.1:9002"),
		SnowflakeNode: ids.NodeIDFromEnv(env),
		AMQPURL:       env.String("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
	}
	env.Check(cfg.PayTimeout >= time.Second, "ORDER_PAY_TIMEOUT=%s: want at least 1s", cfg.PayTimeout)
	env.Check(cfg.SweepInterval > 0, "ORDER_SWEEP_INTERVAL=%s: want a positive duration", cfg.SweepInterval)
	env.Check(cfg.SweepGrace >= 0, "ORDER_SWEEP_GRACE=%s: want zero or more", cfg.SweepGrace)
	return cfg
}

// Run opens the database (creating and migrating it), serves gRPC on cfg.GRPCAddr and blocks
// until ctx is done, then drains in-flight calls.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if cfg.PayTimeout <= 0 {
		return fmt.Errorf("order: PayTimeout must be positive")
	}
	node, err := ids.NewNode(cfg.SnowflakeNode)
	if err != nil {
		return err
	}
	gdb, err := db.Open(ctx, cfg.MySQLDSN, Name, migrations.FS, log)
	if err != nil {
		return err
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return err
	}
	defer sqlDB.Close()

	var closer app.PaymentCloser
	if cfg.PaymentTarget == "" {
		log.Warn("PAYMENT_TARGET is empty: cancels will not close provider trades (order-only deployment)")
	} else {
		c, err := paymentgrpc.Dial(cfg.PaymentTarget)
		if err != nil {
			return err
		}
		defer c.Close()
		closer = c
	}

	a := app.New(mysql.NewOrderRepository(gdb), mysql.NewCatalogRepository(gdb), closer,
		func() int64 { return node.Generate().Int64() }, app.Config{PayTimeout: cfg.PayTimeout}, log)
	srv := grpcserver.New(log)
	orderv1.RegisterOrderServiceServer(srv.GRPC(), grpcport.NewServer(a))
	return srv.Serve(ctx, cfg.GRPCAddr)
}
