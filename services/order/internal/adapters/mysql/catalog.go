// Package mysql stores the order service's catalog and orders in MariaDB/MySQL through gorm,
// with hand-written SQL where the statement shape matters (stock, locking).
package mysql

import (
	"context"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/order/internal/app"
	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
)

var _ app.Catalog = (*CatalogRepository)(nil)

// CatalogRepository reads the skus table.
type CatalogRepository struct{ gdb *gorm.DB }

// NewCatalogRepository returns a catalog on gdb.
func NewCatalogRepository(gdb *gorm.DB) *CatalogRepository { return &CatalogRepository{gdb: gdb} }

type skuRow struct {
	SkuID    string
	Title    string
	Kind     string
	PriceFen int64
	Stock    int64
}

func (r skuRow) sku() catalog.Sku {
	return catalog.Sku{ID: r.SkuID, Title: r.Title, Kind: catalog.Kind(r.Kind), Price: money.Fen(r.PriceFen), Stock: r.Stock}
}

// ListSkus returns every sku, by id.
func (c *CatalogRepository) ListSkus(ctx context.Context) ([]catalog.Sku, error) {
	var rows []skuRow
	if err := db.Conn(ctx, c.gdb).Raw("SELECT sku_id, title, kind, price_fen, stock FROM skus ORDER BY sku_id").Scan(&rows).Error; err != nil {
		return nil, err
	}
	skus := make([]catalog.Sku, len(rows))
	for i, r := range rows {
		skus[i] = r.sku()
	}
	return skus, nil
}

// GetSkus returns the skus among ids that exist, in one query.
func (c *CatalogRepository) GetSkus(ctx context.Context, ids []string) (map[string]catalog.Sku, error) {
	conn, err := sqlConn(ctx, c.gdb)
	if err != nil {
		return nil, err
	}
	q, args := inList("SELECT sku_id, title, kind, price_fen, stock FROM skus WHERE sku_id IN ", ids)
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	skus := make(map[string]catalog.Sku, len(ids))
	for rows.Next() {
		var r skuRow
		if err := rows.Scan(&r.SkuID, &r.Title, &r.Kind, &r.PriceFen, &r.Stock); err != nil {
			return nil, err
		}
		skus[r.SkuID] = r.sku()
	}
	return skus, rows.Err()
}

// UpsertSku creates or replaces a sku (seeding tests, the benchmark and admin tools).
func (c *CatalogRepository) UpsertSku(ctx context.Context, s catalog.Sku) error {
	return db.Conn(ctx, c.gdb).Exec(`INSERT INTO skus (sku_id, title, kind, price_fen, stock) VALUES (?, ?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE title = VALUES(title), kind = VALUES(kind), price_fen = VALUES(price_fen), stock = VALUES(stock)`,
		s.ID, s.Title, string(s.Kind), int64(s.Price), s.Stock).Error
}
