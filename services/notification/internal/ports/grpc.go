// Package ports serves the notification service's gRPC API.
package ports

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/principal"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
	"github.com/paysuite/paysuite/services/notification/internal/app"
	"github.com/paysuite/paysuite/services/notification/internal/domain/delivery"
	"github.com/paysuite/paysuite/services/notification/internal/domain/notice"
)

// GRPC implements notificationv1.NotificationServiceServer on top of the use cases.
type GRPC struct {
	notificationv1.UnimplementedNotificationServiceServer
	app *app.App
	log *slog.Logger
}

// NewGRPC returns the gRPC port.
func NewGRPC(a *app.App, log *slog.Logger) *GRPC { return &GRPC{app: a, log: log} }

// ListUserNotifications implements notificationv1.NotificationServiceServer.
func (s *GRPC) ListUserNotifications(ctx context.Context, req *notificationv1.ListUserNotificationsRequest) (*notificationv1.ListUserNotificationsResponse, error) {
	list, next, err := s.app.ListUserNotifications(ctx, principal.CallerFrom(ctx), req.GetUserId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &notificationv1.ListUserNotificationsResponse{NextPageToken: next}
	for _, n := range list {
		resp.Notifications = append(resp.Notifications, &notificationv1.Notification{
			NotificationId: n.ID, UserId: n.UserID, OrderId: n.OrderID, PaymentId: n.PaymentID,
			Kind: string(n.Kind), Message: n.Message, EventId: n.EventID, CreatedAt: timestamppb.New(n.CreatedAt),
		})
	}
	return resp, nil
}

// CreateWebhookSubscription implements notificationv1.NotificationServiceServer.
func (s *GRPC) CreateWebhookSubscription(ctx context.Context, req *notificationv1.CreateWebhookSubscriptionRequest) (*notificationv1.WebhookSubscription, error) {
	sub, err := s.app.CreateWebhookSubscription(ctx, principal.CallerFrom(ctx), req.GetUrl(), req.GetSecret(), req.GetDescription())
	if err != nil {
		return nil, toStatus(err)
	}
	out := subscriptionProto(sub)
	out.Secret = sub.Secret // shown this once: it is stored sealed and never listed
	return out, nil
}

// ListWebhookSubscriptions implements notificationv1.NotificationServiceServer.
func (s *GRPC) ListWebhookSubscriptions(ctx context.Context, _ *notificationv1.ListWebhookSubscriptionsRequest) (*notificationv1.ListWebhookSubscriptionsResponse, error) {
	list, err := s.app.ListWebhookSubscriptions(ctx, principal.CallerFrom(ctx))
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &notificationv1.ListWebhookSubscriptionsResponse{}
	for _, sub := range list {
		resp.Subscriptions = append(resp.Subscriptions, subscriptionProto(sub))
	}
	return resp, nil
}

// DeleteWebhookSubscription implements notificationv1.NotificationServiceServer.
func (s *GRPC) DeleteWebhookSubscription(ctx context.Context, req *notificationv1.DeleteWebhookSubscriptionRequest) (*notificationv1.DeleteWebhookSubscriptionResponse, error) {
	if err := s.app.DeleteWebhookSubscription(ctx, principal.CallerFrom(ctx), req.GetSubscriptionId()); err != nil {
		return nil, toStatus(err)
	}
	return &notificationv1.DeleteWebhookSubscriptionResponse{}, nil
}

// ListDeliveries implements notificationv1.NotificationServiceServer.
func (s *GRPC) ListDeliveries(ctx context.Context, req *notificationv1.ListDeliveriesRequest) (*notificationv1.ListDeliveriesResponse, error) {
	list, next, err := s.app.ListDeliveries(ctx, principal.CallerFrom(ctx), req.GetSubscriptionId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &notificationv1.ListDeliveriesResponse{NextPageToken: next}
	for _, d := range list {
		resp.Deliveries = append(resp.Deliveries, deliveryProto(d))
	}
	return resp, nil
}

// ResendDelivery implements notificationv1.NotificationServiceServer.
func (s *GRPC) ResendDelivery(ctx context.Context, req *notificationv1.ResendDeliveryRequest) (*notificationv1.Delivery, error) {
	d, err := s.app.ResendDelivery(ctx, principal.CallerFrom(ctx), req.GetDeliveryId())
	if err != nil {
		return nil, toStatus(err)
	}
	return deliveryProto(d), nil
}

// WatchOrder implements notificationv1.NotificationServiceServer.
func (s *GRPC) WatchOrder(req *notificationv1.WatchOrderRequest, stream notificationv1.NotificationService_WatchOrderServer) error {
	ctx := stream.Context()
	err := s.app.WatchOrder(ctx, principal.CallerFrom(ctx), req.GetOrderId(), app.Watch{
		// The headers tell the client the watch was accepted before any update exists (the
		// gateway answers its HTTP status on them).
		Ready: func() error { return stream.SendHeader(nil) },
		Send: func(u app.StatusUpdate) error {
			return stream.Send(&notificationv1.OrderStatusUpdate{OrderId: u.OrderID, PaymentId: u.PaymentID,
				Status: string(u.Status), OccurredAt: timestamppb.New(u.OccurredAt)})
		},
	})
	if err != nil {
		return toStatus(err)
	}
	return nil
}

// errorCodes is the one table from domain and use-case errors to gRPC codes.
var errorCodes = []grpcserver.ErrorCode{
	{Err: notice.ErrEmptyUserID, Code: codes.InvalidArgument},
	{Err: notice.ErrInvalidOrderID, Code: codes.InvalidArgument},
	{Err: app.ErrBadPageSize, Code: codes.InvalidArgument},
	{Err: app.ErrBadPageToken, Code: codes.InvalidArgument},
	{Err: delivery.ErrInvalidURL, Code: codes.InvalidArgument},
	{Err: delivery.ErrSecretTooShort, Code: codes.InvalidArgument},
	{Err: delivery.ErrTooLong, Code: codes.InvalidArgument},
	{Err: delivery.ErrInvalidID, Code: codes.InvalidArgument},
	{Err: delivery.ErrSubscriptionNotFound, Code: codes.NotFound},
	{Err: delivery.ErrDeliveryNotFound, Code: codes.NotFound},
	{Err: delivery.ErrSubscriptionDeleted, Code: codes.FailedPrecondition},
	{Err: app.ErrNotYours, Code: codes.PermissionDenied},
	{Err: app.ErrMerchantOnly, Code: codes.PermissionDenied},
	{Err: app.ErrOrderNotFound, Code: codes.NotFound},
	{Err: app.ErrTooManyWatches, Code: codes.ResourceExhausted},
	{Err: app.ErrOrdersUnavailable, Code: codes.Unavailable},
}

func toStatus(err error) error { return grpcserver.ToStatus(errorCodes, err) }

func subscriptionProto(s *delivery.Subscription) *notificationv1.WebhookSubscription {
	return &notificationv1.WebhookSubscription{SubscriptionId: s.ID, Url: s.URL, Description: s.Description,
		CreatedAt: timestamppb.New(s.CreatedAt)}
}

func deliveryProto(d *delivery.Delivery) *notificationv1.Delivery {
	out := &notificationv1.Delivery{DeliveryId: d.ID, SubscriptionId: d.SubscriptionID, EventId: d.EventID,
		Status: notificationv1.DeliveryStatus(d.Status), Attempts: int32(d.Attempts),
		NextAttemptAt: optTime(d.NextAttemptAt), DeliveredAt: optTime(d.DeliveredAt)}
	for _, a := range d.Log {
		out.AttemptLog = append(out.AttemptLog, &notificationv1.DeliveryAttempt{Attempt: int32(a.N),
			HttpStatus: int32(a.HTTPStatus), Error: a.Error, LatencyMs: a.Latency.Milliseconds(), At: timestamppb.New(a.At)})
	}
	return out
}

func optTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
