// Package catalog holds what can be bought: SKUs with their kind, catalog price and stock.
package catalog

import (
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/pkg/money"
)

// Kind says how a SKU is fulfilled: a COURSE is an enrolment (one per user), GOODS are shipped.
type Kind string

const (
	KindCourse Kind = "COURSE"
	KindGoods  Kind = "GOODS"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindCourse || k == KindGoods }

// Sku is one sellable item. Price is the only price an order may use.
type Sku struct {
	ID    string
	Title string
	Kind  Kind
	Price money.Fen
	Stock int64
}

var (
	// ErrSkuNotFound is returned for a sku id the catalog does not know.
	ErrSkuNotFound = errors.New("sku not found")
	// ErrOutOfStock is returned when the remaining stock cannot cover a quantity.
	ErrOutOfStock = errors.New("out of stock")
)

// NotFound wraps ErrSkuNotFound with the sku id, for a message the client can act on.
func NotFound(skuID string) error { return fmt.Errorf("sku %q: %w", skuID, ErrSkuNotFound) }

// OutOfStock wraps ErrOutOfStock with the sku id.
func OutOfStock(skuID string) error { return fmt.Errorf("sku %q: %w", skuID, ErrOutOfStock) }
