package mysql

import "github.com/paysuite/paysuite/pkg/metrics"

// Gauges adds the order service's table gauges to c (orders by status, from the status index).
func Gauges(c *metrics.SQLCollector) {
	c.Add(metrics.Orders, "SELECT status, COUNT(*) FROM orders GROUP BY status")
}
