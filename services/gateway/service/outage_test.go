package service_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/pkg/principal/grpcprincipal"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
)

// TestDatabaseOutageIsUnavailable: when the order service's database connections are cut (the
// server is still up for everyone else), its calls answer Unavailable — not Internal, an outage
// is no bug — and the gateway answers 503 with Retry-After, the status a client retries. Once
// the connections are back, the same calls work again.
func TestDatabaseOutageIsUnavailable(t *testing.T) {
	s := startStack(t, withOrderDBProxy())
	user := testkit.UniqueName("buyer")
	buyer := s.asUser(user)
	const course = "course-go-concurrency"
	order := buyer.expect(t, buyer.do(t, "POST", "/v1/orders", map[string]any{"userId": user, "requestId": "o-1",
		"items": []map[string]any{{"skuId": course, "quantity": 1}}}), 200, "order before the outage")
	orderID := order.str("orderId")
	orders := orderv1.NewOrderServiceClient(s.infra.DialAs(tlsx.Gateway, tlsx.Order, s.grpcAddrs[tlsx.Order]))
	asBuyer := grpcprincipal.OutgoingContext(context.Background(), principal.Principal{UserID: user})

	s.orderDB.Cut()
	ctx, cancel := context.WithTimeout(asBuyer, 30*time.Second)
	defer cancel()
	id, err := strconv.ParseInt(orderID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	_, err = orders.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: id})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("GetOrder with the database cut: %v, want Unavailable", err)
	}
	_, err = orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{UserId: user, RequestId: "o-2",
		Items: []*orderv1.CreateOrderItem{{SkuId: course, Quantity: 1}}})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("CreateOrder with the database cut: %v, want Unavailable", err)
	}
	for what, r := range map[string]response{
		"GET the order": buyer.do(t, "GET", "/v1/orders/"+orderID, nil),
		"POST an order": buyer.do(t, "POST", "/v1/orders", map[string]any{"userId": user, "requestId": "o-3",
			"items": []map[string]any{{"skuId": course, "quantity": 1}}}),
	} {
		buyer.expect(t, r, http.StatusServiceUnavailable, what+" with the database cut")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", what)
		}
	}

	s.orderDB.Restore()
	testkit.Eventually(t, 30*time.Second, func() bool {
		return buyer.do(t, "GET", "/v1/orders/"+orderID, nil).Status == http.StatusOK
	}, "the order is not readable once the database is back")
}
