package service_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/notification/service"
)

const (
	waitFor = 20 * time.Second
	queue   = "paysuite.notification.payment-results"
	secret  = "whsec_test_0123456789"
)

type env struct {
	t     *testing.T
	stack *testkit.Stack
	cfg   service.Config
}

func newEnv(t *testing.T) *env {
	t.Helper()
	stack := testkit.NewStack(t)
	return &env{t: t, stack: stack, cfg: service.Config{
		GRPCAddr:          testkit.FreeAddr(t),
		TLS:               stack.TLS(tlsx.Notification),
		MySQLDSN:          stack.MySQLDSN(service.Name),
		AMQPURL:           stack.AMQPURL(service.Name),
		PaymentBrokerUser: stack.BrokerUser("payment"),
		SnowflakeNode:     1,
		WebhookTimeScale:  1,
		WebhookTimeout:    5 * time.Second,
		WatchPoll:         200 * time.Millisecond,
		WebhookSecretKey:  testkit.SecretKey(t),
		// The receivers these tests run listen on loopback.
		WebhookAllowPrivate: true,
	}}
}

// start runs the service in-process and returns a client once it is healthy, and a stop func
// that cancels it and waits for it to drain (also run at cleanup).
func (e *env) start() (notificationv1.NotificationServiceClient, func()) {
	e.t.Helper()
	stop := testkit.Start(e.t, func(ctx context.Context) error { return service.Run(ctx, e.cfg, testkit.Logger(e.t)) })
	conn := e.stack.Dial(tlsx.Notification, e.cfg.GRPCAddr)
	// Healthy is not yet consuming: an event published before the queue is bound is dropped.
	testkit.WaitForConsumer(e.t, e.stack.AdminAMQPURL(), queue)
	return notificationv1.NewNotificationServiceClient(conn), stop
}

// payment publishes to the results fanout as the payment service's broker user.
func (e *env) payment() *publisher { return newPublisher(e.t, e.stack.AMQPURL("payment")) }

// publisher sends PaymentResult events to the fanout as the payment service's relay does.
type publisher struct{ *testkit.Publisher }

func newPublisher(t *testing.T, url string) *publisher {
	return &publisher{testkit.NewPublisher(t, url, amqpx.PaymentResultsExchange)}
}

// publish sends raw bytes (e.g. an undecodable message) as a PaymentResult.
func (p *publisher) publish(messageID string, body []byte) {
	p.Publish(messageID, "paysuite.events.v1.PaymentResult", body)
}

func (p *publisher) event(ev *eventsv1.PaymentResult) { p.PublishProto(ev.GetEventId(), ev) }

// eventAs publishes ev under another message id (a duplicate the broker-level dedupe cannot see).
func (p *publisher) eventAs(messageID string, ev *eventsv1.PaymentResult) {
	p.PublishProto(messageID, ev)
}

func (p *publisher) parked() int { return p.Messages(amqpx.ParkingQueue(queue)) }

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func succeeded(eventID, user string, order, payment int64) *eventsv1.PaymentResult {
	return &eventsv1.PaymentResult{EventId: eventID, Type: eventsv1.PaymentResultType_PAYMENT_SUCCEEDED, OrderId: order,
		PaymentId: payment, UserId: user, Channel: paymentv1.Channel_ALIPAY_QR, AmountFen: 1234,
		ProviderTradeNo: "2026030122001", OccurredAt: timestamppb.New(t0),
		Items: []*eventsv1.PaymentResultItem{{SkuId: "c-go", Title: "Go", Kind: orderv1.SkuKind_COURSE, Quantity: 1, UnitPriceFen: 1234}}}
}

func refunded(eventID, user string, order, payment int64) *eventsv1.PaymentResult {
	ev := succeeded(eventID, user, order, payment)
	ev.Type = eventsv1.PaymentResultType_PAYMENT_REFUNDED
	ev.RefundId, ev.RefundAmountFen, ev.RefundedTotalFen, ev.FullRefund = 9, 1234, 1234, true
	ev.Reason = "USER_REQUEST"
	ev.OccurredAt = timestamppb.New(t0.Add(time.Minute))
	return ev
}

func notifications(t *testing.T, c notificationv1.NotificationServiceClient, user string) []*notificationv1.Notification {
	t.Helper()
	resp, err := c.ListUserNotifications(context.Background(), &notificationv1.ListUserNotificationsRequest{UserId: user, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetNotifications()
}

func deliveries(t *testing.T, c notificationv1.NotificationServiceClient, sub int64) []*notificationv1.Delivery {
	t.Helper()
	resp, err := c.ListDeliveries(context.Background(), &notificationv1.ListDeliveriesRequest{SubscriptionId: sub, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetDeliveries()
}

func subscribe(t *testing.T, c notificationv1.NotificationServiceClient, url string) int64 {
	t.Helper()
	sub, err := c.CreateWebhookSubscription(context.Background(), &notificationv1.CreateWebhookSubscriptionRequest{
		Url: url, Secret: secret, Description: "test receiver"})
	if err != nil {
		t.Fatal(err)
	}
	return sub.GetSubscriptionId()
}

// drain publishes a marker event for another user and waits until that user is told: the
// consumer handles one message at a time in broker order, so everything before it is handled.
func drain(t *testing.T, p *publisher, c notificationv1.NotificationServiceClient) {
	t.Helper()
	marker := testkit.UniqueName("marker_")
	p.event(succeeded(marker, marker, 1, 1))
	testkit.Eventually(t, waitFor, func() bool { return len(notifications(t, c, marker)) == 1 },
		"marker event %s never processed", marker)
}

// receiver is a merchant endpoint answering a scripted series of status codes (the last repeats).
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	codes []int
	reqs  []received
}

type received struct {
	body      []byte
	signature string
	eventID   string
	at        time.Time
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, received{body: body, signature: req.Header.Get("Paysuite-Signature"),
			eventID: req.Header.Get("Paysuite-Event-Id"), at: time.Now()})
		code := r.codes[min(len(r.reqs), len(r.codes))-1]
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) setCodes(codes ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.codes = append(make([]int, len(r.reqs)), codes...)
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

func (r *receiver) forEvent(id string) []received {
	var out []received
	for _, q := range r.received() {
		if q.eventID == id {
			out = append(out, q)
		}
	}
	return out
}
