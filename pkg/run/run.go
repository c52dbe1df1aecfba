// Package run is the shared main of every paysuite process.
package run

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/logging"
	"github.com/paysuite/paysuite/pkg/ops"
	"github.com/paysuite/paysuite/pkg/tracing"
)

// Main runs fn with a context cancelled on SIGINT or SIGTERM and exits 1 if it fails.
// fn must return once ctx is done, after draining its work. Run as `<binary> healthcheck`, it
// instead asks the running process's ops port whether it is ready (exit 0) or not (exit 1): the
// container health check of an image without a shell.
func Main(service string, fn func(ctx context.Context, log *slog.Logger) error) {
	if len(os.Args) == 2 && os.Args[1] == "healthcheck" {
		if err := ops.Probe(ops.AddrFromEnv(service)); err != nil {
			fmt.Fprintln(os.Stderr, service, "not ready:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	log := logging.New(service)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("starting", "otlp_export", tracing.Exporting())
	shutdownTracing, err := tracing.Setup(ctx, service)
	if err != nil {
		log.Error("exiting", "err", err)
		os.Exit(1)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdownTracing(sctx) // flush the last spans
	}()
	if err := fn(ctx, log); err != nil {
		log.Error("exiting", "err", err)
		stop()
		os.Exit(1)
	}
	log.Info("stopped")
}

// Service is the main of a service: it reads the configuration with fromEnv (stopping with every
// bad value named) and runs the service with it, as Main.
func Service[C any](name string, fromEnv func(*config.Env) C, serve func(context.Context, C, *slog.Logger) error) {
	Main(name, configured(fromEnv, serve))
}

// CheckLogLevel records a LOG_LEVEL that is not debug, info, warn or error as a configuration
// error (Main has already built its logger at info for it, to report the error).
func CheckLogLevel(env *config.Env) {
	level := env.String("LOG_LEVEL", "info")
	_, ok := logging.ParseLevel(level)
	env.Check(ok, "LOG_LEVEL=%q: want debug, info, warn or error", level)
}

// configured is the part of Service that reads the configuration before serving.
func configured[C any](
	fromEnv func(*config.Env) C, serve func(context.Context, C, *slog.Logger) error,
) func(context.Context, *slog.Logger) error {
	return func(ctx context.Context, log *slog.Logger) error {
		env := config.New()
		CheckLogLevel(env)
		cfg := fromEnv(env)
		if err := env.Err(); err != nil {
			return err
		}
		return serve(ctx, cfg, log)
	}
}
