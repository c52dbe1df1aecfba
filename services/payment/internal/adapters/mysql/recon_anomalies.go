package mysql

import (
	"context"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

var _ app.AnomalyRecorder = (*Repository)(nil)

// RecordAnomaly implements app.AnomalyRecorder on the service's anomalies (raiseAnomaly).
func (r *Repository) RecordAnomaly(ctx context.Context, a payment.Anomaly) error {
	return raiseAnomaly(db.Conn(ctx, r.gdb), a)
}
