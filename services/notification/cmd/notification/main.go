// Command notification tells users and merchants what happened to their payments
// (gRPC on NOTIFICATION_GRPC_ADDR, default :9003).
package main

import (
	"context"
	"log/slog"

	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/services/notification/service"
)

func main() {
	run.Main(service.Name, func(ctx context.Context, log *slog.Logger) error {
		env := config.New()
		cfg := service.ConfigFromEnv(env)
		if err := env.Err(); err != nil {
			return err
		}
		return service.Run(ctx, cfg, log)
	})
}
