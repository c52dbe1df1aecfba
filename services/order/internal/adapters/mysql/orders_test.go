package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/order/internal/adapters/events"
	"github.com/paysuite/paysuite/services/order/internal/adapters/mysql"
	"github.com/paysuite/paysuite/services/order/internal/adapters/mysql/migrations"
	"github.com/paysuite/paysuite/services/order/internal/app"
	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// The contract every app.OrderRepository must keep, checked against MariaDB.

type fixture struct {
	gdb     *gorm.DB
	orders  *mysql.OrderRepository
	catalog *mysql.CatalogRepository
	nextID  atomic.Int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	gdb, err := db.Open(context.Background(), testkit.MySQLDSN(t), "order", migrations.FS, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := gdb.DB(); err == nil {
			s.Close()
		}
	})
	f := &fixture{gdb: gdb, orders: mysql.NewOrderRepository(gdb, nil), catalog: mysql.NewCatalogRepository(gdb)}
	f.nextID.Store(1000)
	for _, s := range []catalog.Sku{
		{ID: "mug", Title: "Mug", Kind: catalog.KindGoods, Price: 4500, Stock: 10},
		{ID: "pen", Title: "Pen", Kind: catalog.KindGoods, Price: 300, Stock: 1},
		{ID: "go", Title: "Go", Kind: catalog.KindCourse, Price: 19900, Stock: 100},
		{ID: "sql", Title: "SQL", Kind: catalog.KindCourse, Price: 9900, Stock: 100},
		{ID: "go-stock", Title: "Gopher stickers", Kind: catalog.KindGoods, Price: 100, Stock: 1000},
	} {
		if err := f.catalog.UpsertSku(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// newOrder builds an order the way CreateOrder does.
func (f *fixture) newOrder(t *testing.T, user, request string, lines ...order.Line) *order.Order {
	t.Helper()
	req, err := order.NewRequest(user, request, lines)
	if err != nil {
		t.Fatal(err)
	}
	skus, err := f.catalog.GetSkus(context.Background(), req.SkuIDs())
	if err != nil {
		t.Fatal(err)
	}
	o, err := order.New(f.nextID.Add(1), req, skus, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (f *fixture) stock(t *testing.T, sku string) int64 {
	t.Helper()
	skus, err := f.catalog.GetSkus(context.Background(), []string{sku})
	if err != nil {
		t.Fatal(err)
	}
	return skus[sku].Stock
}

func TestCatalogSeedAndLookup(t *testing.T) {
	f := newFixture(t)
	all, err := f.catalog.ListSkus(context.Background())
	if err != nil || len(all) != 6+5 {
		t.Fatalf("ListSkus = %d skus, %v; want the 6 seeded + 5", len(all), err)
	}
	got, err := f.catalog.GetSkus(context.Background(), []string{"mug", "nope"})
	if err != nil || len(got) != 1 || got["mug"].Price != 4500 || got["mug"].Kind != catalog.KindGoods {
		t.Fatalf("GetSkus = %v, %v", got, err)
	}
}

func TestCreateStoresWhatGetReturns(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	o := f.newOrder(t, "u1", "r1", order.Line{SkuID: "mug", Quantity: 2}, order.Line{SkuID: "go", Quantity: 1})
	if err := f.orders.Create(ctx, o, nil, 0); err != nil {
		t.Fatal(err)
	}
	for _, get := range []func() (*order.Order, error){
		func() (*order.Order, error) { return f.orders.Get(ctx, o.ID) },
		func() (*order.Order, error) { return f.orders.GetByRequest(ctx, "u1", "r1") },
	} {
		got, err := get()
		if err != nil || !reflect.DeepEqual(got, o) {
			t.Fatalf("read back\n%+v, %v\nwant\n%+v", got, err, o)
		}
	}
	if f.stock(t, "mug") != 8 || f.stock(t, "go") != 99 {
		t.Fatal("stock not taken")
	}
	if _, err := f.orders.Get(ctx, 1); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("Get(unknown) = %v, want ErrNotFound", err)
	}
}

func TestCreateRefusalsWriteNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := f.newOrder(t, "u1", "r1", order.Line{SkuID: "go", Quantity: 1})
	if err := f.orders.Create(ctx, first, nil, 0); err != nil {
		t.Fatal(err)
	}

	dup := f.newOrder(t, "u1", "r1", order.Line{SkuID: "mug", Quantity: 1})
	if err := f.orders.Create(ctx, dup, nil, 0); !errors.Is(err, app.ErrDuplicateRequest) {
		t.Fatalf("same request id: %v, want ErrDuplicateRequest", err)
	}
	short := f.newOrder(t, "u1", "r2", order.Line{SkuID: "mug", Quantity: 1}, order.Line{SkuID: "pen", Quantity: 2})
	if err := f.orders.Create(ctx, short, nil, 0); !errors.Is(err, catalog.ErrOutOfStock) {
		t.Fatalf("2 pens of 1: %v, want ErrOutOfStock", err)
	}
	held := f.newOrder(t, "u1", "r3", order.Line{SkuID: "mug", Quantity: 1}, order.Line{SkuID: "go", Quantity: 1})
	var he *app.CourseHeldError
	if err := f.orders.Create(ctx, held, nil, 0); !errors.As(err, &he) || he.OrderID != first.ID || he.SkuID != "go" {
		t.Fatalf("course in a live order: %v, want CourseHeldError by %d", err, first.ID)
	}
	if f.stock(t, "mug") != 10 || f.stock(t, "pen") != 1 || f.stock(t, "go") != 99 {
		t.Fatalf("refused creates moved stock: mug %d pen %d go %d", f.stock(t, "mug"), f.stock(t, "pen"), f.stock(t, "go"))
	}
	for _, id := range []int64{dup.ID, short.ID, held.ID} {
		if _, err := f.orders.Get(ctx, id); !errors.Is(err, order.ErrNotFound) {
			t.Fatalf("refused order %d was stored: %v", id, err)
		}
	}
}

type failingOutbox struct{}

func (failingOutbox) Add(context.Context, ...app.Event) error {
	return errors.New("outbox unavailable")
}

func TestCreateWritesItsEventsInItsTransaction(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := amqpx.MigrateOutbox(ctx, f.gdb, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	orders := mysql.NewOrderRepository(f.gdb, events.NewOutbox(f.gdb, "delay-queue"))
	deadline := func(o *order.Order) []app.Event {
		return []app.Event{{Type: app.EventPayDeadline, OrderID: o.ID, PayDeadline: o.PayDeadline}}
	}
	messages := func(o *order.Order) int {
		var n int64
		if err := f.gdb.Raw("SELECT COUNT(*) FROM outbox_messages WHERE message_id = ? AND routing_key = 'delay-queue'",
			fmt.Sprint("order-pay-deadline-", o.ID)).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return int(n)
	}

	created := f.newOrder(t, "u1", "r1", order.Line{SkuID: "mug", Quantity: 1})
	if err := orders.Create(ctx, created, deadline(created), 0); err != nil || messages(created) != 1 {
		t.Fatalf("create: %v, %d deadline messages; want one", err, messages(created))
	}
	short := f.newOrder(t, "u1", "r2", order.Line{SkuID: "pen", Quantity: 2})
	if err := orders.Create(ctx, short, deadline(short), 0); !errors.Is(err, catalog.ErrOutOfStock) || messages(short) != 0 {
		t.Fatalf("refused create: %v, %d deadline messages; want ErrOutOfStock and none", err, messages(short))
	}
	lost := f.newOrder(t, "u1", "r3", order.Line{SkuID: "mug", Quantity: 1})
	if err := mysql.NewOrderRepository(f.gdb, failingOutbox{}).Create(ctx, lost, deadline(lost), 0); err == nil {
		t.Fatal("a create whose event could not be written succeeded")
	}
	if _, err := f.orders.Get(ctx, lost.ID); !errors.Is(err, order.ErrNotFound) || f.stock(t, "mug") != 9 {
		t.Fatalf("an order whose event was not written was kept (%v) or took stock (mug %d)", err, f.stock(t, "mug"))
	}
}

func TestUpdateCancelReleasesStockAndSeatsOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	o := f.newOrder(t, "u1", "r1", order.Line{SkuID: "mug", Quantity: 3}, order.Line{SkuID: "go", Quantity: 1})
	if err := f.orders.Create(ctx, o, nil, 0); err != nil {
		t.Fatal(err)
	}
	cancel := func(o *order.Order) error { return o.Cancel(order.ReasonTimeout, time.Now()) }
	got, err := f.orders.Update(ctx, o.ID, cancel)
	if err != nil || got.Status != order.StatusCancelled || got.CancelReason != order.ReasonTimeout {
		t.Fatalf("cancel = %+v, %v", got, err)
	}
	if _, err := f.orders.Update(ctx, o.ID, cancel); !errors.Is(err, order.ErrNotCancellable) {
		t.Fatalf("second cancel = %v, want ErrNotCancellable", err)
	}
	if f.stock(t, "mug") != 10 || f.stock(t, "go") != 100 {
		t.Fatalf("stock after cancels: mug %d go %d, want 10 and 100", f.stock(t, "mug"), f.stock(t, "go"))
	}
	stored, _ := f.orders.Get(ctx, o.ID)
	if stored.Status != order.StatusCancelled || stored.CancelledAt.IsZero() {
		t.Fatalf("stored = %+v", stored)
	}
	// The course seat is free again.
	if err := f.orders.Create(ctx, f.newOrder(t, "u1", "r2", order.Line{SkuID: "go", Quantity: 1}), nil, 0); err != nil {
		t.Fatalf("course after cancel: %v", err)
	}
}

func TestUpdateErrorRollsBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	o := f.newOrder(t, "u1", "r1", order.Line{SkuID: "mug", Quantity: 1})
	if err := f.orders.Create(ctx, o, nil, 0); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := f.orders.Update(ctx, o.ID, func(o *order.Order) error {
		_ = o.Cancel("", time.Now())
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	got, _ := f.orders.Get(ctx, o.ID)
	if got.Status != order.StatusPendingPayment || f.stock(t, "mug") != 9 {
		t.Fatalf("after a failed update: %s stock %d", got.Status, f.stock(t, "mug"))
	}
	if _, err := f.orders.Update(ctx, 12345, func(*order.Order) error { return nil }); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("update unknown = %v", err)
	}
}

func TestUpdatePersistsEveryField(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	o := f.newOrder(t, "u1", "r1", order.Line{SkuID: "sql", Quantity: 1})
	if err := f.orders.Create(ctx, o, nil, 0); err != nil {
		t.Fatal(err)
	}
	paidAt := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	steps := []func(o *order.Order) error{
		func(o *order.Order) error { return o.MarkPaid(7, o.Total, paidAt) },
		func(o *order.Order) error { return o.BeginRefund(8, o.Total) },
		func(o *order.Order) error { return o.FinishRefund(8, o.Total, paidAt.Add(time.Hour)) },
	}
	for i, step := range steps {
		want, err := f.orders.Update(ctx, o.ID, step)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, _ := f.orders.Get(ctx, o.ID)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d stored\n%+v\nwant\n%+v", i, got, want)
		}
	}
	// Fully refunded: the course seat is released, stock stays sold.
	if err := f.orders.Create(ctx, f.newOrder(t, "u1", "r2", order.Line{SkuID: "sql", Quantity: 1}), nil, 0); err != nil {
		t.Fatalf("course after full refund: %v", err)
	}
	if f.stock(t, "sql") != 98 {
		t.Fatalf("stock = %d, want 98", f.stock(t, "sql"))
	}
}

func TestListByUserNewestFirstWithCursor(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ids []int64
	for i := range 5 {
		o := f.newOrder(t, "u1", string(rune('a'+i)), order.Line{SkuID: "mug", Quantity: 1})
		if err := f.orders.Create(ctx, o, nil, 0); err != nil {
			t.Fatal(err)
		}
		ids = append([]int64{o.ID}, ids...)
	}
	page, err := f.orders.ListByUser(ctx, "u1", nil, 3)
	if err != nil || len(page) != 3 || page[0].ID != ids[0] || page[2].ID != ids[2] || len(page[0].Items) != 1 {
		t.Fatalf("first page = %v, %v", page, err)
	}
	rest, err := f.orders.ListByUser(ctx, "u1", &app.Cursor{CreatedAt: page[2].CreatedAt, ID: page[2].ID}, 3)
	if err != nil || len(rest) != 2 || rest[0].ID != ids[3] || rest[1].ID != ids[4] {
		t.Fatalf("second page = %v, %v", rest, err)
	}
	if none, err := f.orders.ListByUser(ctx, "u2", nil, 3); err != nil || len(none) != 0 {
		t.Fatalf("other user = %v, %v", none, err)
	}
}

// TestPendingCapHoldsUnderABurst: 20 concurrent creates by one user with a cap of 10 store
// exactly 10 orders; an order leaving PENDING_PAYMENT frees a place.
func TestPendingCapHoldsUnderABurst(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const burst, maxPending = 20, 10
	errs := make(chan error, burst)
	for i := range burst {
		o := f.newOrder(t, "burst", fmt.Sprintf("r%d", i), order.Line{SkuID: "go-stock", Quantity: 1})
		go func() { errs <- f.orders.Create(ctx, o, nil, maxPending) }()
	}
	var created, refused int
	for range burst {
		switch err := <-errs; {
		case err == nil:
			created++
		case errors.Is(err, order.ErrTooManyPending):
			refused++
		case errors.Is(err, catalog.ErrOutOfStock):
			t.Fatal("the fixture's mug stock is too small for this test")
		default:
			t.Fatalf("create: %v", err)
		}
	}
	if created != maxPending || refused != burst-maxPending {
		t.Fatalf("%d created, %d refused; want exactly %d created", created, refused, maxPending)
	}
	list, err := f.orders.ListByUser(ctx, "burst", nil, 100)
	if err != nil || len(list) != maxPending {
		t.Fatalf("stored %d orders (%v), want %d", len(list), err, maxPending)
	}
	if _, err := f.orders.Update(ctx, list[0].ID, func(o *order.Order) error { return o.Cancel(order.ReasonUserCancelled, time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if err := f.orders.Create(ctx, f.newOrder(t, "burst", "after-cancel", order.Line{SkuID: "pen", Quantity: 1}), nil, maxPending); err != nil {
		t.Fatalf("a cancel frees a place: %v", err)
	}
}

// An order id minted twice (two processes on one snowflake node) is an error, never read as the
// other user's earlier request: only (user, request id) makes a duplicate request.
func TestCreateWithAClashingOrderIDIsNotADuplicateRequest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := f.newOrder(t, "u1", "r1", order.Line{SkuID: "go", Quantity: 1})
	if err := f.orders.Create(ctx, first, nil, 0); err != nil {
		t.Fatal(err)
	}
	clash := f.newOrder(t, "u2", "r9", order.Line{SkuID: "mug", Quantity: 1})
	clash.ID = first.ID
	err := f.orders.Create(ctx, clash, nil, 0)
	if err == nil || errors.Is(err, app.ErrDuplicateRequest) {
		t.Fatalf("clashing order id: err = %v, want an error that is not ErrDuplicateRequest", err)
	}
	if got := f.stock(t, "mug"); got != 10 {
		t.Fatalf("mug stock = %d after the refused order, want 10", got)
	}
}
