// Package service starts the notification service: the consumer of paysuite.payment.results
// (user notifications, webhook deliveries, live order status), the webhook dispatcher and the
// NotificationService gRPC API. cmd/notification and other modules' tests run it in-process.
package service

import (
	"context"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/boot"
	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/pkg/tlsx"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
	"github.com/paysuite/paysuite/services/notification/internal/adapters/mysql"
	"github.com/paysuite/paysuite/services/notification/internal/adapters/mysql/migrations"
	"github.com/paysuite/paysuite/services/notification/internal/adapters/pubsub"
	"github.com/paysuite/paysuite/services/notification/internal/adapters/webhookhttp"
	"github.com/paysuite/paysuite/services/notification/internal/app"
	"github.com/paysuite/paysuite/services/notification/internal/domain/delivery"
	"github.com/paysuite/paysuite/services/notification/internal/ports"
	amqpport "github.com/paysuite/paysuite/services/notification/internal/ports/amqp"
)

// Name is the service name (database `<db>_notification`, log tag).
const Name = "notification"

// Config is every setting of the notification service. Zero durations and scale take the defaults.
type Config struct {
	GRPCAddr   string     // NOTIFICATION_GRPC_ADDR
	OpsAddr    string     // NOTIFICATION_OPS_ADDR: /healthz, /readyz, /metrics; empty serves none
	Reflection bool       // GRPC_REFLECTION
	TLS        tlsx.Files // TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE: the notification identity
	MySQLDSN   string     // NOTIFICATION_MYSQL_DSN, else MYSQL_DSN
	AMQPURL    string     // NOTIFICATION_AMQP_URL, else AMQP_URL
	// PaymentBrokerUser is the broker user whose payment results are believed (PAYMENT_BROKER_USER,
	// default amqpx.PaymentBrokerUser): anything else on the results queue is parked.
	PaymentBrokerUser string
	SnowflakeNode     int64         // SNOWFLAKE_NODE
	WebhookTimeScale  float64       // WEBHOOK_TIME_SCALE: multiplies the retry schedule (default 1)
	WebhookTimeout    time.Duration // WEBHOOK_TIMEOUT: per POST (default 10s)
	WebhookPoll       time.Duration // longest the dispatcher sleeps between passes (default 1s)
	WatchPoll         time.Duration // WatchOrder re-reads the records this often (default 2s)
}

// ConfigFromEnv reads the configuration; the caller checks env.Err().
func ConfigFromEnv(env *config.Env) Config {
	cfg := Config{
		GRPCAddr:          env.String("NOTIFICATION_GRPC_ADDR", ":9003"),
		OpsAddr:           boot.OpsAddrFromEnv(env, Name),
		Reflection:        boot.ReflectionFromEnv(env),
		TLS:               tlsx.FilesFromEnv(env),
		MySQLDSN:          boot.MySQLDSNFromEnv(env, Name),
		AMQPURL:           boot.AMQPURLFromEnv(env, Name),
		PaymentBrokerUser: env.String("PAYMENT_BROKER_USER", amqpx.PaymentBrokerUser),
		SnowflakeNode:     ids.NodeIDFromEnv(env),
		WebhookTimeScale:  env.Float("WEBHOOK_TIME_SCALE", 1),
		WebhookTimeout:    env.Duration("WEBHOOK_TIMEOUT", 10*time.Second),
	}
	env.Check(cfg.WebhookTimeScale > 0, "WEBHOOK_TIME_SCALE must be > 0")
	env.Check(cfg.WebhookTimeout > 0, "WEBHOOK_TIMEOUT must be > 0")
	return cfg
}

func (c Config) withDefaults() Config {
	if c.WebhookTimeScale <= 0 {
		c.WebhookTimeScale = 1
	}
	if c.WebhookTimeout <= 0 {
		c.WebhookTimeout = 10 * time.Second
	}
	if c.WebhookPoll <= 0 {
		c.WebhookPoll = time.Second
	}
	if c.WatchPoll <= 0 {
		c.WatchPoll = 2 * time.Second
	}
	if c.PaymentBrokerUser == "" {
		c.PaymentBrokerUser = amqpx.PaymentBrokerUser
	}
	return c
}

// Callers is who may call each RPC of the service, besides admin (the table next to its gRPC
// server); other modules' tests check a running service against it.
func Callers() grpcauth.Policy { return ports.Callers() }

// Run serves until ctx is done, then drains the gRPC server, the consumer and in-flight webhooks.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	cfg = cfg.withDefaults()
	infra, err := boot.Start(ctx, boot.Config{Service: Name, MySQLDSN: cfg.MySQLDSN, Migrations: migrations.FS,
		AMQPURL: cfg.AMQPURL, SnowflakeNode: cfg.SnowflakeNode, TLS: cfg.TLS}, log)
	if err != nil {
		return err
	}
	defer infra.Close()

	gdb := infra.DB
	a := app.New(app.Config{
		Schedule:    delivery.DefaultSchedule(cfg.WebhookTimeScale),
		SendTimeout: cfg.WebhookTimeout,
		WatchPoll:   cfg.WatchPoll,
	}, app.Deps{
		Tx: func(ctx context.Context, fn func(ctx context.Context) error) error {
			return db.WithTx(ctx, gdb, func(ctx context.Context, _ *gorm.DB) error { return fn(ctx) })
		},
		AfterCommit:   db.AfterCommit,
		Notifications: mysql.NewNotifications(gdb),
		Subscriptions: mysql.NewSubscriptions(gdb),
		Deliveries:    mysql.NewDeliveries(gdb, infra.NewID),
		Sender:        webhookhttp.NewSender(cfg.WebhookTimeout),
		Feed:          pubsub.NewFeed(),
		NewID:         infra.NewID,
	}, log)
	srv := infra.GRPCServer(Callers(), cfg.Reflection)
	notificationv1.RegisterNotificationServiceServer(srv.GRPC(), ports.NewGRPC(a, log))

	g := run.NewGroup(ctx)
	g.Go("grpc", func(ctx context.Context) error { return srv.Serve(ctx, cfg.GRPCAddr) })
	g.Go("ops", infra.Ops(cfg.OpsAddr))
	g.Go("payment-results consumer", infra.Consumer(amqpport.PaymentResults(a, cfg.PaymentBrokerUser)))
	g.Go("webhook dispatcher", func(ctx context.Context) error { return a.RunDispatcher(ctx, cfg.WebhookPoll) })
	return g.Wait()
}
