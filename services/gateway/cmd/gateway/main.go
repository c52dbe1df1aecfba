// Command gateway serves the JSON API, the OpenAPI document and the cashier page on
// GATEWAY_HTTP_ADDR (default :8080) in front of the gRPC services.
package main

import (
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/services/gateway/service"
)

func main() { run.Service("gateway", service.ConfigFromEnv, service.Run) }
