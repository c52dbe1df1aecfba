package app

import (
	"context"
	"strconv"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// MaxAnomalyPage bounds one page of ListAnomalies.
const MaxAnomalyPage = 100

// ListAnomalies returns the cases for a person, newest first, to merchant staff only. pageToken
// is the last page's next token (empty for the first page); next is empty after the last page.
func (a *App) ListAnomalies(ctx context.Context, who principal.Caller, state payment.AnomalyState, kind payment.AnomalyKind,
	pageSize int, pageToken string) (list []payment.Anomaly, next string, err error) {
	if !who.IsMerchant() {
		return nil, "", payment.ErrMerchantOnly
	}
	switch state {
	case "", payment.AnomalyOpen, payment.AnomalyResolved:
	default:
		return nil, "", payment.ErrAnomalyFilter
	}
	f := AnomalyFilter{State: state, Kind: kind, Limit: pageSize}
	if f.Limit <= 0 || f.Limit > MaxAnomalyPage {
		f.Limit = MaxAnomalyPage
	}
	if pageToken != "" {
		if f.BeforeID, err = strconv.ParseInt(pageToken, 10, 64); err != nil || f.BeforeID <= 0 {
			return nil, "", payment.ErrPageToken
		}
	}
	list, err = a.anomal.ListAnomalies(ctx, f)
	if err != nil {
		return nil, "", err
	}
	if len(list) == f.Limit {
		next = strconv.FormatInt(list[len(list)-1].ID, 10)
	}
	return list, next, nil
}
