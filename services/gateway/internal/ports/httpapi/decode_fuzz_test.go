package httpapi

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	coursev1 "github.com/paysuite/paysuite/proto/gen/paysuite/course/v1"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

// Every request type a gateway route decodes from JSON (the generated handlers' protoReq types).
var requestTypes = []func() proto.Message{
	func() proto.Message { return &orderv1.CreateOrderRequest{} },
	func() proto.Message { return &orderv1.CancelOrderRequest{} },
	func() proto.Message { return &orderv1.GetOrderRequest{} },
	func() proto.Message { return &orderv1.ListSkusRequest{} },
	func() proto.Message { return &orderv1.ListUserOrdersRequest{} },
	func() proto.Message { return &paymentv1.CreatePaymentRequest{} },
	func() proto.Message { return &paymentv1.GetPaymentRequest{} },
	func() proto.Message { return &paymentv1.GetRefundRequest{} },
	func() proto.Message { return &paymentv1.ListAnomaliesRequest{} },
	func() proto.Message { return &paymentv1.ListOrderPaymentsRequest{} },
	func() proto.Message { return &paymentv1.RefundPaymentRequest{} },
	func() proto.Message { return &notificationv1.CreateWebhookSubscriptionRequest{} },
	func() proto.Message { return &notificationv1.DeleteWebhookSubscriptionRequest{} },
	func() proto.Message { return &notificationv1.ListDeliveriesRequest{} },
	func() proto.Message { return &notificationv1.ListUserNotificationsRequest{} },
	func() proto.Message { return &notificationv1.ListWebhookSubscriptionsRequest{} },
	func() proto.Message { return &notificationv1.ResendDeliveryRequest{} },
	func() proto.Message { return &notificationv1.WatchOrderRequest{} },
	func() proto.Message { return &coursev1.HasAccessRequest{} },
	func() proto.Message { return &coursev1.ListUserEnrollmentsRequest{} },
}

// The gateway's JSON decoder (Marshaler) never panics on any body for any request type, and what
// it accepts survives its own encoder: decoding the re-encoded message gives the same message.
func FuzzGatewayDecodesEveryRequest(f *testing.F) {
	for i := range requestTypes {
		k := byte(i)
		f.Add(k, []byte(`{}`))
		f.Add(k, []byte(`{"userId":"u1","requestId":"r1","items":[{"skuId":"a","quantity":1}]}`))
		f.Add(k, []byte(`{"orderId":"123","channel":"WECHAT_NATIVE","amountFen":"100","requestId":"x"}`))
		f.Add(k, []byte(`{"orderId":1e400}`))
		f.Add(k, []byte(`{"channel":99,"url":"http://x","events":["PAYMENT_SUCCEEDED"]}`))
		f.Add(k, []byte(`{"requestID":"typo"}`))
		f.Add(k, []byte(`[`))
		f.Add(k, []byte("{\"userId\":\"\\ud800\"}"))
	}
	m := Marshaler()
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		newMsg := requestTypes[int(kind)%len(requestTypes)]
		msg := newMsg()
		if err := m.NewDecoder(bytes.NewReader(body)).Decode(msg); err != nil {
			return
		}
		out, err := m.Marshal(msg)
		if err != nil {
			t.Fatalf("%T: decoded %q but cannot encode it: %v", msg, body, err)
		}
		again := newMsg()
		if err := m.NewDecoder(bytes.NewReader(out)).Decode(again); err != nil {
			t.Fatalf("%T: own encoding %s does not decode: %v", msg, out, err)
		}
		if !proto.Equal(msg, again) {
			t.Fatalf("%T: %q decoded to %v, round trip %v", msg, body, msg, again)
		}
	})
}
