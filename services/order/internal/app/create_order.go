package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// CreateOrder prices the request from the catalog and stores it with its stock taken; it emits
// the order's pay deadline (EventPayDeadline).
// The same (user, request id) again answers the order it created; with other items it is
// ErrRequestIDReused. A course the user already paid is ErrCourseOwned; a course in one of the
// user's unpaid orders answers that order when the items are the same (the client lost the
// answer and asks again), else ErrCourseInPendingOrder.
//
// A user orders only for themselves (an empty userID means the caller; another is ErrNotYours),
// and holds at most MaxPendingPerUser unpaid orders (ErrTooManyPending), counted in the
// creating transaction so a burst of creates cannot pass it.
func (a *App) CreateOrder(ctx context.Context, who principal.Caller, userID, requestID string, lines []order.Line) (*order.Order, error) {
	if userID == "" {
		userID = who.UserID()
	}
	if !who.MayActFor(userID) {
		return nil, fmt.Errorf("order for user %q: %w", userID, order.ErrNotYours)
	}
	req, err := order.NewRequest(userID, requestID, lines)
	if err != nil {
		return nil, err
	}
	skus, err := a.catalog.GetSkus(ctx, req.SkuIDs())
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	// A course seat can be released by a concurrent cancel between our attempt and our look at
	// its holder; one more attempt then settles it.
	for attempt := 0; ; attempt++ {
		o, err := order.New(a.nextID(), req, skus, a.now(), a.cfg.PayTimeout)
		if err != nil {
			return nil, err
		}
		err = a.orders.Create(ctx, o, []Event{{Type: EventPayDeadline, OrderID: o.ID, PayDeadline: o.PayDeadline}}, a.cfg.MaxPendingPerUser)
		if err == nil {
			return o, nil
		}
		var held *CourseHeldError
		switch {
		case errors.Is(err, ErrDuplicateRequest):
			return a.replay(ctx, req)
		case errors.As(err, &held):
			existing, retry, err := a.courseHolder(ctx, req, held)
			if retry && attempt < 2 {
				continue
			}
			return existing, err
		default:
			return nil, err
		}
	}
}

// replay answers a repeated request id with the order it created.
func (a *App) replay(ctx context.Context, req order.Request) (*order.Order, error) {
	existing, err := a.orders.GetByRequest(ctx, req.UserID, req.RequestID)
	if err != nil {
		return nil, fmt.Errorf("load order of request %q: %w", req.RequestID, err)
	}
	if !existing.SameItems(req) {
		return nil, fmt.Errorf("order %d: %w", existing.ID, order.ErrRequestIDReused)
	}
	return existing, nil
}

// courseHolder decides what a new request gets when one of its courses is in a live order.
func (a *App) courseHolder(ctx context.Context, req order.Request, held *CourseHeldError) (o *order.Order, retry bool, err error) {
	holder, err := a.orders.Get(ctx, held.OrderID)
	if errors.Is(err, order.ErrNotFound) {
		return nil, true, err
	}
	if err != nil {
		return nil, false, err
	}
	switch holder.Status {
	case order.StatusPendingPayment:
		if holder.SameItems(req) {
			return holder, false, nil
		}
		return nil, false, fmt.Errorf("course %q in order %d: %w", held.SkuID, holder.ID, order.ErrCourseInPendingOrder)
	case order.StatusPaid, order.StatusRefunding:
		return nil, false, fmt.Errorf("course %q in order %d: %w", held.SkuID, holder.ID, order.ErrCourseOwned)
	default: // cancelled or refunded meanwhile: the seat is free now
		return nil, true, fmt.Errorf("course %q: seat of order %d still held", held.SkuID, holder.ID)
	}
}
