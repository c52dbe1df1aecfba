// Package service starts the order service in-process: cmd/order runs it, and other modules'
// tests start a real one with it.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/boot"
	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/leader"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/pkg/tlsx"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/order/internal/adapters/events"
	"github.com/paysuite/paysuite/services/order/internal/adapters/mysql"
	"github.com/paysuite/paysuite/services/order/internal/adapters/mysql/migrations"
	"github.com/paysuite/paysuite/services/order/internal/adapters/paymentgrpc"
	"github.com/paysuite/paysuite/services/order/internal/app"
	amqpport "github.com/paysuite/paysuite/services/order/internal/ports/amqp"
	grpcport "github.com/paysuite/paysuite/services/order/internal/ports/grpc"
)

// Name is the service name: its database is `<MYSQL_DSN database>_order`.
const Name = "order"

// Config is every setting of the order service.
type Config struct {
	GRPCAddr      string        // ORDER_GRPC_ADDR
	OpsAddr       string        // ORDER_OPS_ADDR: /healthz, /readyz, /metrics; empty serves none
	Reflection    bool          // GRPC_REFLECTION
	TLS           tlsx.Files    // TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE: the order identity
	MySQLDSN      string        // ORDER_MYSQL_DSN, else MYSQL_DSN
	PayTimeout    time.Duration // ORDER_PAY_TIMEOUT: an unpaid order is cancelled this long after creation
	SweepInterval time.Duration // ORDER_SWEEP_INTERVAL
	SweepGrace    time.Duration // ORDER_SWEEP_GRACE: the sweeper cancels orders this long past their deadline
	PaymentTarget string        // PAYMENT_TARGET; empty: cancels do not close provider trades (order-only deployment)
	SnowflakeNode int64         // SNOWFLAKE_NODE
	AMQPURL       string        // ORDER_AMQP_URL, else AMQP_URL
	QueueType     string        // AMQP_QUEUE_TYPE: classic or quorum
	// PaymentBrokerUser is the broker user whose payment results are believed (PAYMENT_BROKER_USER,
	// default amqpx.PaymentBrokerUser): anything else on the results queue is parked.
	PaymentBrokerUser string
	// MaxPendingPerUser (ORDER_MAX_PENDING_PER_USER) is how many unpaid orders one user may hold;
	// 0 takes the default, 10; negative: no limit.
	MaxPendingPerUser int
}

// DefaultMaxPendingPerUser is ORDER_MAX_PENDING_PER_USER's default.
const DefaultMaxPendingPerUser = 10

// ConfigFromEnv reads the configuration; the caller checks env.Err().
func ConfigFromEnv(env *config.Env) Config {
	cfg := Config{
		GRPCAddr:          env.String("ORDER_GRPC_ADDR", ":9001"),
		OpsAddr:           boot.OpsAddrFromEnv(env, Name),
		Reflection:        boot.ReflectionFromEnv(env),
		TLS:               tlsx.FilesFromEnv(env),
		MySQLDSN:          boot.MySQLDSNFromEnv(env, Name),
		PayTimeout:        env.Duration("ORDER_PAY_TIMEOUT", 30*time.Minute),
		SweepInterval:     env.Duration("ORDER_SWEEP_INTERVAL", 30*time.Second),
		SweepGrace:        env.Duration("ORDER_SWEEP_GRACE", 30*time.Second),
		PaymentTarget:     env.String("PAYMENT_TARGET", "127.0.0.1:9002"),
		SnowflakeNode:     ids.NodeIDFromEnv(env),
		AMQPURL:           boot.AMQPURLFromEnv(env, Name),
		QueueType:         boot.QueueTypeFromEnv(env),
		PaymentBrokerUser: env.String("PAYMENT_BROKER_USER", amqpx.PaymentBrokerUser),
		MaxPendingPerUser: env.Int("ORDER_MAX_PENDING_PER_USER", DefaultMaxPendingPerUser),
	}
	env.Check(cfg.MaxPendingPerUser > 0, "ORDER_MAX_PENDING_PER_USER=%d: want at least 1", cfg.MaxPendingPerUser)
	env.Check(cfg.PayTimeout >= time.Second, "ORDER_PAY_TIMEOUT=%s: want at least 1s", cfg.PayTimeout)
	env.Check(cfg.SweepInterval > 0, "ORDER_SWEEP_INTERVAL=%s: want a positive duration", cfg.SweepInterval)
	env.Check(cfg.SweepGrace >= 0, "ORDER_SWEEP_GRACE=%s: want zero or more", cfg.SweepGrace)
	return cfg
}

// Callers is who may call each RPC of the service, besides admin (the table next to its gRPC
// server); other modules' tests check a running service against it.
func Callers() grpcauth.Policy { return grpcport.Callers() }

// Run opens the database (creating and migrating it), connects to the broker when AMQPURL is
// set, serves gRPC on cfg.GRPCAddr, runs the deadline and payment-result consumers, the outbox
// relay and the sweeper, and blocks until ctx is done; then it drains all of them.
// With AMQPURL empty (order-only tests and tools) no deadline messages are written and the
// sweeper alone cancels unpaid orders.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if cfg.PayTimeout <= 0 || cfg.SweepInterval <= 0 {
		return fmt.Errorf("order: PayTimeout and SweepInterval must be positive")
	}
	if cfg.AMQPURL == "" {
		log.Warn("AMQP_URL is empty: no pay-deadline messages and no payment-result consumer; the sweeper alone cancels unpaid orders")
	}
	if cfg.PaymentBrokerUser == "" {
		cfg.PaymentBrokerUser = amqpx.PaymentBrokerUser
	}
	infra, err := boot.Start(ctx, boot.Config{Service: Name, MySQLDSN: cfg.MySQLDSN, Migrations: migrations.FS,
		AMQPURL: cfg.AMQPURL, QueueType: cfg.QueueType, BrokerOptional: true, Topology: amqpport.Topology(cfg.PayTimeout), SnowflakeNode: cfg.SnowflakeNode,
		TLS: cfg.TLS}, log)
	if err != nil {
		return err
	}
	defer infra.Close() // after everything below has drained

	var closer app.PaymentCloser
	if cfg.PaymentTarget == "" {
		log.Warn("PAYMENT_TARGET is empty: cancels will not close provider trades (order-only deployment)")
	} else {
		c, err := paymentgrpc.Dial(cfg.PaymentTarget, infra.Dial)
		if err != nil {
			return err
		}
		defer c.Close()
		closer = c
	}
	var outbox app.Outbox // nil without a broker: nobody to send the deadline messages to
	if infra.Broker != nil {
		// No relay.Wake() per order: the relay's poll (500ms, batches of 100) publishes deadline
		// messages soon enough for a timeout of minutes, at a fraction of the database load.
		outbox = events.NewOutbox(infra.DB, amqpport.DelayQueue(cfg.PayTimeout))
	}

	maxPending := cfg.MaxPendingPerUser
	switch {
	case maxPending == 0:
		maxPending = DefaultMaxPendingPerUser
	case maxPending < 0:
		maxPending = 0 // the repository's "no limit"
	}
	a := app.New(mysql.NewOrderRepository(infra.DB, outbox), mysql.NewCatalogRepository(infra.DB), closer, outbox,
		infra.NewID, app.Config{PayTimeout: cfg.PayTimeout, MaxPendingPerUser: maxPending}, log)
	srv := infra.GRPCServer(Callers(), cfg.Reflection)
	orderv1.RegisterOrderServiceServer(srv.GRPC(), grpcport.NewServer(a))

	g := run.NewGroup(ctx)
	g.Go("grpc", func(ctx context.Context) error { return srv.Serve(ctx, cfg.GRPCAddr) })
	mysql.Gauges(infra.SQLGauges())
	g.Go("ops", infra.Ops(cfg.OpsAddr))
	g.Go("sweeper", func(ctx context.Context) error {
		sweep(ctx, a, mysql.NewSweeperStore(infra.DB), infra.LeaderLock("order_sweeper"), cfg, log)
		return nil
	})
	if infra.Broker != nil {
		g.Go("outbox relay", infra.Relay().Run)
		g.Go("pay-deadline consumer", infra.Consumer(amqpport.Deadlines(a)))
		g.Go("payment-results consumer", infra.Consumer(amqpport.PaymentResults(a, cfg.PaymentBrokerUser)))
	}
	return g.Wait()
}

// sweep expires overdue unpaid orders every SweepInterval, starting now (after a downtime the
// backlog goes at once).
func sweep(ctx context.Context, a *app.App, store *mysql.SweeperStore, lock leader.Lock, cfg Config, log *slog.Logger) {
	t := time.NewTicker(cfg.SweepInterval)
	defer t.Stop()
	for {
		n, err := a.SweepExpiredOrders(ctx, store, lock, cfg.SweepGrace)
		if err != nil && ctx.Err() == nil {
			log.Warn("sweeper", "err", err)
		}
		if n > 0 {
			log.Info("sweeper expired unpaid orders past their deadline", "orders", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
