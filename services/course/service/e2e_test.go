package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
	coursev1 "github.com/paysuite/paysuite/proto/gen/paysuite/course/v1"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/course/service"
	notificationservice "github.com/paysuite/paysuite/services/notification/service"
	orderservice "github.com/paysuite/paysuite/services/order/service"
	paymentservice "github.com/paysuite/paysuite/services/payment/service"
	"github.com/paysuite/paysuite/services/sandbox/emulatortest"
)

// TestPayingACourseOrderThroughTheSandboxEnrolsAndTellsTheBuyer runs every service in-process:
// order → payment (Alipay QR at the sandbox) → buyer pays → notify → PaymentResult on the fanout
// → course enrolment and user notification.
func TestPayingACourseOrderThroughTheSandboxEnrolsAndTellsTheBuyer(t *testing.T) {
	log := testkit.Logger(t)
	sb := emulatortest.Start(t, 0.001, log)

	stack := testkit.NewStack(t)
	paymentUser := stack.BrokerUser(paymentservice.Name)
	payHTTP := testkit.FreeAddr(t)
	payCfg := paymentservice.Config{
		GRPCAddr: testkit.FreeAddr(t), HTTPAddr: payHTTP, MySQLDSN: stack.MySQLDSN(paymentservice.Name),
		AMQPURL: stack.AMQPURL(paymentservice.Name), TLS: stack.TLS(tlsx.Payment), SnowflakeNode: 2,
		OrderBrokerUser: stack.BrokerUser(orderservice.Name),
		OrderPayTimeout: 30 * time.Minute, ProviderTradeTimeout: 25 * time.Minute,
		NotifyBaseURL: "http://" + payHTTP, PollScale: 0.01, MerchantFile: sb.MerchantFile(),
		Alipay: paymentservice.AlipayConfig{BaseURL: sb.URL}, Wechat: paymentservice.WechatConfig{BaseURL: sb.URL},
	}
	orderCfg := orderservice.Config{
		GRPCAddr: testkit.FreeAddr(t), MySQLDSN: stack.MySQLDSN(orderservice.Name), PayTimeout: payCfg.OrderPayTimeout,
		SweepInterval: time.Hour, SweepGrace: time.Minute, PaymentTarget: payCfg.GRPCAddr, SnowflakeNode: 1,
		AMQPURL: stack.AMQPURL(orderservice.Name), TLS: stack.TLS(tlsx.Order), PaymentBrokerUser: paymentUser,
	}
	payCfg.OrderTarget = orderCfg.GRPCAddr
	courseCfg := service.Config{GRPCAddr: testkit.FreeAddr(t), MySQLDSN: stack.MySQLDSN(service.Name),
		AMQPURL: stack.AMQPURL(service.Name), TLS: stack.TLS(tlsx.Course), PaymentBrokerUser: paymentUser, SnowflakeNode: 3}
	notifyCfg := notificationservice.Config{GRPCAddr: testkit.FreeAddr(t), MySQLDSN: stack.MySQLDSN(notificationservice.Name),
		AMQPURL: stack.AMQPURL(notificationservice.Name), TLS: stack.TLS(tlsx.Notification), PaymentBrokerUser: paymentUser,
		SnowflakeNode: 4, WebhookSecretKey: testkit.SecretKey(t)}

	testkit.Go(t, func(ctx context.Context) error { return orderservice.Run(ctx, orderCfg, log) })
	testkit.Go(t, func(ctx context.Context) error { return paymentservice.Run(ctx, payCfg, log) })
	testkit.Go(t, func(ctx context.Context) error { return service.Run(ctx, courseCfg, log) })
	testkit.Go(t, func(ctx context.Context) error { return notificationservice.Run(ctx, notifyCfg, log) })
	orders := orderv1.NewOrderServiceClient(stack.Dial(tlsx.Order, orderCfg.GRPCAddr))
	payments := paymentv1.NewPaymentServiceClient(stack.Dial(tlsx.Payment, payCfg.GRPCAddr))
	courses := coursev1.NewCourseServiceClient(stack.Dial(tlsx.Course, courseCfg.GRPCAddr))
	notifications := notificationv1.NewNotificationServiceClient(stack.Dial(tlsx.Notification, notifyCfg.GRPCAddr))
	// Both consumers are subscribed before anything is published (Consume declares their queues).
	for _, q := range []string{queue, "paysuite.notification.payment-results"} {
		testkit.WaitForConsumer(t, stack.AdminAMQPURL(), q)
	}

	ctx := context.Background()
	user := testkit.UniqueName("buyer_")
	o, err := orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{UserId: user, RequestId: testkit.UniqueName("r"),
		Items: []*orderv1.CreateOrderItem{{SkuId: "course-payments-101", Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := payments.CreatePayment(ctx, &paymentv1.CreatePaymentRequest{OrderId: o.GetOrderId(), Channel: paymentv1.Channel_ALIPAY_QR})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]string{"qrCode": p.GetQrCode()})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(sb.URL+"/sandbox/pay", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sandbox pay: HTTP %d", resp.StatusCode)
	}

	testkit.Eventually(t, 30*time.Second, func() bool { return hasAccess(t, courses, user, "course-payments-101").GetHasAccess() },
		"the paid course never appeared in the buyer's enrolments")
	e := hasAccess(t, courses, user, "course-payments-101").GetEnrollment()
	if e.GetOrderId() != o.GetOrderId() || e.GetTitle() == "" {
		t.Fatalf("enrolment = %v", e)
	}
	want := "Payment of ¥" + "99.00 for order " + itoa(o.GetOrderId()) + " succeeded"
	testkit.Eventually(t, 30*time.Second, func() bool {
		list, err := notifications.ListUserNotifications(ctx, &notificationv1.ListUserNotificationsRequest{UserId: user})
		return err == nil && len(list.GetNotifications()) == 1 && list.GetNotifications()[0].GetMessage() == want
	}, "the buyer was never told %q", want)
}
