// Command payment runs the payment service: gRPC PaymentService, the provider notify endpoints,
// durable tasks (order marking, polling, refunds) and the payment-result outbox relay.
package main

import (
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/services/payment/service"
)

func main() { run.Service(service.Name, service.ConfigFromEnv, service.Run) }
