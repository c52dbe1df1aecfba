package mysql

import (
	"context"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/services/payment/internal/app"
)

// A minimal app.AnomalyRecorder for reconciliation, on its own table until issue 13's
// service-wide anomalies (ListAnomalies, GET /v1/anomalies) take it over.

var _ app.AnomalyRecorder = (*Repository)(nil)

// RecordAnomaly implements app.AnomalyRecorder: the same anomaly twice is stored once.
func (r *Repository) RecordAnomaly(ctx context.Context, a app.Anomaly) error {
	return db.Conn(ctx, r.gdb).Exec("INSERT IGNORE INTO recon_anomalies (source, kind, channel, out_trade_no, out_refund_no, "+
		"ledger_fen, provider_fen, detail, created_at) VALUES (?,?,?,?,?,?,?,?,?)", a.Source, a.Kind, string(a.Channel),
		a.OutTradeNo, a.OutRefundNo, int64(a.LedgerFen), int64(a.ProviderFen), truncate(a.Detail, 1024), a.At.UTC()).Error
}
