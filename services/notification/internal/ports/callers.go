package ports

import (
	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/tlsx"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
)

// Callers is who may call each NotificationService RPC, by the SPIFFE name of their client
// certificate; admin may call all of them, and anyone else gets PermissionDenied. The webhook
// administration is for merchant staff, who reach it through the gateway with the merchant
// role (which the service checks on the end user) or as operators with admin.
func Callers() grpcauth.Policy {
	return grpcauth.Policy{
		notificationv1.NotificationService_ListUserNotifications_FullMethodName:     grpcauth.By(tlsx.Gateway),
		notificationv1.NotificationService_WatchOrder_FullMethodName:                grpcauth.By(tlsx.Gateway),
		notificationv1.NotificationService_CreateWebhookSubscription_FullMethodName: grpcauth.By(tlsx.Gateway),
		notificationv1.NotificationService_ListWebhookSubscriptions_FullMethodName:  grpcauth.By(tlsx.Gateway),
		notificationv1.NotificationService_DeleteWebhookSubscription_FullMethodName: grpcauth.By(tlsx.Gateway),
		notificationv1.NotificationService_ListDeliveries_FullMethodName:            grpcauth.By(tlsx.Gateway),
		notificationv1.NotificationService_ResendDelivery_FullMethodName:            grpcauth.By(tlsx.Gateway),
	}
}
