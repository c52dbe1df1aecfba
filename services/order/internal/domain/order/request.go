package order

import (
	"slices"
	"strings"
)

// Limits of a create request.
const (
	MaxItems    = 50
	MaxQuantity = 99
	MaxIDLength = 64
)

// Line is what the client asks for: a sku and a quantity, no price.
type Line struct {
	SkuID    string
	Quantity int32
}

// Request is a validated create-order request.
type Request struct {
	UserID    string
	RequestID string
	Lines     []Line // sorted by SkuID, one line per sku
}

// NewRequest validates a create request. Repeated lines of the same sku are merged (their
// quantities added, the sum still 1..99), and lines are sorted by sku id: the same basket in
// any order or split is the same request, and stock rows are always locked in one order.
func NewRequest(userID, requestID string, lines []Line) (Request, error) {
	userID, requestID = strings.TrimSpace(userID), strings.TrimSpace(requestID)
	switch {
	case userID == "":
		return Request{}, ErrMissingUserID
	case requestID == "":
		return Request{}, ErrMissingRequestID
	case len(userID) > MaxIDLength || len(requestID) > MaxIDLength:
		return Request{}, ErrIDTooLong
	case len(lines) == 0 || len(lines) > MaxItems:
		return Request{}, ErrItemCount
	}
	merged := make(map[string]int32, len(lines))
	for _, l := range lines {
		id := strings.TrimSpace(l.SkuID)
		switch {
		case id == "":
			return Request{}, ErrMissingSkuID
		case len(id) > MaxIDLength:
			return Request{}, ErrIDTooLong
		case l.Quantity < 1 || l.Quantity > MaxQuantity:
			return Request{}, ErrInvalidQuantity
		}
		merged[id] += l.Quantity
		if merged[id] > MaxQuantity {
			return Request{}, ErrInvalidQuantity
		}
	}
	req := Request{UserID: userID, RequestID: requestID, Lines: make([]Line, 0, len(merged))}
	for id, q := range merged {
		req.Lines = append(req.Lines, Line{SkuID: id, Quantity: q})
	}
	slices.SortFunc(req.Lines, func(a, b Line) int { return strings.Compare(a.SkuID, b.SkuID) })
	return req, nil
}

// SkuIDs returns the distinct sku ids of the request, sorted.
func (r Request) SkuIDs() []string {
	ids := make([]string, len(r.Lines))
	for i, l := range r.Lines {
		ids[i] = l.SkuID
	}
	return ids
}
