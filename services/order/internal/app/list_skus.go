package app

import (
	"context"

	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
)

// ListSkus returns the catalog.
func (a *App) ListSkus(ctx context.Context) ([]catalog.Sku, error) {
	return a.catalog.ListSkus(ctx)
}
