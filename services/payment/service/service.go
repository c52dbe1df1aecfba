// Package service starts the payment service in-process: cmd/payment runs it, and tests (ours
// and other modules') start a real one with it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/grpc"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/boot"
	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/httpserver"
	"github.com/paysuite/paysuite/pkg/principal/grpcprincipal"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/pkg/tlsx"
	"github.com/paysuite/paysuite/pkg/tracing"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/events"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/mysql"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/ordergrpc"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/reconmetrics"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	amqpport "github.com/paysuite/paysuite/services/payment/internal/ports/amqp"
	grpcport "github.com/paysuite/paysuite/services/payment/internal/ports/grpc"
	httpport "github.com/paysuite/paysuite/services/payment/internal/ports/http"
)

// Name is the service name: its database is `<MYSQL_DSN database>_payment`.
const Name = "payment"

// Callers is who may call each RPC of the service, besides admin (the table next to its gRPC
// server); other modules' tests check a running service against it.
func Callers() grpcauth.Policy { return grpcport.Callers() }

// Run opens the database and broker, serves gRPC and the notify endpoints, runs the durable
// task runner and the outbox relay, and blocks until ctx is done, then drains.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	cfg, err := cfg.withMerchantFile()
	if err != nil {
		return err
	}
	notifyBase := strings.TrimSuffix(cfg.NotifyBaseURL, "/")
	channels, err := newChannels(cfg, notifyBase)
	if err != nil {
		return err
	}
	returnURLs, err := payment.ParseReturnURLAllowlist(cfg.ReturnURLAllowlist)
	if err != nil {
		return err
	}
	// One bill per provider account, fetched by its QR/Native channel's adapter.
	bills := map[payment.Channel]app.BillSource{}
	for _, ch := range []payment.Channel{payment.ChannelAlipayQR, payment.ChannelWechatNative} {
		if src, ok := channels[ch].(app.BillSource); ok {
			bills[ch] = src
		}
	}
	if len(channels) == 0 {
		return errors.New("no payment channel configured: set ALIPAY_* and/or WECHAT_* (or PAYMENT_MERCHANT_FILE)")
	}

	infra, err := boot.Start(ctx, boot.Config{Service: Name, MySQLDSN: cfg.MySQLDSN, Migrations: mysql.Migrations(),
		AMQPURL: cfg.AMQPURL, QueueType: cfg.QueueType, Topology: []amqpx.Topology{amqpx.DeclarePaymentResults}, SnowflakeNode: cfg.SnowflakeNode,
		TLS: cfg.TLS}, log)
	if err != nil {
		return err
	}
	defer infra.Close()
	relay := infra.Relay()

	// Calls made for a user (CreatePayment reads the order) carry the user on, for the order
	// service's log; the payment service decides ownership itself.
	orderConn, err := infra.Dial(cfg.OrderTarget, tlsx.Order, grpc.WithChainUnaryInterceptor(grpcprincipal.UnaryClientInterceptor()))
	if err != nil {
		return fmt.Errorf("ORDER_TARGET: %w", err)
	}
	defer orderConn.Close()

	repo := mysql.NewRepository(infra.DB, events.NewOutbox(infra.DB))
	a := app.New(app.Config{ProviderTradeTimeout: cfg.ProviderTradeTimeout, PollScale: cfg.PollScale, ReturnURLs: returnURLs,
		Recon: app.ReconConfig{ReadyAfter: cfg.ReconReadyAfter, Every: cfg.ReconEvery}}, app.Deps{
		Payments: repo, Refunds: repo, Notifies: repo, Tasks: repo, Anomalies: repo,
		Orders: ordergrpc.New(orderConn), Channels: channels, NewID: infra.NewID,
		Bills: bills, Recons: repo, AnomalyRecorder: repo, ReconObserver: reconmetrics.New(),
	}, log)
	a.OnEventsCommitted(relay.Wake)

	srv := infra.GRPCServer(Callers(), cfg.Reflection)
	paymentv1.RegisterPaymentServiceServer(srv.GRPC(), grpcport.NewServer(a))
	log.Info("payment service starting", "grpc", cfg.GRPCAddr, "http", cfg.HTTPAddr, "channels", len(channels),
		"provider_trade_timeout", cfg.ProviderTradeTimeout.String(), "poll_scale", cfg.PollScale)

	g := run.NewGroup(ctx)
	g.Go("grpc", func(ctx context.Context) error { return srv.Serve(ctx, cfg.GRPCAddr) })
	mysql.Gauges(infra.SQLGauges())
	notify := httpport.Handler(a, httpport.WithMetrics(httpport.NewMetrics(infra.Metrics)))
	notify = infra.HTTPMetrics().Handler("notify", tracing.Handler(notify, "notify"), nil)
	g.Go("ops", infra.Ops(cfg.OpsAddr))
	g.Go("http", func(ctx context.Context) error {
		return httpserver.Serve(ctx, cfg.HTTPAddr, notify, log)
	})
	g.Go("tasks", func(ctx context.Context) error { return a.RunTasks(ctx, cfg.TaskWorkers) })
	orderUser := cfg.OrderBrokerUser
	if orderUser == "" {
		orderUser = amqpx.OrderBrokerUser
	}
	g.Go("payment-refusals consumer", infra.Consumer(amqpport.PaymentRefusals(a, orderUser)))
	g.Go("relay", relay.Run)
	g.Go("reconciliation", func(ctx context.Context) error {
		return a.RunDailyReconciliation(ctx, infra.LeaderLock("payment-reconciliation"))
	})
	return g.Wait()
}
