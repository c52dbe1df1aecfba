// Command gateway serves the JSON API, the OpenAPI document and the cashier page on
// GATEWAY_HTTP_ADDR (default :8080) in front of the gRPC services.
package main

import (
	"context"
	"log/slog"

	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/services/gateway/service"
)

func main() { run.Main("gateway", serve) }

func serve(ctx context.Context, log *slog.Logger) error {
	env := config.New()
	cfg := service.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		return err
	}
	return service.Run(ctx, cfg, log)
}
