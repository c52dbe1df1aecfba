package payment

import (
	"fmt"
	"sort"
	"time"

	"github.com/paysuite/paysuite/pkg/inputerr"
	"github.com/paysuite/paysuite/pkg/money"
)

// RefundLine is part of an order line given back by a refund.
type RefundLine struct {
	SkuID    string `json:"skuId"`
	Quantity int32  `json:"quantity"`
}

// Malformed refund lines (InvalidArgument).
var (
	ErrRefundLine        = inputerr.New("each refund item needs a sku_id of the order and a quantity of at least 1, once")
	ErrRefundLinesAmount = inputerr.New("amount_fen must be empty or the price of the items when items are given")
)

// ErrLineRefunded: the line's bought quantity is already refunded (or in flight).
var ErrLineRefunded = fmt.Errorf("refund of this order line exceeds what was bought and not yet refunded: %w", ErrRefundExceeds)

// LinesAmount prices lines at the payment's unit prices, checking each names a line of the
// payment once with a positive quantity. The lines come back sorted by sku.
func (p *Payment) LinesAmount(lines []RefundLine) ([]RefundLine, money.Fen, error) {
	out := append([]RefundLine(nil), lines...)
	sort.Slice(out, func(i, j int) bool { return out[i].SkuID < out[j].SkuID })
	var sum money.Fen
	for i, l := range out {
		it, ok := p.item(l.SkuID)
		if !ok || l.Quantity < 1 || l.Quantity > it.Quantity || (i > 0 && out[i-1].SkuID == l.SkuID) {
			return nil, 0, fmt.Errorf("item %q x%d: %w", l.SkuID, l.Quantity, ErrRefundLine)
		}
		sum += it.UnitPriceFen * money.Fen(l.Quantity)
	}
	return out, sum, nil
}

func (p *Payment) item(sku string) (Item, bool) {
	for _, it := range p.Items {
		if it.SkuID == sku {
			return it, true
		}
	}
	return Item{}, false
}

// ReserveRefundLines holds lines for a new refund beside its amount (ReserveRefund): cumulative
// refunds per line, settled and in flight, never exceed what was bought. Call it under the row lock.
func (p *Payment) ReserveRefundLines(lines []RefundLine, now time.Time) error {
	for _, l := range lines {
		it, ok := p.item(l.SkuID)
		if !ok {
			return fmt.Errorf("item %q: %w", l.SkuID, ErrRefundLine)
		}
		if p.RefundLines[l.SkuID]+l.Quantity > it.Quantity {
			return fmt.Errorf("payment %d line %s: bought %d, refunded or in flight %d, asked %d: %w",
				p.ID, l.SkuID, it.Quantity, p.RefundLines[l.SkuID], l.Quantity, ErrLineRefunded)
		}
	}
	if len(lines) > 0 && p.RefundLines == nil {
		p.RefundLines = map[string]int32{}
	}
	for _, l := range lines {
		p.RefundLines[l.SkuID] += l.Quantity
	}
	p.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	return nil
}

// ReleaseRefundLines gives back the lines of a refund that failed.
func (p *Payment) ReleaseRefundLines(lines []RefundLine) {
	for _, l := range lines {
		if p.RefundLines[l.SkuID] -= l.Quantity; p.RefundLines[l.SkuID] <= 0 {
			delete(p.RefundLines, l.SkuID)
		}
	}
}
