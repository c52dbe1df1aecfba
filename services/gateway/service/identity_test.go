package service_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
	coursev1 "github.com/paysuite/paysuite/proto/gen/paysuite/course/v1"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	courseservice "github.com/paysuite/paysuite/services/course/service"
	notificationservice "github.com/paysuite/paysuite/services/notification/service"
	orderservice "github.com/paysuite/paysuite/services/order/service"
	paymentservice "github.com/paysuite/paysuite/services/payment/service"
)

// protected is what a forged call could change: an unpaid order with a payment attempt, the
// stock, webhook subscriptions, the buyer's enrolments and notifications.
type protected struct {
	t        *testing.T
	s        *stack
	order    *orderv1.Order
	payment  *paymentv1.Payment
	orders   orderv1.OrderServiceClient
	payments paymentv1.PaymentServiceClient
}

func newProtected(t *testing.T, s *stack) *protected {
	t.Helper()
	ctx := context.Background()
	p := &protected{t: t, s: s,
		orders:   orderv1.NewOrderServiceClient(s.infra.Dial(tlsx.Order, s.grpcAddrs[tlsx.Order])),
		payments: paymentv1.NewPaymentServiceClient(s.infra.Dial(tlsx.Payment, s.grpcAddrs[tlsx.Payment])),
	}
	var err error
	if p.order, err = p.orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{UserId: "buyer", RequestId: "r1",
		Items: []*orderv1.CreateOrderItem{{SkuId: "course-payments-101", Quantity: 1}, {SkuId: "goods-gopher-mug", Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	if p.payment, err = p.payments.CreatePayment(ctx, &paymentv1.CreatePaymentRequest{OrderId: p.order.GetOrderId(),
		Channel: paymentv1.Channel_ALIPAY_QR}); err != nil {
		t.Fatal(err)
	}
	return p
}

// state summarises everything protected, as admin sees it.
func (p *protected) state() string {
	p.t.Helper()
	ctx := context.Background()
	o, err := p.orders.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: p.order.GetOrderId()})
	if err != nil {
		p.t.Fatal(err)
	}
	skus, err := p.orders.ListSkus(ctx, &orderv1.ListSkusRequest{})
	if err != nil {
		p.t.Fatal(err)
	}
	var mugs int64
	for _, k := range skus.GetSkus() {
		if k.GetSkuId() == "goods-gopher-mug" {
			mugs = k.GetStock()
		}
	}
	pays, err := p.payments.ListOrderPayments(ctx, &paymentv1.ListOrderPaymentsRequest{OrderId: p.order.GetOrderId()})
	if err != nil {
		p.t.Fatal(err)
	}
	notif := notificationv1.NewNotificationServiceClient(p.s.infra.Dial(tlsx.Notification, p.s.grpcAddrs[tlsx.Notification]))
	subs, err := notif.ListWebhookSubscriptions(ctx, &notificationv1.ListWebhookSubscriptionsRequest{})
	if err != nil {
		p.t.Fatal(err)
	}
	notes, err := notif.ListUserNotifications(ctx, &notificationv1.ListUserNotificationsRequest{UserId: "buyer"})
	if err != nil {
		p.t.Fatal(err)
	}
	courses := coursev1.NewCourseServiceClient(p.s.infra.Dial(tlsx.Course, p.s.grpcAddrs[tlsx.Course]))
	enrolled, err := courses.ListUserEnrollments(ctx, &coursev1.ListUserEnrollmentsRequest{UserId: "buyer", IncludeRevoked: true})
	if err != nil {
		p.t.Fatal(err)
	}
	var paymentStates []string
	for _, x := range pays.GetPayments() {
		paymentStates = append(paymentStates, fmt.Sprint(x.GetPaymentId(), x.GetStatus(), x.GetRefundedFen()))
	}
	return fmt.Sprintf("order %s paid by %d refunded %d; mugs %d; payments %v; webhooks %d; notifications %d; enrolments %d",
		o.GetStatus(), o.GetPaymentId(), o.GetRefundedFen(), mugs, paymentStates, len(subs.GetSubscriptions()),
		len(notes.GetNotifications()), len(enrolled.GetEnrollments()))
}

// forgeries are real requests against the protected data, for the RPCs that change something.
func (p *protected) forgeries() map[string]proto.Message {
	id, total, now := p.order.GetOrderId(), p.order.GetTotalFen(), timestamppb.Now()
	return map[string]proto.Message{
		orderv1.OrderService_CreateOrder_FullMethodName: &orderv1.CreateOrderRequest{UserId: "buyer", RequestId: "r2",
			Items: []*orderv1.CreateOrderItem{{SkuId: "goods-gopher-mug", Quantity: 3}}},
		orderv1.OrderService_CancelOrder_FullMethodName:   &orderv1.CancelOrderRequest{OrderId: id},
		orderv1.OrderService_MarkOrderPaid_FullMethodName: &orderv1.MarkOrderPaidRequest{OrderId: id, PaymentId: p.payment.GetPaymentId(), AmountFen: total, PaidAt: now},
		orderv1.OrderService_BeginRefund_FullMethodName:   &orderv1.BeginRefundRequest{OrderId: id, RefundId: 1, AmountFen: total},
		orderv1.OrderService_FinishRefund_FullMethodName:  &orderv1.FinishRefundRequest{OrderId: id, RefundId: 1, RefundedTotalFen: total, RefundedAt: now},
		paymentv1.PaymentService_CreatePayment_FullMethodName: &paymentv1.CreatePaymentRequest{OrderId: id,
			Channel: paymentv1.Channel_WECHAT_NATIVE},
		paymentv1.PaymentService_ClosePayments_FullMethodName: &paymentv1.ClosePaymentsRequest{OrderId: id},
		paymentv1.PaymentService_SyncPayment_FullMethodName:   &paymentv1.SyncPaymentRequest{PaymentId: p.payment.GetPaymentId()},
		paymentv1.PaymentService_SyncRefund_FullMethodName:    &paymentv1.SyncRefundRequest{RefundId: 1},
		paymentv1.PaymentService_RefundPayment_FullMethodName: &paymentv1.RefundPaymentRequest{PaymentId: p.payment.GetPaymentId(),
			AmountFen: total, RequestId: "forged"},
		notificationv1.NotificationService_CreateWebhookSubscription_FullMethodName: &notificationv1.CreateWebhookSubscriptionRequest{
			Url: "http://127.0.0.1:9/hook", Secret: "0123456789abcdef0123"},
		notificationv1.NotificationService_WatchOrder_FullMethodName: &notificationv1.WatchOrderRequest{OrderId: id},
	}
}

type api struct {
	name    string
	desc    *grpc.ServiceDesc
	callers grpcauth.Policy
}

func apis() []api {
	return []api{
		{tlsx.Order, &orderv1.OrderService_ServiceDesc, orderservice.Callers()},
		{tlsx.Payment, &paymentv1.PaymentService_ServiceDesc, paymentservice.Callers()},
		{tlsx.Notification, &notificationv1.NotificationService_ServiceDesc, notificationservice.Callers()},
		{tlsx.Course, &coursev1.CourseService_ServiceDesc, courseservice.Callers()},
	}
}

// call makes one unary or server-streaming call of method with req on conn.
func call(conn *grpc.ClientConn, method string, stream bool, req proto.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !stream {
		return conn.Invoke(ctx, method, req, &emptypb.Empty{})
	}
	st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
	if err != nil {
		return err
	}
	if err := st.SendMsg(req); err != nil {
		return err
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	return st.RecvMsg(&emptypb.Empty{})
}

// Each service's certificate calling every RPC it is not listed for, with real requests where
// the RPC changes something: PermissionDenied every time, and nothing changed.
func TestEveryRPCRefusesTheCallersItDoesNotList(t *testing.T) {
	s := startStack(t)
	p := newProtected(t, s)
	before := p.state()
	forged := p.forgeries()
	refused := 0
	for _, a := range apis() {
		var methods []string
		streams := map[string]bool{}
		for _, m := range a.desc.Methods {
			methods = append(methods, "/"+a.desc.ServiceName+"/"+m.MethodName)
		}
		for _, m := range a.desc.Streams {
			full := "/" + a.desc.ServiceName + "/" + m.StreamName
			methods, streams[full] = append(methods, full), true
		}
		for _, caller := range tlsx.Names() {
			conn := s.infra.DialAs(caller, a.name, s.grpcAddrs[a.name])
			for _, method := range methods {
				if a.callers.Allows(method, caller) {
					continue
				}
				req, ok := forged[method]
				if !ok {
					req = &emptypb.Empty{}
				}
				if code := status.Code(call(conn, method, streams[method], req)); code != codes.PermissionDenied {
					t.Errorf("%s calling %s: %s, want PermissionDenied", caller, method, code)
				}
				refused++
			}
		}
	}
	// Every service-to-service RPC is refused to the other services' certificates.
	for _, critical := range []struct{ method, caller string }{
		{orderv1.OrderService_MarkOrderPaid_FullMethodName, tlsx.Course},
		{orderv1.OrderService_MarkOrderPaid_FullMethodName, tlsx.Gateway},
		{orderv1.OrderService_FinishRefund_FullMethodName, tlsx.Notification},
		{paymentv1.PaymentService_ClosePayments_FullMethodName, tlsx.Gateway},
		{paymentv1.PaymentService_SyncPayment_FullMethodName, tlsx.Gateway}, // operators only
		{paymentv1.PaymentService_SyncPayment_FullMethodName, tlsx.Order},
		{paymentv1.PaymentService_SyncRefund_FullMethodName, tlsx.Gateway},
		{notificationv1.NotificationService_CreateWebhookSubscription_FullMethodName, tlsx.Order},
	} {
		for _, a := range apis() {
			if _, ok := a.callers[critical.method]; ok && a.callers.Allows(critical.method, critical.caller) {
				t.Errorf("the callers table lets %s call %s", critical.caller, critical.method)
			}
		}
	}
	if refused < 50 {
		t.Fatalf("only %d refused calls tried: the matrix looks in the wrong place", refused)
	}
	if after := p.state(); after != before {
		t.Fatalf("refused calls changed something:\nbefore %s\nafter  %s", before, after)
	}
}

// The other side of the matrix: every gRPC call a service's adapters make is allowed by the
// callee's table (else it fails at run time with PermissionDenied, as the live stream did before
// notification was let call GetOrder). The gateway's calls are every /v1 route, walked with
// real tokens by TestEveryRouteAgainstEveryToken.
func TestEveryCallBetweenServicesIsAllowed(t *testing.T) {
	policies := map[string]grpcauth.Policy{}
	for _, a := range apis() {
		policies[a.name] = a.callers
	}
	for _, c := range []struct{ caller, callee, method string }{
		{tlsx.Order, tlsx.Payment, paymentv1.PaymentService_ClosePayments_FullMethodName}, // cancel closes trades
		{tlsx.Payment, tlsx.Order, orderv1.OrderService_GetOrder_FullMethodName},          // CreatePayment reads the order
		{tlsx.Payment, tlsx.Order, orderv1.OrderService_MarkOrderPaid_FullMethodName},     // a verified notify
		{tlsx.Payment, tlsx.Order, orderv1.OrderService_BeginRefund_FullMethodName},       // a refund starts
		{tlsx.Payment, tlsx.Order, orderv1.OrderService_FinishRefund_FullMethodName},      // a refund ends
		{tlsx.Notification, tlsx.Order, orderv1.OrderService_GetOrder_FullMethodName},     // whose order a live stream watches
	} {
		if !policies[c.callee].Allows(c.method, c.caller) {
			t.Errorf("%s calls %s, which %s's callers table refuses", c.caller, c.method, c.callee)
		}
	}
}

// Without a certificate of the suite's CA that is valid now, no connection gets through the
// handshake: plaintext, no client certificate, a foreign CA's, an expired one.
func TestServicePortsRefuseConnectionsWithoutAValidCertificate(t *testing.T) {
	s := startStack(t)
	p := newProtected(t, s)
	before := p.state()
	caFile := s.infra.TLS(tlsx.Admin).CA

	foreign := testkit.NewStack(t).TLS(tlsx.Admin)
	expiredCert, expiredKey, err := s.infra.CA().Issue(tlsx.Admin, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	expired := tlsx.Files{CA: caFile, Cert: filepath.Join(dir, "expired.pem"), Key: filepath.Join(dir, "expired-key.pem")}
	if err := os.WriteFile(expired.Cert, expiredCert, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(expired.Key, expiredKey, 0o600); err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)

	dialers := map[string]func(name, addr string) (*grpc.ClientConn, error){
		"plaintext": func(_, addr string) (*grpc.ClientConn, error) {
			return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		},
		"no client certificate": func(_, addr string) (*grpc.ClientConn, error) {
			return grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13})))
		},
		"a foreign CA's certificate": withFiles(t, tlsx.Files{CA: caFile, Cert: foreign.Cert, Key: foreign.Key}),
		"an expired certificate":     withFiles(t, expired),
	}
	markPaid := p.forgeries()[orderv1.OrderService_MarkOrderPaid_FullMethodName]
	for how, dial := range dialers {
		for name, addr := range s.grpcAddrs {
			conn, err := dial(name, addr)
			if err != nil {
				t.Fatal(err)
			}
			_, err = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
			if code := status.Code(err); code != codes.Unavailable {
				t.Errorf("%s to %s: %s (%v), want refused in the handshake (Unavailable)", how, name, code, err)
			}
			if name == tlsx.Order {
				err := call(conn, orderv1.OrderService_MarkOrderPaid_FullMethodName, false, markPaid)
				if code := status.Code(err); code != codes.Unavailable {
					t.Errorf("%s: MarkOrderPaid answered %s, want refused in the handshake", how, code)
				}
			}
			conn.Close()
		}
	}
	if after := p.state(); after != before {
		t.Fatalf("refused connections changed something:\nbefore %s\nafter  %s", before, after)
	}
}

func withFiles(t *testing.T, files tlsx.Files) func(name, addr string) (*grpc.ClientConn, error) {
	src, err := tlsx.Load(files, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	return func(name, addr string) (*grpc.ClientConn, error) { return grpcserver.Dial(addr, src, name) }
}
