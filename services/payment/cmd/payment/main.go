// Command payment runs the payment service: gRPC PaymentService, the provider notify endpoints,
// durable tasks (order marking, polling, refunds) and the payment-result outbox relay.
package main

import (
	"context"
	"log/slog"

	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/services/payment/service"
)

func main() { run.Main(service.Name, runPayment) }

func runPayment(ctx context.Context, log *slog.Logger) error {
	env := config.New()
	cfg := service.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		return err
	}
	return service.Run(ctx, cfg, log)
}
