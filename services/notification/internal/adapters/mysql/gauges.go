package mysql

import "github.com/paysuite/paysuite/pkg/metrics"

// Gauges adds the notification service's table gauges to c: webhook deliveries by status
// (pending, delivered, failed; from the (status, next_attempt_at) index).
func Gauges(c *metrics.SQLCollector) {
	c.Add(metrics.WebhookDeliveries, "SELECT CASE status WHEN 1 THEN 'pending' WHEN 2 THEN 'delivered' "+
		"WHEN 3 THEN 'failed' ELSE 'other' END, COUNT(*) FROM webhook_deliveries GROUP BY status")
}
