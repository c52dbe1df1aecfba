// Command order serves paysuite.order.v1.OrderService (catalog, orders, stock).
package main

import (
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/services/order/service"
)

func main() { run.Service(service.Name, service.ConfigFromEnv, service.Run) }
