// Package grpcport serves paysuite.order.v1.OrderService: it decodes requests, calls the use
// cases and maps their errors to codes (errors.go).
package grpcport

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/principal"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/order/internal/app"
	"github.com/paysuite/paysuite/services/order/internal/domain/catalog"
	"github.com/paysuite/paysuite/services/order/internal/domain/order"
)

// Server implements orderv1.OrderServiceServer.
type Server struct {
	orderv1.UnimplementedOrderServiceServer
	app *app.App
}

// NewServer serves the use cases of a.
func NewServer(a *app.App) *Server { return &Server{app: a} }

func (s *Server) ListSkus(ctx context.Context, _ *orderv1.ListSkusRequest) (*orderv1.ListSkusResponse, error) {
	skus, err := s.app.ListSkus(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &orderv1.ListSkusResponse{Skus: make([]*orderv1.Sku, len(skus))}
	for i, k := range skus {
		resp.Skus[i] = &orderv1.Sku{SkuId: k.ID, Title: k.Title, Kind: kindPB(k.Kind), PriceFen: int64(k.Price), Stock: k.Stock}
	}
	return resp, nil
}

func (s *Server) CreateOrder(ctx context.Context, req *orderv1.CreateOrderRequest) (*orderv1.Order, error) {
	lines := make([]order.Line, len(req.GetItems()))
	for i, it := range req.GetItems() {
		lines[i] = order.Line{SkuID: it.GetSkuId(), Quantity: it.GetQuantity()}
	}
	o, err := s.app.CreateOrder(ctx, principal.CallerFrom(ctx), req.GetUserId(), req.GetRequestId(), lines)
	return orderPB(o), toStatus(err)
}

func (s *Server) GetOrder(ctx context.Context, req *orderv1.GetOrderRequest) (*orderv1.Order, error) {
	o, err := s.app.GetOrder(ctx, principal.CallerFrom(ctx), req.GetOrderId())
	return orderPB(o), toStatus(err)
}

func (s *Server) ListUserOrders(ctx context.Context, req *orderv1.ListUserOrdersRequest) (*orderv1.ListUserOrdersResponse, error) {
	orders, next, err := s.app.ListUserOrders(ctx, principal.CallerFrom(ctx), req.GetUserId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &orderv1.ListUserOrdersResponse{Orders: make([]*orderv1.Order, len(orders)), NextPageToken: next}
	for i, o := range orders {
		resp.Orders[i] = orderPB(o)
	}
	return resp, nil
}

func (s *Server) CancelOrder(ctx context.Context, req *orderv1.CancelOrderRequest) (*orderv1.Order, error) {
	o, err := s.app.CancelOrder(ctx, principal.CallerFrom(ctx), req.GetOrderId(), req.GetUserId(), req.GetReason())
	return orderPB(o), toStatus(err)
}

func (s *Server) MarkOrderPaid(ctx context.Context, req *orderv1.MarkOrderPaidRequest) (*orderv1.Order, error) {
	o, err := s.app.MarkOrderPaid(ctx, req.GetOrderId(), req.GetPaymentId(), money.Fen(req.GetAmountFen()), timeOf(req.GetPaidAt()))
	return orderPB(o), toStatus(err)
}

func (s *Server) BeginRefund(ctx context.Context, req *orderv1.BeginRefundRequest) (*orderv1.Order, error) {
	o, err := s.app.BeginRefund(ctx, req.GetOrderId(), req.GetRefundId(), req.GetPaymentId(), money.Fen(req.GetAmountFen()))
	return orderPB(o), toStatus(err)
}

func (s *Server) FinishRefund(ctx context.Context, req *orderv1.FinishRefundRequest) (*orderv1.Order, error) {
	o, err := s.app.FinishRefund(ctx, req.GetOrderId(), req.GetRefundId(), req.GetPaymentId(), money.Fen(req.GetRefundedTotalFen()), timeOf(req.GetRefundedAt()))
	return orderPB(o), toStatus(err)
}

func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func tsOf(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func kindPB(k catalog.Kind) orderv1.SkuKind {
	switch k {
	case catalog.KindCourse:
		return orderv1.SkuKind_COURSE
	case catalog.KindGoods:
		return orderv1.SkuKind_GOODS
	}
	return orderv1.SkuKind_SKU_KIND_UNSPECIFIED
}

var statusPB = map[order.Status]orderv1.OrderStatus{
	order.StatusPendingPayment: orderv1.OrderStatus_PENDING_PAYMENT,
	order.StatusPaid:           orderv1.OrderStatus_PAID,
	order.StatusCancelled:      orderv1.OrderStatus_CANCELLED,
	order.StatusRefunding:      orderv1.OrderStatus_REFUNDING,
	order.StatusRefunded:       orderv1.OrderStatus_REFUNDED,
}

func orderPB(o *order.Order) *orderv1.Order {
	if o == nil {
		return nil
	}
	pb := &orderv1.Order{
		OrderId:      o.ID,
		UserId:       o.UserID,
		RequestId:    o.RequestID,
		Status:       statusPB[o.Status],
		TotalFen:     int64(o.Total),
		Items:        make([]*orderv1.OrderItem, len(o.Items)),
		CreatedAt:    tsOf(o.CreatedAt),
		PayDeadline:  tsOf(o.PayDeadline),
		PaidAt:       tsOf(o.PaidAt),
		CancelledAt:  tsOf(o.CancelledAt),
		CancelReason: o.CancelReason,
		PaymentId:    o.PaymentID,
		RefundedFen:  int64(o.RefundedFen),
		RefundedAt:   tsOf(o.RefundedAt),
	}
	for i, it := range o.Items {
		pb.Items[i] = &orderv1.OrderItem{SkuId: it.SkuID, Title: it.Title, Kind: kindPB(it.Kind),
			UnitPriceFen: int64(it.UnitPrice), Quantity: it.Quantity, SubtotalFen: int64(it.Subtotal())}
	}
	return pb
}
