package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// In-memory ports for the use-case tests: what the MariaDB adapter promises, kept in maps.

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

const payTimeout = 30 * time.Minute

// errStorage stands for a database that did not answer.
var errStorage = errors.New("storage unavailable")

// memOrders implements OrderRepository. Orders are copied in and out, as a database would.
type memOrders struct {
	mu     sync.Mutex
	orders map[int64]order.Order
	stock  map[string]int64
	events []Event

	createErrs   []error // answered by the next Create calls instead of creating (races)
	beforeUpdate func()  // runs as Update starts: a concurrent writer that committed first
}

// Add implements Outbox: the events a use case sent outside Create (payment refusals).
func (m *memOrders) Add(_ context.Context, evs ...Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, evs...)
	return nil
}

func newOrders(stock map[string]int64, existing ...*order.Order) *memOrders {
	m := &memOrders{orders: map[int64]order.Order{}, stock: stock}
	for _, o := range existing {
		m.orders[o.ID] = clone(o)
	}
	return m
}

func clone(o *order.Order) order.Order {
	c := *o
	c.Items = slices.Clone(o.Items)
	return c
}

func (m *memOrders) Create(_ context.Context, o *order.Order, events []Event, maxPending int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.createErrs) > 0 {
		err := m.createErrs[0]
		m.createErrs = m.createErrs[1:]
		return err
	}
	pending := 0
	for _, other := range m.orders {
		if other.UserID == o.UserID && other.Status == order.StatusPendingPayment {
			pending++
		}
	}
	if maxPending > 0 && pending >= maxPending {
		return order.ErrTooManyPending
	}
	for _, other := range m.orders {
		if other.UserID == o.UserID && other.RequestID == o.RequestID {
			return ErrDuplicateRequest
		}
	}
	for _, course := range o.Courses() {
		for _, other := range m.orders {
			if other.UserID == o.UserID && other.Status.HoldsCourse() && slices.Contains(other.Courses(), course) {
				return &CourseHeldError{SkuID: course, OrderID: other.ID}
			}
		}
	}
	for _, it := range o.Items {
		if m.stock[it.SkuID] < int64(it.Quantity) {
			return catalog.OutOfStock(it.SkuID)
		}
	}
	for _, it := range o.Items {
		m.stock[it.SkuID] -= int64(it.Quantity)
	}
	m.orders[o.ID] = clone(o)
	m.events = append(m.events, events...)
	return nil
}

func (m *memOrders) Get(_ context.Context, id int64) (*order.Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok {
		return nil, fmt.Errorf("order %d: %w", id, order.ErrNotFound)
	}
	c := clone(&o)
	return &c, nil
}

func (m *memOrders) GetByRequest(_ context.Context, userID, requestID string) (*order.Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.orders {
		if o.UserID == userID && o.RequestID == requestID {
			c := clone(&o)
			return &c, nil
		}
	}
	return nil, order.ErrNotFound
}

func (m *memOrders) ListByUser(context.Context, string, *Cursor, int) ([]*order.Order, error) {
	return nil, nil
}

func (m *memOrders) Update(_ context.Context, id int64, fn func(*order.Order) error) (*order.Order, error) {
	if m.beforeUpdate != nil {
		m.beforeUpdate()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	stored, ok := m.orders[id]
	if !ok {
		return nil, fmt.Errorf("order %d: %w", id, order.ErrNotFound)
	}
	o := clone(&stored)
	if err := fn(&o); err != nil {
		return nil, err
	}
	if stored.Status.HoldsStock() && !o.Status.HoldsStock() {
		for _, it := range o.Items {
			m.stock[it.SkuID] += int64(it.Quantity)
		}
	}
	m.orders[id] = clone(&o)
	return &o, nil
}

// set replaces a stored order's state, as another writer would.
func (m *memOrders) set(id int64, change func(*order.Order)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.orders[id]
	change(&o)
	m.orders[id] = o
}

func (m *memOrders) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.orders)
}

// fakeCatalog is the catalog of the tests.
type fakeCatalog struct {
	skus map[string]catalog.Sku
	err  error
}

func (c fakeCatalog) ListSkus(context.Context) ([]catalog.Sku, error) { return nil, c.err }

func (c fakeCatalog) GetSkus(_ context.Context, ids []string) (map[string]catalog.Sku, error) {
	if c.err != nil {
		return nil, c.err
	}
	out := map[string]catalog.Sku{}
	for _, id := range ids {
		if s, ok := c.skus[id]; ok {
			out[id] = s
		}
	}
	return out, nil
}

var testCatalog = fakeCatalog{skus: map[string]catalog.Sku{
	"mug": {ID: "mug", Title: "Mug", Kind: catalog.KindGoods, Price: 4500},
	"pen": {ID: "pen", Title: "Pen", Kind: catalog.KindGoods, Price: 300},
	"go":  {ID: "go", Title: "Go", Kind: catalog.KindCourse, Price: 19900},
}}

// fakeCloser is the payment service closing an order's trades.
type fakeCloser struct {
	paid  *PaidPayment
	err   error
	calls int
}

func (c *fakeCloser) ClosePayments(context.Context, int64) (*PaidPayment, error) {
	c.calls++
	return c.paid, c.err
}

// newTestApp wires the use cases on fakes, with the clock at t0 and ids counting from 100.
// closer may be nil (an order-only deployment).
func newTestApp(orders *memOrders, cat Catalog, closer PaymentCloser) *App {
	next := int64(100)
	a := New(orders, cat, closer, orders, func() int64 { next++; return next }, Config{PayTimeout: payTimeout, MaxPendingPerUser: 2},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	return a.WithClock(func() time.Time { return t0 })
}

// placed is order id of user with lines, priced from testCatalog, in status st.
func placed(id int64, user, request string, st order.Status, lines ...order.Line) *order.Order {
	req, err := order.NewRequest(user, request, lines)
	if err != nil {
		panic(err)
	}
	skus, _ := testCatalog.GetSkus(context.Background(), req.SkuIDs())
	o, err := order.New(id, req, skus, t0.Add(-time.Minute), payTimeout)
	if err != nil {
		panic(err)
	}
	o.Status = st
	if st == order.StatusPaid {
		o.PaymentID, o.PaidAt = 900+id, t0.Add(-time.Second)
	}
	return o
}

func line(sku string, n int32) order.Line { return order.Line{SkuID: sku, Quantity: n} }
