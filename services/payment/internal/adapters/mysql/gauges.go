package mysql

import "github.com/paysuite/paysuite/pkg/metrics"

// Gauges adds the payment service's table gauges (pkg/metrics names them) to c; a scrape runs
// them at most every few seconds (metrics.SQLCollector).
func Gauges(c *metrics.SQLCollector) {
	c.Add(metrics.Payments, "SELECT channel, status, COUNT(*) FROM payments GROUP BY channel, status")
	c.Add(metrics.PaymentsWaitingExpired,
		"SELECT COUNT(*) FROM payments WHERE status = 'WAITING' AND expire_at < UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE")
	c.Add(metrics.PollTasks, "SELECT kind, 'due', COUNT(*) FROM tasks WHERE next_run_at <= UTC_TIMESTAMP(6) GROUP BY kind "+
		"UNION ALL SELECT kind, 'overdue', COUNT(*) FROM tasks WHERE next_run_at <= UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE GROUP BY kind")
	c.Add(metrics.Refunds, "SELECT status, COUNT(*) FROM refunds GROUP BY status")
	c.Add(metrics.RefundsStuck,
		"SELECT COUNT(*) FROM refunds WHERE status = 'PROCESSING' AND created_at < UTC_TIMESTAMP(6) - INTERVAL 1 HOUR")
	c.Add(metrics.AnomaliesOpen, "SELECT kind, COUNT(*) FROM anomalies WHERE state = 'OPEN' GROUP BY kind")
}
