// Package grpc serves paysuite.payment.v1.PaymentService: decode, call app, map errors.
package grpc

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/skip2/go-qrcode"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/principal"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
	"github.com/paysuite/paysuite/services/payment/internal/pbconv"
)

// Server implements paymentv1.PaymentServiceServer.
type Server struct {
	paymentv1.UnimplementedPaymentServiceServer
	app *app.App
}

// NewServer serves a.
func NewServer(a *app.App) *Server { return &Server{app: a} }

// errorCodes is the one table from domain/app errors to gRPC codes; first match wins.
var errorCodes = []grpcserver.ErrorCode{
	{Err: payment.ErrInvalidInput, Code: codes.InvalidArgument},
	{Err: payment.ErrNotFound, Code: codes.NotFound},
	{Err: payment.ErrOrderNotFound, Code: codes.NotFound},
	{Err: payment.ErrNotYours, Code: codes.PermissionDenied},
	{Err: payment.ErrMerchantOnly, Code: codes.PermissionDenied},
	{Err: payment.ErrOrderNotPayable, Code: codes.FailedPrecondition},
	{Err: payment.ErrOrderExpiring, Code: codes.FailedPrecondition},
	{Err: payment.ErrNotRefundable, Code: codes.FailedPrecondition},
	{Err: payment.ErrRefundExceeds, Code: codes.FailedPrecondition},
	{Err: payment.ErrAlreadySucceeded, Code: codes.FailedPrecondition},
	{Err: payment.ErrNotWaiting, Code: codes.FailedPrecondition},
	{Err: app.ErrOrderRefused, Code: codes.FailedPrecondition},
	{Err: app.ErrProviderUnavailable, Code: codes.Unavailable},
	{Err: app.ErrOperatorOnly, Code: codes.PermissionDenied},
	{Err: recon.ErrMerchantOnly, Code: codes.PermissionDenied},
	{Err: recon.ErrBillNotReady, Code: codes.FailedPrecondition},
	{Err: recon.ErrBadBill, Code: codes.FailedPrecondition},
}

func toStatus(err error) error { return grpcserver.ToStatus(errorCodes, err) }

func (s *Server) CreatePayment(ctx context.Context, req *paymentv1.CreatePaymentRequest) (*paymentv1.Payment, error) {
	payer := payment.Payer{OpenID: req.GetOpenId(), ClientIP: req.GetClientIp(), ReturnURL: req.GetReturnUrl()}
	if ip := metadata.ValueFromIncomingContext(ctx, principal.MetadataClientIP); len(ip) > 0 {
		payer.ClientIP = ip[len(ip)-1] // the gateway's word on where the buyer is, over the body's
	}
	p, c, err := s.app.CreatePayment(ctx, principal.CallerFrom(ctx), req.GetOrderId(), pbconv.ChannelFromProto(req.GetChannel()), payer)
	if err != nil {
		return nil, toStatus(err)
	}
	out := paymentToProto(p)
	out.PayUrl = c.PayURL
	if j := c.JSAPI; j != nil {
		out.JsapiParams = &paymentv1.JsapiParams{AppId: j.AppID, TimeStamp: j.TimeStamp, NonceStr: j.NonceStr,
			Package: j.Package, SignType: j.SignType, PaySign: j.PaySign}
	}
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
	p, err := s.app.GetPayment(ctx, principal.CallerFrom(ctx), req.GetPaymentId())
	if err != nil {
		return nil, toStatus(err)
	}
	return paymentToProto(p), nil
}

func (s *Server) ListOrderPayments(ctx context.Context, req *paymentv1.ListOrderPaymentsRequest) (*paymentv1.ListOrderPaymentsResponse, error) {
	list, err := s.app.ListOrderPayments(ctx, principal.CallerFrom(ctx), req.GetOrderId())
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
	var lines []payment.RefundLine
	for _, it := range req.GetItems() {
		lines = append(lines, payment.RefundLine{SkuID: it.GetSkuId(), Quantity: it.GetQuantity()})
	}
	r, err := s.app.RefundPayment(ctx, principal.CallerFrom(ctx), req.GetPaymentId(), money.Fen(req.GetAmountFen()), lines,
		req.GetReason(), req.GetRequestId())
	if err != nil {
		return nil, toStatus(err)
	}
	return refundToProto(r), nil
}

func (s *Server) VerifyReturn(ctx context.Context, req *paymentv1.VerifyReturnRequest) (*paymentv1.Payment, error) {
	p, err := s.app.VerifyReturn(ctx, principal.CallerFrom(ctx), req.GetQuery())
	if err != nil {
		return nil, toStatus(err)
	}
	return paymentToProto(p), nil
}

// SyncPayment asks the provider about a payment now (operators).
func (s *Server) SyncPayment(ctx context.Context, req *paymentv1.SyncPaymentRequest) (*paymentv1.Payment, error) {
	p, err := s.app.SyncPayment(ctx, principal.CallerFrom(ctx), req.GetPaymentId())
	if err != nil {
		return nil, toStatus(err)
	}
	return paymentToProto(p), nil
}

// SyncRefund moves a refund now (operators).
func (s *Server) SyncRefund(ctx context.Context, req *paymentv1.SyncRefundRequest) (*paymentv1.Refund, error) {
	r, err := s.app.SyncRefund(ctx, principal.CallerFrom(ctx), req.GetRefundId())
	if err != nil {
		return nil, toStatus(err)
	}
	return refundToProto(r), nil
}

func (s *Server) GetRefund(ctx context.Context, req *paymentv1.GetRefundRequest) (*paymentv1.Refund, error) {
	r, err := s.app.GetRefund(ctx, principal.CallerFrom(ctx), req.GetRefundId())
	if err != nil {
		return nil, toStatus(err)
	}
	return refundToProto(r), nil
}

func (s *Server) ListAnomalies(ctx context.Context, req *paymentv1.ListAnomaliesRequest) (*paymentv1.ListAnomaliesResponse, error) {
	list, next, err := s.app.ListAnomalies(ctx, principal.CallerFrom(ctx), payment.AnomalyState(req.GetState()),
		payment.AnomalyKind(req.GetKind()), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, toStatus(err)
	}
	out := &paymentv1.ListAnomaliesResponse{NextPageToken: next}
	for _, a := range list {
		out.Anomalies = append(out.Anomalies, &paymentv1.Anomaly{
			AnomalyId: a.ID, Kind: string(a.Kind), State: string(a.State), PaymentId: a.PaymentID, RefundId: a.RefundID,
			OrderId: a.OrderID, Channel: pbconv.Channel(a.Channel), OutTradeNo: a.OutTradeNo, OutRefundNo: a.OutRefundNo,
			AmountFen: int64(a.AmountFen), ProviderAmountFen: int64(a.ProviderAmountFen), Detail: a.Detail, Tried: a.Tried,
			CreatedAt: ts(a.CreatedAt), UpdatedAt: ts(a.UpdatedAt), ResolvedAt: ts(a.ResolvedAt),
		})
	}
	return out, nil
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
		PaymentId: p.ID, OrderId: p.OrderID, Channel: pbconv.Channel(p.Channel), Status: statusToProto[p.Status],
		AmountFen: int64(p.Amount), QrCode: p.QRCode, ExpireAt: ts(p.ExpireAt), ProviderTradeNo: p.ProviderTradeNo,
		PaidAt: ts(p.PaidAt), RefundedFen: int64(p.RefundedFen), OutTradeNo: p.OutTradeNo, UserId: p.UserID,
		CreatedAt: ts(p.CreatedAt),
	}
}

func refundToProto(r *payment.Refund) *paymentv1.Refund {
	out := &paymentv1.Refund{
		RefundId: r.ID, PaymentId: r.PaymentID, OrderId: r.OrderID, AmountFen: int64(r.Amount), Reason: r.Reason,
		RequestId: r.RequestID, Status: refundStatusToProto[r.Status], OutRefundNo: r.OutRefundNo,
		CreatedAt: ts(r.CreatedAt), SucceededAt: ts(r.SucceededAt),
	}
	for _, l := range r.Lines {
		out.Items = append(out.Items, &paymentv1.RefundItem{SkuId: l.SkuID, Quantity: l.Quantity})
	}
	return out
}
