package main

import (
	"context"
	"database/sql"
	"fmt"
)

// checkNoOversell: for every SKU, units sold plus stock left equals the initial stock, and no
// stock is negative.
func checkNoOversell(ctx context.Context, sqlDB *sql.DB, initial map[string]int64) error {
	rows, err := sqlDB.QueryContext(ctx, `SELECT s.sku_id, s.stock, COALESCE(SUM(i.quantity), 0)
		FROM skus s LEFT JOIN order_items i ON i.sku_id = s.sku_id GROUP BY s.sku_id, s.stock`)
	if err != nil {
		return err
	}
	defer rows.Close()
	bad, checked := 0, 0
	for rows.Next() {
		var id string
		var stock, sold int64
		if err := rows.Scan(&id, &stock, &sold); err != nil {
			return err
		}
		want, ok := initial[id]
		if !ok {
			continue // the seeded sample catalog
		}
		checked++
		if stock < 0 || stock+sold != want {
			bad++
			fmt.Printf("OVERSOLD %s: initial %d, sold %d, left %d\n", id, want, sold, stock)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d SKUs oversold", bad)
	}
	fmt.Printf("oversold check: 0 of %d SKUs oversold (sold + left = initial, no negative stock)\n", checked)
	return nil
}
