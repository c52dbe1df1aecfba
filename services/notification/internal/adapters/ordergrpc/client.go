// Package ordergrpc asks the order service whose an order is, for the live order stream.
package ordergrpc

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/notification/internal/app"
)

var _ app.Orders = (*Client)(nil)

// Client implements app.Orders over gRPC.
type Client struct {
	c       orderv1.OrderServiceClient
	timeout time.Duration
}

// New wraps conn (dialled at ORDER_TARGET).
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: orderv1.NewOrderServiceClient(conn), timeout: 5 * time.Second}
}

// Order implements app.Orders.
func (c *Client) Order(ctx context.Context, orderID int64) (string, app.OrderStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	o, err := c.c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: orderID})
	if status.Code(err) == codes.NotFound {
		return "", "", fmt.Errorf("order %d: %w", orderID, app.ErrOrderNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("get order %d: %w", orderID, err)
	}
	return o.GetUserId(), app.OrderStatus(o.GetStatus().String()), nil
}
