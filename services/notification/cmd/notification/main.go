// Command notification tells users and merchants what happened to their payments
// (gRPC on NOTIFICATION_GRPC_ADDR, default :9003).
package main

import (
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/services/notification/service"
)

func main() { run.Service(service.Name, service.ConfigFromEnv, service.Run) }
