// Package service runs the JSON gateway: grpc-gateway over the order, payment, notification
// and course services, the OpenAPI document and the cashier page, on one HTTP listener.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/grpc"

	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/httpserver"
	"github.com/paysuite/paysuite/pkg/ops"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/pkg/tlsx"
	"github.com/paysuite/paysuite/proto/gen/openapi"
	"github.com/paysuite/paysuite/services/gateway/internal/ports/httpapi"
	"github.com/paysuite/paysuite/services/gateway/internal/web"
)

// Config is every gateway setting; Run reads no environment.
type Config struct {
	HTTPAddr           string
	OpsAddr            string     // GATEWAY_OPS_ADDR: /healthz, /readyz, /metrics; empty serves none
	TLS                tlsx.Files // TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE: the gateway's client identity
	OrderTarget        string
	PaymentTarget      string
	NotificationTarget string
	CourseTarget       string
	SandboxURL         string   // the dev-mode pay button's sandbox
	CORSOrigins        []string // browser origins allowed cross-origin; "*" for any
	DevMode            bool     // show the "pay with sandbox" button and mount its proxy
	MaxBodyBytes       int64
}

// ConfigFromEnv reads the gateway's environment; the caller checks env.Err().
func ConfigFromEnv(env *config.Env) Config {
	cfg := Config{
		HTTPAddr:           env.String("GATEWAY_HTTP_ADDR", ":8080"),
		OpsAddr:            env.String("GATEWAY_OPS_ADDR", ops.DefaultAddr("gateway")),
		TLS:                tlsx.FilesFromEnv(env),
		OrderTarget:        env.String("ORDER_TARGET", "127.0.0.1:9001"),
		PaymentTarget:      env.String("PAYMENT_TARGET", "127.0.0.1:9002"),
		NotificationTarget: env.String("NOTIFICATION_TARGET", "127.0.0.1:9003"),
		CourseTarget:       env.String("COURSE_TARGET", "127.0.0.1:9004"),
		SandboxURL:         env.String("SANDBOX_URL", "http://127.0.0.1:8090"),
		CORSOrigins:        splitList(env.String("GATEWAY_CORS_ORIGINS", "")),
		DevMode:            env.Bool("GATEWAY_DEV_MODE", true),
		MaxBodyBytes:       env.Int64("GATEWAY_MAX_BODY_BYTES", 1<<20),
	}
	env.Check(cfg.MaxBodyBytes > 0, "GATEWAY_MAX_BODY_BYTES must be > 0")
	return cfg
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// Run serves the gateway until ctx ends, then drains in-flight requests and closes the
// client connections. The services need not be up yet: connections are lazy and a route
// whose service is down answers 503. Every service is called over mutual TLS with the
// gateway's own certificate, and must present its own identity.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	src, err := tlsx.Load(cfg.TLS, log)
	if err != nil {
		return err
	}
	var conns []*grpc.ClientConn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	dial := func(name, target string) (*grpc.ClientConn, error) {
		c, err := grpcserver.Dial(target, src, name)
		if err != nil {
			return nil, fmt.Errorf("dial %s at %s: %w", name, target, err)
		}
		conns = append(conns, c)
		return c, nil
	}
	var b httpapi.Backends
	if b.Order, err = dial(tlsx.Order, cfg.OrderTarget); err != nil {
		return err
	}
	if b.Payment, err = dial(tlsx.Payment, cfg.PaymentTarget); err != nil {
		return err
	}
	if b.Notification, err = dial(tlsx.Notification, cfg.NotificationTarget); err != nil {
		return err
	}
	if b.Course, err = dial(tlsx.Course, cfg.CourseTarget); err != nil {
		return err
	}

	handler, err := httpapi.New(ctx, b, httpapi.Options{
		CORSOrigins:  cfg.CORSOrigins,
		MaxBodyBytes: cfg.MaxBodyBytes,
		DevMode:      cfg.DevMode,
		SandboxURL:   cfg.SandboxURL,
		OpenAPI:      openapi.JSON,
		Page:         web.Handler(cfg.DevMode),
	}, log)
	if err != nil {
		return err
	}
	log.Info("gateway ready", "addr", cfg.HTTPAddr, "order", cfg.OrderTarget, "payment", cfg.PaymentTarget,
		"notification", cfg.NotificationTarget, "course", cfg.CourseTarget, "dev_mode", cfg.DevMode)
	g := run.NewGroup(ctx)
	g.Go("http", func(ctx context.Context) error { return httpserver.Serve(ctx, cfg.HTTPAddr, handler, log) })
	g.Go("ops", func(ctx context.Context) error { return ops.Serve(ctx, cfg.OpsAddr, ops.NewRegistry(), log) })
	return g.Wait()
}
