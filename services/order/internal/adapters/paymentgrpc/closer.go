// Package paymentgrpc is the order service's client of the payment service.
package paymentgrpc

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/tlsx"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/order/internal/app"
)

var _ app.PaymentCloser = (*Closer)(nil)

// CallTimeout bounds one ClosePayments call: the provider round trips happen inside it.
const CallTimeout = 15 * time.Second

// Closer closes an order's provider trades through PaymentService.ClosePayments.
type Closer struct {
	conn   *grpc.ClientConn
	client paymentv1.PaymentServiceClient
}

// Dial connects lazily to the payment service at target (host:port) with dial (mutual TLS as
// the order service, expecting the payment service's identity).
func Dial(target string, dial func(target, server string, opts ...grpc.DialOption) (*grpc.ClientConn, error)) (*Closer, error) {
	conn, err := dial(target, tlsx.Payment)
	if err != nil {
		return nil, fmt.Errorf("payment service %s: %w", target, err)
	}
	return &Closer{conn: conn, client: paymentv1.NewPaymentServiceClient(conn)}, nil
}

// Close releases the connection.
func (c *Closer) Close() error { return c.conn.Close() }

// ClosePayments asks the payment service to close every open attempt of the order and
// reports the one that turned out paid, if any.
func (c *Closer) ClosePayments(ctx context.Context, orderID int64) (*app.PaidPayment, error) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	resp, err := c.client.ClosePayments(ctx, &paymentv1.ClosePaymentsRequest{OrderId: orderID})
	if err != nil {
		return nil, err
	}
	p := resp.GetPaidPayment()
	if p == nil {
		return nil, nil
	}
	paidAt := time.Now()
	if p.GetPaidAt() != nil {
		paidAt = p.GetPaidAt().AsTime()
	}
	return &app.PaidPayment{PaymentID: p.GetPaymentId(), Amount: money.Fen(p.GetAmountFen()), PaidAt: paidAt}, nil
}
