package service_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/order/service"
)

// paymentStub stands in for the payment service at the gRPC boundary (the real one lives in
// another module and needs the provider sandbox): ClosePayments reports what the test sets.
type paymentStub struct {
	paymentv1.UnimplementedPaymentServiceServer
	paid   atomic.Pointer[paymentv1.Payment]
	closed atomic.Int64 // order id of the last call
}

func (p *paymentStub) ClosePayments(_ context.Context, req *paymentv1.ClosePaymentsRequest) (*paymentv1.ClosePaymentsResponse, error) {
	p.closed.Store(req.GetOrderId())
	return &paymentv1.ClosePaymentsResponse{PaidPayment: p.paid.Load()}, nil
}

func startPaymentStub(t *testing.T) (*paymentStub, string) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stub := &paymentStub{}
	srv := grpc.NewServer()
	paymentv1.RegisterPaymentServiceServer(srv, stub)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return stub, lis.Addr().String()
}

func TestCancelClosesProviderTradesFirst(t *testing.T) {
	stub, addr := startPaymentStub(t)
	e := start(t, func(c *service.Config) { c.PaymentTarget = addr })
	e.addSku(t, "mug", "GOODS", 4500, 10)
	ctx := context.Background()

	unpaid := e.create(t, "u1", "r1", item("mug", 1))
	got, err := e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: unpaid.GetOrderId()})
	if err != nil || got.GetStatus() != orderv1.OrderStatus_CANCELLED || stub.closed.Load() != unpaid.GetOrderId() {
		t.Fatalf("cancel = %v, %v; closed order %d", got, err, stub.closed.Load())
	}

	paidMeanwhile := e.create(t, "u1", "r2", item("mug", 2))
	stub.paid.Store(&paymentv1.Payment{PaymentId: 99, OrderId: paidMeanwhile.GetOrderId(), Status: paymentv1.PaymentStatus_SUCCEEDED,
		AmountFen: 9000, PaidAt: timestamppb.Now()})
	_, err = e.client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: paidMeanwhile.GetOrderId()})
	wantCode(t, err, codes.FailedPrecondition)
	after, err := e.client.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: paidMeanwhile.GetOrderId()})
	if err != nil || after.GetStatus() != orderv1.OrderStatus_PAID || after.GetPaymentId() != 99 {
		t.Fatalf("order paid at the provider during cancel = %v, %v; want PAID by 99", after, err)
	}
	if s := e.stock(t, "mug"); s != 8 {
		t.Fatalf("stock = %d, want 8", s)
	}
}

func TestCancelWithPaymentServiceDownChangesNothing(t *testing.T) {
	down := testkit.FreeAddr(t) // nothing listens there
	e := start(t, func(c *service.Config) { c.PaymentTarget = down })
	e.addSku(t, "mug", "GOODS", 4500, 10)
	o := e.create(t, "u1", "r1", item("mug", 1))
	_, err := e.client.CancelOrder(context.Background(), &orderv1.CancelOrderRequest{OrderId: o.GetOrderId()})
	wantCode(t, err, codes.Unavailable)
	got, _ := e.client.GetOrder(context.Background(), &orderv1.GetOrderRequest{OrderId: o.GetOrderId()})
	if got.GetStatus() != orderv1.OrderStatus_PENDING_PAYMENT || e.stock(t, "mug") != 9 {
		t.Fatalf("after a failed cancel: %s, stock %d; want PENDING_PAYMENT and 9", got.GetStatus(), e.stock(t, "mug"))
	}
}
