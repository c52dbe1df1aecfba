// Package service starts the notification service: the consumer of paysuite.payment.results
// (user notifications, webhook deliveries, live order status), the webhook dispatcher and the
// NotificationService gRPC API. cmd/notification and other modules' tests run it in-process.
package service

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/boot"
	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/principal/grpcprincipal"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/pkg/tlsx"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
	"github.com/paysuite/paysuite/services/notification/internal/adapters/mysql"
	"github.com/paysuite/paysuite/services/notification/internal/adapters/mysql/migrations"
	"github.com/paysuite/paysuite/services/notification/internal/adapters/ordergrpc"
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
	QueueType  string     // AMQP_QUEUE_TYPE: classic or quorum
	// PaymentBrokerUser is the broker user whose payment results are believed (PAYMENT_BROKER_USER,
	// default amqpx.PaymentBrokerUser): anything else on the results queue is parked.
	PaymentBrokerUser string
	SnowflakeNode     int64         // SNOWFLAKE_NODE
	WebhookTimeScale  float64       // WEBHOOK_TIME_SCALE: multiplies the retry schedule (default 1)
	WebhookTimeout    time.Duration // WEBHOOK_TIMEOUT: per POST (default 10s)
	WebhookPoll       time.Duration // longest the dispatcher sleeps between passes (default 1s)
	// WebhookSecretKey (WEBHOOK_SECRET_KEY: 32 bytes, base64 or hex) seals the subscriptions'
	// signing secrets at rest. Required.
	WebhookSecretKey []byte
	// WebhookAllowPrivate (WEBHOOK_ALLOW_PRIVATE, dev and tests) lets webhooks reach loopback,
	// private and link-local addresses and plain-http URLs.
	WebhookAllowPrivate bool
	WatchPoll           time.Duration // WatchOrder re-reads the records this often (default 2s)
	WatchMaxAge         time.Duration // NOTIFICATION_WATCH_MAX_AGE: a live order stream ends after this (default 35m)
	WatchPerUser        int           // NOTIFICATION_WATCH_MAX_PER_USER: live order streams per user (default 5)
	// OrderTarget (ORDER_TARGET) is asked whose an order is before a user may watch it; empty:
	// users cannot watch (operators still can).
	OrderTarget string

	// For tests only, never from the environment: CAs trusted for https webhook endpoints
	// (nil: the system's), and exact ip:port addresses the private-address guard lets through.
	WebhookRootCAs    *x509.CertPool
	WebhookDialExempt []string
}

// ErrNoSecretKey: WEBHOOK_SECRET_KEY is missing; webhook secrets cannot be stored.
var ErrNoSecretKey = errors.New("notification: WEBHOOK_SECRET_KEY is required (32 random bytes, base64 or hex; make run generates one)")

// ConfigFromEnv reads the configuration; the caller checks env.Err().
func ConfigFromEnv(env *config.Env) Config {
	cfg := Config{
		GRPCAddr:          env.String("NOTIFICATION_GRPC_ADDR", ":9003"),
		OpsAddr:           boot.OpsAddrFromEnv(env, Name),
		Reflection:        boot.ReflectionFromEnv(env),
		TLS:               tlsx.FilesFromEnv(env),
		MySQLDSN:          boot.MySQLDSNFromEnv(env, Name),
		AMQPURL:           boot.AMQPURLFromEnv(env, Name),
		QueueType:         boot.QueueTypeFromEnv(env),
		PaymentBrokerUser: env.String("PAYMENT_BROKER_USER", amqpx.PaymentBrokerUser),
		SnowflakeNode:     ids.NodeIDFromEnv(env),
		WebhookTimeScale:  env.Float("WEBHOOK_TIME_SCALE", 1),
		WebhookTimeout:    env.Duration("WEBHOOK_TIMEOUT", 10*time.Second),

		WebhookAllowPrivate: env.Bool("WEBHOOK_ALLOW_PRIVATE", false),
		WatchMaxAge:         env.Duration("NOTIFICATION_WATCH_MAX_AGE", 35*time.Minute),
		WatchPerUser:        env.Int("NOTIFICATION_WATCH_MAX_PER_USER", 5),
		OrderTarget:         env.String("ORDER_TARGET", "127.0.0.1:9001"),
	}
	if raw := env.Required("WEBHOOK_SECRET_KEY"); raw != "" {
		key, err := mysql.ParseSecretKey(raw)
		env.Check(err == nil, "WEBHOOK_SECRET_KEY: %v", err)
		cfg.WebhookSecretKey = key
	}
	env.Check(cfg.WatchMaxAge > 0, "NOTIFICATION_WATCH_MAX_AGE must be > 0")
	env.Check(cfg.WatchPerUser > 0, "NOTIFICATION_WATCH_MAX_PER_USER must be > 0")
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
	box, err := mysql.NewSecretBox(cfg.WebhookSecretKey)
	if err != nil {
		return ErrNoSecretKey
	}
	infra, err := boot.Start(ctx, boot.Config{Service: Name, MySQLDSN: cfg.MySQLDSN, Migrations: migrations.FS,
		AMQPURL: cfg.AMQPURL, QueueType: cfg.QueueType, SnowflakeNode: cfg.SnowflakeNode, TLS: cfg.TLS}, log)
	if err != nil {
		return err
	}
	defer infra.Close()

	gdb := infra.DB
	subscriptions := mysql.NewSubscriptions(gdb, box)
	if n, err := subscriptions.SealPlaintextSecrets(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("sealed webhook secrets stored in plaintext before", "subscriptions", n)
	}
	var orders app.Orders
	if cfg.OrderTarget != "" {
		conn, err := infra.Dial(cfg.OrderTarget, tlsx.Order, grpc.WithChainUnaryInterceptor(grpcprincipal.UnaryClientInterceptor()))
		if err != nil {
			return fmt.Errorf("ORDER_TARGET: %w", err)
		}
		defer conn.Close()
		orders = ordergrpc.New(conn)
	} else {
		log.Warn("ORDER_TARGET is empty: users cannot watch their orders live")
	}
	if cfg.WebhookAllowPrivate {
		log.Warn("WEBHOOK_ALLOW_PRIVATE=true: webhooks may reach private addresses and plain http (dev and tests only)")
	}
	a := app.New(app.Config{
		Schedule:     delivery.DefaultSchedule(cfg.WebhookTimeScale),
		SendTimeout:  cfg.WebhookTimeout,
		AllowHTTP:    cfg.WebhookAllowPrivate,
		WatchPoll:    cfg.WatchPoll,
		WatchMaxAge:  cfg.WatchMaxAge,
		WatchPerUser: cfg.WatchPerUser,
	}, app.Deps{
		Tx: func(ctx context.Context, fn func(ctx context.Context) error) error {
			return db.WithTx(ctx, gdb, func(ctx context.Context, _ *gorm.DB) error { return fn(ctx) })
		},
		AfterCommit:   db.AfterCommit,
		Notifications: mysql.NewNotifications(gdb),
		Subscriptions: subscriptions,
		Deliveries:    mysql.NewDeliveries(gdb, infra.NewID),
		Sender: webhookhttp.NewSender(webhookhttp.Options{Timeout: cfg.WebhookTimeout, AllowPrivate: cfg.WebhookAllowPrivate,
			RootCAs: cfg.WebhookRootCAs, DialExempt: cfg.WebhookDialExempt}),
		Orders: orders,
		Feed:   pubsub.NewFeed(),
		NewID:  infra.NewID,
	}, log)
	srv := infra.GRPCServer(Callers(), cfg.Reflection)
	notificationv1.RegisterNotificationServiceServer(srv.GRPC(), ports.NewGRPC(a, log))

	g := run.NewGroup(ctx)
	g.Go("grpc", func(ctx context.Context) error { return srv.Serve(ctx, cfg.GRPCAddr) })
	mysql.Gauges(infra.SQLGauges())
	g.Go("ops", infra.Ops(cfg.OpsAddr))
	g.Go("payment-results consumer", infra.Consumer(amqpport.PaymentResults(a, cfg.PaymentBrokerUser)))
	g.Go("webhook dispatcher", func(ctx context.Context) error { return a.RunDispatcher(ctx, cfg.WebhookPoll) })
	return g.Wait()
}
