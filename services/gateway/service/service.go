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
	"github.com/paysuite/paysuite/pkg/metrics"
	"github.com/paysuite/paysuite/pkg/ops"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/pkg/tlsx"
	"github.com/paysuite/paysuite/pkg/tracing"
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
	MaxBodyBytes       int64
	Auth               AuthConfig
	// DevMode mounts the dev issuer (POST /dev/token, GET /dev/jwks.json), trusts its tokens,
	// and shows the sandbox pay button with its proxy. Off by default: nobody may mint tokens
	// or pay on a buyer's behalf in production.
	DevMode      bool
	DevKeyFile   string    // GATEWAY_DEV_KEY_FILE: the dev issuer's key, kept across restarts; empty: a new key per start
	AddressLimit RateLimit // GATEWAY_RATE_PER_ADDRESS, GATEWAY_BURST_PER_ADDRESS
	UserLimit    RateLimit // GATEWAY_RATE_PER_USER, GATEWAY_BURST_PER_USER
	RateMaxKeys  int       // GATEWAY_RATE_MAX_KEYS
}

// RateLimit is requests per second on average and the burst allowed at once; 0 turns it off.
type RateLimit = httpapi.RateLimit

// DevIssuerName is the "iss" of dev-mode tokens.
const DevIssuerName = "paysuite-dev"

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
		MaxBodyBytes:       env.Int64("GATEWAY_MAX_BODY_BYTES", 1<<20),
		Auth: AuthConfig{
			JWKSURL:  env.String("AUTH_JWKS_URL", ""),
			JWKSFile: env.String("AUTH_JWKS_FILE", ""),
			Issuer:   env.String("AUTH_ISSUER", ""),
			Audience: env.String("AUTH_AUDIENCE", "paysuite"),
		},
		DevMode:    env.Bool("GATEWAY_DEV_MODE", false),
		DevKeyFile: env.String("GATEWAY_DEV_KEY_FILE", ""),
		// Generous defaults: they stop a runaway client, not `make load` (which sends every
		// purchase from 127.0.0.1, as many users).
		AddressLimit: RateLimit{PerSecond: env.Float("GATEWAY_RATE_PER_ADDRESS", 1000), Burst: env.Int("GATEWAY_BURST_PER_ADDRESS", 2000)},
		UserLimit:    RateLimit{PerSecond: env.Float("GATEWAY_RATE_PER_USER", 50), Burst: env.Int("GATEWAY_BURST_PER_USER", 100)},
		RateMaxKeys:  env.Int("GATEWAY_RATE_MAX_KEYS", 100_000),
	}
	env.Check(cfg.MaxBodyBytes > 0, "GATEWAY_MAX_BODY_BYTES must be > 0")
	env.Check(cfg.AddressLimit.PerSecond >= 0 && cfg.UserLimit.PerSecond >= 0, "GATEWAY_RATE_PER_ADDRESS and GATEWAY_RATE_PER_USER must be >= 0 (0: no limit)")
	env.Check(cfg.RateMaxKeys > 0, "GATEWAY_RATE_MAX_KEYS must be > 0")
	env.Check(cfg.Auth.JWKSURL == "" || cfg.Auth.JWKSFile == "", "set AUTH_JWKS_URL or AUTH_JWKS_FILE, not both")
	env.Check(cfg.Auth.JWKSURL == "" && cfg.Auth.JWKSFile == "" || cfg.Auth.Issuer != "",
		"AUTH_ISSUER is required with AUTH_JWKS_URL or AUTH_JWKS_FILE: the \"iss\" of the identity provider's tokens")
	env.Check(cfg.Auth.JWKSURL != "" || cfg.Auth.JWKSFile != "" || cfg.DevMode,
		"no token keys: set AUTH_JWKS_URL or AUTH_JWKS_FILE (with AUTH_ISSUER) for your identity provider, or GATEWAY_DEV_MODE=true for the dev issuer")
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
	if cfg.RateMaxKeys <= 0 {
		cfg.RateMaxKeys = 100_000
	}
	tokens, devIssuer, err := verifier(ctx, cfg, log)
	if err != nil {
		return err
	}
	src, err := tlsx.Load(cfg.TLS, log)
	if err != nil {
		return err
	}
	reg := ops.NewRegistry()
	clientRED := metrics.NewGRPCClient(reg)
	var conns []*grpc.ClientConn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	dial := func(name, target string) (*grpc.ClientConn, error) {
		c, err := grpcserver.Dial(target, src, name, grpc.WithChainUnaryInterceptor(clientRED.UnaryClient()))
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
		Verifier:     tokens,
		DevIssuer:    devIssuer,
		SandboxURL:   cfg.SandboxURL,
		AddressLimit: cfg.AddressLimit,
		UserLimit:    cfg.UserLimit,
		RateMaxKeys:  cfg.RateMaxKeys,
		OpenAPI:      openapi.JSON,
		Page:         web.Handler(cfg.DevMode),
	}, log)
	if err != nil {
		return err
	}
	log.Info("gateway ready", "addr", cfg.HTTPAddr, "order", cfg.OrderTarget, "payment", cfg.PaymentTarget,
		"notification", cfg.NotificationTarget, "course", cfg.CourseTarget, "dev_mode", cfg.DevMode,
		"token_issuer", cfg.Auth.Issuer, "rate_per_address", cfg.AddressLimit.PerSecond, "rate_per_user", cfg.UserLimit.PerSecond)
	g := run.NewGroup(ctx)
	// Every request is counted (route: the path with its ids as {id}) and is the root span of
	// its trace, which the gRPC calls behind it continue.
	served := metrics.NewHTTP(reg).Handler("gateway", tracing.Handler(handler, "gateway"), metrics.PathRoute)
	g.Go("http", func(ctx context.Context) error { return httpserver.Serve(ctx, cfg.HTTPAddr, served, log) })
	g.Go("ops", func(ctx context.Context) error { return ops.Serve(ctx, cfg.OpsAddr, reg, log) })
	return g.Wait()
}
