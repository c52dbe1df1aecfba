// Package ordergrpc is the payment service's client of paysuite.order.v1.OrderService.
package ordergrpc

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/money"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// Client implements app.Orders over gRPC.
type Client struct {
	c       orderv1.OrderServiceClient
	timeout time.Duration
}

var _ app.Orders = (*Client)(nil)

// New wraps conn (dialled at ORDER_TARGET).
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: orderv1.NewOrderServiceClient(conn), timeout: 5 * time.Second}
}

// refusal maps the answers that retrying cannot change to app.ErrOrderRefused.
func refusal(op string, err error) error {
	switch status.Code(err) {
	case codes.FailedPrecondition, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists:
		return fmt.Errorf("order %s: %w: %v", op, app.ErrOrderRefused, err)
	}
	return fmt.Errorf("order %s: %w", op, err)
}

func (c *Client) GetOrder(ctx context.Context, id int64) (app.Order, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	o, err := c.c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: id})
	if status.Code(err) == codes.NotFound {
		return app.Order{}, payment.OrderNotFoundError(id)
	}
	if err != nil {
		return app.Order{}, fmt.Errorf("get order %d: %w", id, err)
	}
	out := app.Order{
		ID: o.GetOrderId(), UserID: o.GetUserId(), Status: app.OrderStatus(o.GetStatus().String()),
		Total: money.Fen(o.GetTotalFen()), PaymentID: o.GetPaymentId(),
	}
	if o.GetPayDeadline() != nil {
		out.PayDeadline = o.GetPayDeadline().AsTime()
	}
	for _, it := range o.GetItems() {
		out.Items = append(out.Items, payment.Item{
			SkuID: it.GetSkuId(), Title: it.GetTitle(), Kind: it.GetKind().String(), Quantity: it.GetQuantity(),
			UnitPriceFen: money.Fen(it.GetUnitPriceFen()),
		})
	}
	return out, nil
}

func (c *Client) MarkOrderPaid(ctx context.Context, orderID, paymentID int64, amount money.Fen, paidAt time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.c.MarkOrderPaid(ctx, &orderv1.MarkOrderPaidRequest{
		OrderId: orderID, PaymentId: paymentID, AmountFen: int64(amount), PaidAt: timestamppb.New(paidAt),
	})
	if err != nil {
		return refusal("mark paid", err)
	}
	return nil
}

func (c *Client) BeginRefund(ctx context.Context, orderID, refundID, paymentID int64, amount money.Fen) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.c.BeginRefund(ctx, &orderv1.BeginRefundRequest{OrderId: orderID, RefundId: refundID, AmountFen: int64(amount), PaymentId: paymentID})
	if err != nil {
		return refusal("begin refund", err)
	}
	return nil
}

func (c *Client) FinishRefund(ctx context.Context, orderID, refundID, paymentID int64, total money.Fen, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.c.FinishRefund(ctx, &orderv1.FinishRefundRequest{PaymentId: paymentID,
		OrderId: orderID, RefundId: refundID, RefundedTotalFen: int64(total), RefundedAt: timestamppb.New(at),
	})
	if err != nil {
		return refusal("finish refund", err)
	}
	return nil
}
