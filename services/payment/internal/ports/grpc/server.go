// Package grpc serves paysuite.payment.v1.PaymentService: decode, call app, map errors.
package grpc

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	"github.com/skip2/go-qrcode"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/money"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// Server implements paymentv1.PaymentServiceServer.
type Server struct {
	paymentv1.UnimplementedPaymentServiceServer
	app *app.App
}

// NewServer serves a.
func NewServer(a *app.App) *Server { return &Server{app: a} }

// errorCodes is the one table from domain/app errors to gRPC codes; first match wins.
var errorCodes = []struct {
	err  error
	code codes.Code
}{
	{payment.ErrInvalidInput, codes.InvalidArgument},
	{payment.ErrNotFound, codes.NotFound},
	{payment.ErrOrderNotFound, codes.NotFound},
	{payment.ErrOrderNotPayable, codes.FailedPrecondition},
	{payment.ErrOrderExpiring, codes.FailedPrecondition},
	{payment.ErrNotRefundable, codes.FailedPrecondition},
	{payment.ErrRefundExceeds, codes.FailedPrecondition},
	{payment.ErrAlreadySucceeded, codes.FailedPrecondition},
	{payment.ErrNotWaiting, codes.FailedPrecondition},
	{app.ErrOrderRefused, codes.FailedPrecondition},
	{app.ErrProviderUnavailable, codes.Unavailable},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

func toStatus(err error) error {
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return status.Error(e.code, err.Error())
		}
	}
	return status.Error(codes.Internal, "internal error: "+err.Error())
}

func (s *Server) CreatePayment(ctx context.Context, req *paymentv1.CreatePaymentRequest) (*paymentv1.Payment, error) {
	p, err := s.app.CreatePayment(ctx, req.GetOrderId(), channelFromProto(req.GetChannel()))
	if err != nil {
		return nil, toStatus(err)
	}
	out := paymentToProto(p)
	if p.Status == payment.StatusWaiting && p.QRCode != "" {
		png, err := qrcode.Encode(p.QRCode, qrcode.Medium, 256)
		if err != nil {
			return nil, toStatus(err)
		}
		out.QrPngBase64 = base64.StdEncoding.EncodeToString(png)
	}
	return out, nil
}

func (s *Server) GetPayment(ctx context.Context, req *paymentv1.GetPaymentRequest) (*paymentv1.Payment, error) {
	p, err := s.app.GetPayment(ctx, req.GetPaymentId())
	if err != nil {
		return nil, toStatus(err)
	}
	return paymentToProto(p), nil
}

func (s *Server) ListOrderPayments(ctx context.Context, req *paymentv1.ListOrderPaymentsRequest) (*paymentv1.ListOrderPaymentsResponse, error) {
	list, err := s.app.ListOrderPayments(ctx, req.GetOrderId())
	if err != nil {
		return nil, toStatus(err)
	}
	out := &paymentv1.ListOrderPaymentsResponse{}
	for _, p := range list {
		out.Payments = append(out.Payments, paymentToProto(p))
	}
	return out, nil
}

func (s *Server) ClosePayments(ctx context.Context, req *paymentv1.ClosePaymentsRequest) (*paymentv1.ClosePaymentsResponse, error) {
	res, err := s.app.ClosePayments(ctx, req.GetOrderId())
	if err != nil {
		return nil, toStatus(err)
	}
	out := &paymentv1.ClosePaymentsResponse{}
	for _, p := range res.Closed {
		out.Closed = append(out.Closed, paymentToProto(p))
	}
	if res.Paid != nil {
		out.PaidPayment = paymentToProto(res.Paid)
	}
	return out, nil
}

func (s *Server) RefundPayment(ctx context.Context, req *paymentv1.RefundPaymentRequest) (*paymentv1.Refund, error) {
	r, err := s.app.RefundPayment(ctx, req.GetPaymentId(), money.Fen(req.GetAmountFen()), req.GetReason(), req.GetRequestId())
	if err != nil {
		return nil, toStatus(err)
	}
	return refundToProto(r), nil
}

func (s *Server) GetRefund(ctx context.Context, req *paymentv1.GetRefundRequest) (*paymentv1.Refund, error) {
	r, err := s.app.GetRefund(ctx, req.GetRefundId())
	if err != nil {
		return nil, toStatus(err)
	}
	return refundToProto(r), nil
}

func channelFromProto(c paymentv1.Channel) payment.Channel {
	switch c {
	case paymentv1.Channel_ALIPAY_QR:
		return payment.ChannelAlipayQR
	case paymentv1.Channel_WECHAT_NATIVE:
		return payment.ChannelWechatNative
	}
	return ""
}

// ChannelToProto maps a domain channel to the proto enum.
func ChannelToProto(c payment.Channel) paymentv1.Channel {
	switch c {
	case payment.ChannelAlipayQR:
		return paymentv1.Channel_ALIPAY_QR
	case payment.ChannelWechatNative:
		return paymentv1.Channel_WECHAT_NATIVE
	}
	return paymentv1.Channel_CHANNEL_UNSPECIFIED
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

var statusToProto = map[payment.Status]paymentv1.PaymentStatus{
	payment.StatusWaiting:   paymentv1.PaymentStatus_WAITING,
	payment.StatusSucceeded: paymentv1.PaymentStatus_SUCCEEDED,
	payment.StatusClosed:    paymentv1.PaymentStatus_CLOSED,
	payment.StatusRefunded:  paymentv1.PaymentStatus_REFUNDED,
}

var refundStatusToProto = map[payment.RefundStatus]paymentv1.RefundStatus{
	payment.RefundProcessing: paymentv1.RefundStatus_REFUND_PROCESSING,
	payment.RefundSucceeded:  paymentv1.RefundStatus_REFUND_SUCCEEDED,
	payment.RefundFailed:     paymentv1.RefundStatus_REFUND_FAILED,
}

func paymentToProto(p *payment.Payment) *paymentv1.Payment {
	return &paymentv1.Payment{
		PaymentId: p.ID, OrderId: p.OrderID, Channel: ChannelToProto(p.Channel), Status: statusToProto[p.Status],
		AmountFen: int64(p.Amount), QrCode: p.QRCode, ExpireAt: ts(p.ExpireAt), ProviderTradeNo: p.ProviderTradeNo,
		PaidAt: ts(p.PaidAt), RefundedFen: int64(p.RefundedFen), OutTradeNo: p.OutTradeNo, UserId: p.UserID,
		CreatedAt: ts(p.CreatedAt),
	}
}

func refundToProto(r *payment.Refund) *paymentv1.Refund {
	return &paymentv1.Refund{
		RefundId: r.ID, PaymentId: r.PaymentID, OrderId: r.OrderID, AmountFen: int64(r.Amount), Reason: r.Reason,
		RequestId: r.RequestID, Status: refundStatusToProto[r.Status], OutRefundNo: r.OutRefundNo,
		CreatedAt: ts(r.CreatedAt), SucceededAt: ts(r.SucceededAt),
	}
}
