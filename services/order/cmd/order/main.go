// Command order serves paysuite.order.v1.OrderService (catalog, orders, stock).
package main

import (
	"context"
	"log/slog"

	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/services/order/service"
)

func main() { run.Main(service.Name, start) }

func start(ctx context.Context, log *slog.Logger) error {
	env := config.New()
	cfg := service.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		return err
	}
	return service.Run(ctx, cfg, log)
}
