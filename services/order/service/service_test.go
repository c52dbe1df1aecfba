package service_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/order/service"
)

func TestCatalogIsSeeded(t *testing.T) {
	e := start(t)
	resp, err := e.client.ListSkus(context.Background(), &orderv1.ListSkusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[orderv1.SkuKind]int{}
	for _, s := range resp.GetSkus() {
		kinds[s.GetKind()]++
		if s.GetPriceFen() <= 0 || s.GetStock() <= 0 || s.GetTitle() == "" {
			t.Errorf("seeded sku %v", s)
		}
	}
	if kinds[orderv1.SkuKind_COURSE] < 2 || kinds[orderv1.SkuKind_GOODS] < 2 {
		t.Fatalf("catalog kinds = %v, want a few courses and goods", kinds)
	}
}

func TestCreateOrderPricesFromCatalog(t *testing.T) {
	e := start(t)
	e.addSku(t, "mug", "GOODS", 4500, 10)
	e.addSku(t, "go", "COURSE", 19900, 1000)
	o := e.create(t, "u1", "r1", item("mug", 2), item("go", 1), item("mug", 1))
	if o.GetStatus() != orderv1.OrderStatus_PENDING_PAYMENT || o.GetTotalFen() != 3*4500+19900 || o.GetOrderId() == 0 {
		t.Fatalf("order = %v", o)
	}
	if len(o.GetItems()) != 2 || o.GetItems()[1].GetQuantity() != 3 || o.GetItems()[1].GetSubtotalFen() != 13500 {
		t.Fatalf("items (merged per sku) = %v", o.GetItems())
	}
	if got := o.GetPayDeadline().AsTime().Sub(o.GetCreatedAt().AsTime()); got != 30*time.Minute {
		t.Fatalf("pay deadline %v after creation, want 30m", got)
	}
	if e.stock(t, "mug") != 7 || e.stock(t, "go") != 999 {
		t.Fatalf("stock mug=%d go=%d, want 7 and 999", e.stock(t, "mug"), e.stock(t, "go"))
	}
	got, err := e.client.GetOrder(context.Background(), &orderv1.GetOrderRequest{OrderId: o.GetOrderId()})
	if err != nil || !proto.Equal(got, o) {
		t.Fatalf("GetOrder = %v, %v; want %v", got, err, o)
	}
}

func TestBadInputGetsACodeAndChangesNothing(t *testing.T) {
	e := start(t)
	e.addSku(t, "mug", "GOODS", 4500, 10)
	e.addSku(t, "go", "COURSE", 19900, 1000)
	fiftyOne := make([]*orderv1.CreateOrderItem, 51)
	for i := range fiftyOne {
		fiftyOne[i] = item(fmt.Sprintf("sku-%02d", i), 1)
	}
	tests := []struct {
		name string
		req  *orderv1.CreateOrderRequest
		want codes.Code
	}{
		{"unknown sku", &orderv1.CreateOrderRequest{UserId: "u", RequestId: "r", Items: []*orderv1.CreateOrderItem{item("mug", 1), item("nope", 1)}}, codes.NotFound},
		{"quantity 0", &orderv1.CreateOrderRequest{UserId: "u", RequestId: "r", Items: []*orderv1.CreateOrderItem{item("mug", 0)}}, codes.InvalidArgument},
		{"quantity 100", &orderv1.CreateOrderRequest{UserId: "u", RequestId: "r", Items: []*orderv1.CreateOrderItem{item("mug", 100)}}, codes.InvalidArgument},
		{"negative quantity", &orderv1.CreateOrderRequest{UserId: "u", RequestId: "r", Items: []*orderv1.CreateOrderItem{item("mug", -3)}}, codes.InvalidArgument},
		{"empty items", &orderv1.CreateOrderRequest{UserId: "u", RequestId: "r"}, codes.InvalidArgument},
		{"51 items", &orderv1.CreateOrderRequest{UserId: "u", RequestId: "r", Items: fiftyOne}, codes.InvalidArgument},
		{"missing user id", &orderv1.CreateOrderRequest{RequestId: "r", Items: []*orderv1.CreateOrderItem{item("mug", 1)}}, codes.InvalidArgument},
		{"missing request id", &orderv1.CreateOrderRequest{UserId: "u", Items: []*orderv1.CreateOrderItem{item("mug", 1)}}, codes.InvalidArgument},
		{"missing sku id", &orderv1.CreateOrderRequest{UserId: "u", RequestId: "r", Items: []*orderv1.CreateOrderItem{item("", 1)}}, codes.InvalidArgument},
		{"two of one course", &orderv1.CreateOrderRequest{UserId: "u", RequestId: "r", Items: []*orderv1.CreateOrderItem{item("go", 2)}}, codes.InvalidArgument},
		{"more than in stock", &orderv1.CreateOrderRequest{UserId: "u", RequestId: "r", Items: []*orderv1.CreateOrderItem{item("go", 1), item("mug", 11)}}, codes.FailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.CreateOrder(context.Background(), tt.req)
			wantCode(t, err, tt.want)
		})
	}
	if e.stock(t, "mug") != 10 || e.stock(t, "go") != 1000 {
		t.Fatalf("stock changed by refused requests: mug=%d go=%d", e.stock(t, "mug"), e.stock(t, "go"))
	}
	if n := e.count(t, "SELECT COUNT(*) FROM orders") + e.count(t, "SELECT COUNT(*) FROM order_items") + e.count(t, "SELECT COUNT(*) FROM course_holds"); n != 0 {
		t.Fatalf("refused requests left %d rows", n)
	}
	// The same request id then works: a refused request does not burn it.
	e.create(t, "u", "r", item("mug", 1))

	for _, tt := range []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"get unknown order", func() error {
			_, err := e.client.GetOrder(context.Background(), &orderv1.GetOrderRequest{OrderId: 42})
			return err
		}, codes.NotFound},
		{"get order 0", func() error {
			_, err := e.client.GetOrder(context.Background(), &orderv1.GetOrderRequest{})
			return err
		}, codes.InvalidArgument},
		{"cancel unknown order", func() error {
			_, err := e.client.CancelOrder(context.Background(), &orderv1.CancelOrderRequest{OrderId: 42})
			return err
		}, codes.NotFound},
		{"list without user", func() error {
			_, err := e.client.ListUserOrders(context.Background(), &orderv1.ListUserOrdersRequest{})
			return err
		}, codes.InvalidArgument},
		{"list with a forged token", func() error {
			_, err := e.client.ListUserOrders(context.Background(), &orderv1.ListUserOrdersRequest{UserId: "u", PageToken: "bm9wZQ"})
			return err
		}, codes.InvalidArgument},
		{"mark paid without payment id", func() error {
			_, err := e.client.MarkOrderPaid(context.Background(), &orderv1.MarkOrderPaidRequest{OrderId: 42, AmountFen: 1})
			return err
		}, codes.InvalidArgument},
	} {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.call(), tt.want) })
	}
}

func TestTwoHundredBuyersFiftyInStock(t *testing.T) {
	e := start(t)
	e.addSku(t, "hot", "GOODS", 100, 50)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok       int
		outCodes = map[codes.Code]int{}
	)
	for i := range 200 {
		wg.Go(func() {
			_, err := e.client.CreateOrder(context.Background(), &orderv1.CreateOrderRequest{
				UserId: fmt.Sprintf("buyer-%d", i), RequestId: "r", Items: []*orderv1.CreateOrderItem{item("hot", 1)}})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else {
				outCodes[status.Code(err)]++
			}
		})
	}
	wg.Wait()
	if ok != 50 || outCodes[codes.FailedPrecondition] != 150 || len(outCodes) != 1 {
		t.Fatalf("%d orders, refusals %v; want 50 orders and 150 FailedPrecondition", ok, outCodes)
	}
	if s := e.stock(t, "hot"); s != 0 {
		t.Fatalf("stock = %d, want 0", s)
	}
	if n := e.count(t, "SELECT COALESCE(SUM(quantity), 0) FROM order_items WHERE sku_id = 'hot'"); n != 50 {
		t.Fatalf("%d units sold, want 50", n)
	}
}

func TestConcurrentIdenticalCreatesMakeOneOrder(t *testing.T) {
	e := start(t)
	e.addSku(t, "mug", "GOODS", 4500, 100)
	e.addSku(t, "go", "COURSE", 19900, 1000)
	answers := make([]*orderv1.Order, 20)
	errs := make([]error, 20)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			answers[i], errs[i] = e.client.CreateOrder(context.Background(), &orderv1.CreateOrderRequest{
				UserId: "u1", RequestId: "same", Items: []*orderv1.CreateOrderItem{item("mug", 2), item("go", 1)}})
		})
	}
	wg.Wait()
	for i := range answers {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if !proto.Equal(answers[i], answers[0]) {
			t.Fatalf("answer %d differs:\n%v\n%v", i, answers[i], answers[0])
		}
	}
	if n := e.count(t, "SELECT COUNT(*) FROM orders"); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
	if e.stock(t, "mug") != 98 || e.stock(t, "go") != 999 {
		t.Fatalf("stock mug=%d go=%d, want 98 and 999 (taken once)", e.stock(t, "mug"), e.stock(t, "go"))
	}
	// The same request id with other items is refused and changes nothing.
	_, err := e.client.CreateOrder(context.Background(), &orderv1.CreateOrderRequest{
		UserId: "u1", RequestId: "same", Items: []*orderv1.CreateOrderItem{item("mug", 3)}})
	wantCode(t, err, codes.InvalidArgument)
	// The same items split or reordered are the same request.
	again := e.create(t, "u1", "same", item("go", 1), item("mug", 1), item("mug", 1))
	if !proto.Equal(again, answers[0]) {
		t.Fatalf("reordered replay = %v, want %v", again, answers[0])
	}
	if e.stock(t, "mug") != 98 || e.count(t, "SELECT COUNT(*) FROM orders") != 1 {
		t.Fatal("refused or replayed request changed stock or orders")
	}
}

func TestCancelReleasesStockOnce(t *testing.T) {
	e := start(t)
	e.addSku(t, "mug", "GOODS", 4500, 10)
	ctx := context.Background()

	t.Run("cancel twice", func(t *testing.T) {
		o := e.create(t, "u1", "r1", item("mug", 3))
		got, err := e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: o.GetOrderId(), UserId: "u1"})
		if err != nil || got.GetStatus() != orderv1.OrderStatus_CANCELLED || got.GetCancelReason() != "USER_CANCELLED" || got.GetCancelledAt() == nil {
			t.Fatalf("cancel = %v, %v", got, err)
		}
		if s := e.stock(t, "mug"); s != 10 {
			t.Fatalf("stock after cancel = %d, want 10", s)
		}
		_, err = e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()})
		wantCode(t, err, codes.FailedPrecondition)
		if s := e.stock(t, "mug"); s != 10 {
			t.Fatalf("stock after second cancel = %d, want 10", s)
		}
	})

	t.Run("concurrent cancels", func(t *testing.T) {
		o := e.create(t, "u1", "r2", item("mug", 4))
		var wg sync.WaitGroup
		var mu sync.Mutex
		okCount := 0
		for range 10 {
			wg.Go(func() {
				_, err := e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()})
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					okCount++
				} else if status.Code(err) != codes.FailedPrecondition {
					t.Errorf("cancel: %v", err)
				}
			})
		}
		wg.Wait()
		if okCount != 1 || e.stock(t, "mug") != 10 {
			t.Fatalf("%d cancels succeeded, stock %d; want 1 and 10", okCount, e.stock(t, "mug"))
		}
	})

	t.Run("cancel after paid", func(t *testing.T) {
		o := e.create(t, "u1", "r3", item("mug", 2))
		if _, err := e.client.MarkOrderPaid(ctx, &orderv1.MarkOrderPaidRequest{OrderId: o.GetOrderId(), PaymentId: 77, AmountFen: 9000, PaidAt: timestamppb.Now()}); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()})
		wantCode(t, err, codes.FailedPrecondition)
		if s := e.stock(t, "mug"); s != 8 {
			t.Fatalf("stock = %d, want 8 (the paid order keeps its 2)", s)
		}
	})

	t.Run("another user's order", func(t *testing.T) {
		o := e.create(t, "u1", "r4", item("mug", 1))
		_, err := e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: o.GetOrderId(), UserId: "u2"})
		wantCode(t, err, codes.NotFound)
		_, err = e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: o.GetOrderId(), Reason: "BORED"})
		wantCode(t, err, codes.InvalidArgument)
		if got := e.get(t, o.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_PENDING_PAYMENT {
			t.Fatalf("status = %s, want PENDING_PAYMENT", got.GetStatus())
		}
	})
}

func TestOneLiveOrderPerUserAndCourse(t *testing.T) {
	e := start(t)
	e.addSku(t, "go", "COURSE", 19900, 1000)
	e.addSku(t, "mug", "GOODS", 4500, 10)
	ctx := context.Background()

	pending := e.create(t, "u1", "r1", item("go", 1))
	again := e.create(t, "u1", "r2", item("go", 1))
	if !proto.Equal(again, pending) {
		t.Fatalf("new request for a pending course = %v, want the pending order %v", again, pending)
	}
	_, err := e.client.CreateOrder(ctx, &orderv1.CreateOrderRequest{UserId: "u1", RequestId: "r3", Items: []*orderv1.CreateOrderItem{item("go", 1), item("mug", 1)}})
	wantCode(t, err, codes.FailedPrecondition)
	other := e.create(t, "u2", "r1", item("go", 1)) // another user is not affected
	if other.GetOrderId() == pending.GetOrderId() {
		t.Fatal("another user got u1's order")
	}

	if _, err := e.client.MarkOrderPaid(ctx, &orderv1.MarkOrderPaidRequest{OrderId: pending.GetOrderId(), PaymentId: 5, AmountFen: 19900}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.CreateOrder(ctx, &orderv1.CreateOrderRequest{UserId: "u1", RequestId: "r4", Items: []*orderv1.CreateOrderItem{item("go", 1)}})
	wantCode(t, err, codes.AlreadyExists)

	// A fully refunded course may be bought again; a cancelled one too.
	if _, err := e.client.FinishRefund(ctx, &orderv1.FinishRefundRequest{OrderId: pending.GetOrderId(), RefundId: 9, RefundedTotalFen: 19900}); err != nil {
		t.Fatal(err)
	}
	rebought := e.create(t, "u1", "r5", item("go", 1))
	if rebought.GetOrderId() == pending.GetOrderId() {
		t.Fatal("refunded course not bought anew")
	}
	if _, err := e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: other.GetOrderId()}); err != nil {
		t.Fatal(err)
	}
	e.create(t, "u2", "r2", item("go", 1))
	if s := e.stock(t, "go"); s != 1000-3 {
		t.Fatalf("course seats left = %d, want 997", s)
	}

	// Concurrent new requests for one course by one user: one order.
	var wg sync.WaitGroup
	ids := make([]int64, 10)
	for i := range ids {
		wg.Go(func() {
			o, err := e.client.CreateOrder(ctx, &orderv1.CreateOrderRequest{UserId: "u3", RequestId: fmt.Sprint("c", i), Items: []*orderv1.CreateOrderItem{item("go", 1)}})
			if err != nil {
				t.Errorf("create %d: %v", i, err)
				return
			}
			ids[i] = o.GetOrderId()
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent course orders = %v, want one order", ids)
		}
	}
	if n := e.count(t, "SELECT COUNT(*) FROM orders WHERE user_id = 'u3'"); n != 1 {
		t.Fatalf("u3 has %d orders, want 1", n)
	}
}

func TestMarkOrderPaid(t *testing.T) {
	e := start(t)
	e.addSku(t, "mug", "GOODS", 4500, 10)
	ctx := context.Background()
	o := e.create(t, "u1", "r1", item("mug", 2))
	paidAt := timestamppb.New(time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC))
	req := &orderv1.MarkOrderPaidRequest{OrderId: o.GetOrderId(), PaymentId: 11, AmountFen: 9000, PaidAt: paidAt}

	_, err := e.client.MarkOrderPaid(ctx, &orderv1.MarkOrderPaidRequest{OrderId: o.GetOrderId(), PaymentId: 11, AmountFen: 8999, PaidAt: paidAt})
	wantCode(t, err, codes.InvalidArgument)
	first, err := e.client.MarkOrderPaid(ctx, req)
	if err != nil || first.GetStatus() != orderv1.OrderStatus_PAID || first.GetPaymentId() != 11 || !first.GetPaidAt().AsTime().Equal(paidAt.AsTime()) {
		t.Fatalf("MarkOrderPaid = %v, %v", first, err)
	}
	second, err := e.client.MarkOrderPaid(ctx, req)
	if err != nil || !proto.Equal(first, second) {
		t.Fatalf("replay = %v, %v; want %v", second, err, first)
	}
	_, err = e.client.MarkOrderPaid(ctx, &orderv1.MarkOrderPaidRequest{OrderId: o.GetOrderId(), PaymentId: 12, AmountFen: 9000})
	wantCode(t, err, codes.FailedPrecondition)

	c := e.create(t, "u1", "r2", item("mug", 1))
	if _, err := e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: c.GetOrderId()}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.MarkOrderPaid(ctx, &orderv1.MarkOrderPaidRequest{OrderId: c.GetOrderId(), PaymentId: 13, AmountFen: 4500})
	wantCode(t, err, codes.FailedPrecondition)
	_, err = e.client.MarkOrderPaid(ctx, &orderv1.MarkOrderPaidRequest{OrderId: 424242, PaymentId: 13, AmountFen: 4500})
	wantCode(t, err, codes.NotFound)
	if got := e.get(t, c.GetOrderId()); got.GetStatus() != orderv1.OrderStatus_CANCELLED || e.stock(t, "mug") != 8 {
		t.Fatalf("cancelled order after a late payment: %s, stock %d", got.GetStatus(), e.stock(t, "mug"))
	}
}

func TestRefundTransitions(t *testing.T) {
	e := start(t)
	e.addSku(t, "mug", "GOODS", 1000, 10)
	ctx := context.Background()
	o := e.create(t, "u1", "r1", item("mug", 3))
	id := o.GetOrderId()

	_, err := e.client.BeginRefund(ctx, &orderv1.BeginRefundRequest{OrderId: id, RefundId: 1, AmountFen: 1000})
	wantCode(t, err, codes.FailedPrecondition) // not paid yet
	if _, err := e.client.MarkOrderPaid(ctx, &orderv1.MarkOrderPaidRequest{OrderId: id, PaymentId: 5, AmountFen: 3000}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.BeginRefund(ctx, &orderv1.BeginRefundRequest{OrderId: id, RefundId: 1, AmountFen: 3001})
	wantCode(t, err, codes.InvalidArgument)

	for range 2 { // the same refund twice
		got, err := e.client.BeginRefund(ctx, &orderv1.BeginRefundRequest{OrderId: id, RefundId: 1, AmountFen: 1000})
		if err != nil || got.GetStatus() != orderv1.OrderStatus_REFUNDING {
			t.Fatalf("BeginRefund = %v, %v", got, err)
		}
	}
	_, err = e.client.BeginRefund(ctx, &orderv1.BeginRefundRequest{OrderId: id, RefundId: 2, AmountFen: 1000})
	wantCode(t, err, codes.FailedPrecondition)

	got, err := e.client.FinishRefund(ctx, &orderv1.FinishRefundRequest{OrderId: id, RefundId: 1, RefundedTotalFen: 1000})
	if err != nil || got.GetStatus() != orderv1.OrderStatus_PAID || got.GetRefundedFen() != 1000 {
		t.Fatalf("partial FinishRefund = %v, %v; want PAID with 1000 refunded", got, err)
	}
	if _, err := e.client.BeginRefund(ctx, &orderv1.BeginRefundRequest{OrderId: id, RefundId: 2, AmountFen: 2001}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("refund beyond the rest: %v", err)
	}
	if _, err := e.client.BeginRefund(ctx, &orderv1.BeginRefundRequest{OrderId: id, RefundId: 2, AmountFen: 2000}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err = e.client.FinishRefund(ctx, &orderv1.FinishRefundRequest{OrderId: id, RefundId: 2, RefundedTotalFen: 3000})
		if err != nil || got.GetStatus() != orderv1.OrderStatus_REFUNDED || got.GetRefundedFen() != 3000 || got.GetRefundedAt() == nil {
			t.Fatalf("full FinishRefund = %v, %v; want REFUNDED", got, err)
		}
	}
	_, err = e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: id})
	wantCode(t, err, codes.FailedPrecondition)
	if s := e.stock(t, "mug"); s != 7 {
		t.Fatalf("stock = %d; a refund does not restock goods, want 7", s)
	}
}

func TestListUserOrdersPages(t *testing.T) {
	e := start(t, func(c *service.Config) { c.MaxPendingPerUser = 30 }) // 25 unpaid orders of one user

	e.addSku(t, "mug", "GOODS", 100, 100)
	ctx := context.Background()
	var want []int64
	for i := range 25 {
		want = append([]int64{e.create(t, "u1", fmt.Sprint("r", i), item("mug", 1)).GetOrderId()}, want...)
	}
	e.create(t, "u2", "r", item("mug", 1))

	var got []int64
	token := ""
	for pages := 0; ; pages++ {
		resp, err := e.client.ListUserOrders(ctx, &orderv1.ListUserOrdersRequest{UserId: "u1", PageSize: 10, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range resp.GetOrders() {
			got = append(got, o.GetOrderId())
		}
		token = resp.GetNextPageToken()
		if token == "" || pages > 5 {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages gave %v, want newest first %v", got, want)
	}
	def, err := e.client.ListUserOrders(ctx, &orderv1.ListUserOrdersRequest{UserId: "u1"})
	if err != nil || len(def.GetOrders()) != 20 || def.GetNextPageToken() == "" {
		t.Fatalf("default page: %d orders, token %q, %v; want 20 and a token", len(def.GetOrders()), def.GetNextPageToken(), err)
	}
	big, err := e.client.ListUserOrders(ctx, &orderv1.ListUserOrdersRequest{UserId: "u1", PageSize: 1000})
	if err != nil || len(big.GetOrders()) != 25 || big.GetNextPageToken() != "" {
		t.Fatalf("page_size 1000: %d orders, token %q, %v", len(big.GetOrders()), big.GetNextPageToken(), err)
	}
}
