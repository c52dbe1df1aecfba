package service_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
	coursev1 "github.com/paysuite/paysuite/proto/gen/paysuite/course/v1"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/course/service"
)

const waitFor = 20 * time.Second

// env is one test's database prefix, vhost, identities and service configuration.
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
		TLS:               stack.TLS(tlsx.Course),
		MySQLDSN:          stack.MySQLDSN(service.Name),
		AMQPURL:           stack.AMQPURL(service.Name),
		PaymentBrokerUser: stack.BrokerUser("payment"),
		SnowflakeNode:     1,
	}}
}

// payment publishes to the results fanout as the payment service's broker user.
func (e *env) payment() *publisher { return newPublisher(e.t, e.stack.AMQPURL("payment")) }

// start runs the service in-process and returns a client once it is healthy, and a stop func
// that cancels it and waits for it to drain (also run at cleanup).
func (e *env) start() (coursev1.CourseServiceClient, func()) {
	e.t.Helper()
	stop := testkit.Start(e.t, func(ctx context.Context) error { return service.Run(ctx, e.cfg, testkit.Logger(e.t)) })
	conn := e.stack.Dial(tlsx.Course, e.cfg.GRPCAddr)
	// Healthy is not yet consuming: an event published before the queue is bound is dropped.
	testkit.WaitForConsumer(e.t, e.stack.AdminAMQPURL(), queue)
	return coursev1.NewCourseServiceClient(conn), stop
}

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

// parked returns how many messages wait in queue's parking queue.
func (p *publisher) parked(queue string) int { return p.Messages(amqpx.ParkingQueue(queue)) }

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func course(id, title string) *eventsv1.PaymentResultItem {
	return &eventsv1.PaymentResultItem{SkuId: id, Title: title, Kind: orderv1.SkuKind_COURSE, Quantity: 1, UnitPriceFen: 9900}
}

func goods(id string) *eventsv1.PaymentResultItem {
	return &eventsv1.PaymentResultItem{SkuId: id, Title: "Mug", Kind: orderv1.SkuKind_GOODS, Quantity: 2, UnitPriceFen: 1500}
}

func succeeded(eventID, user string, order, payment int64, at time.Time, items ...*eventsv1.PaymentResultItem) *eventsv1.PaymentResult {
	return &eventsv1.PaymentResult{EventId: eventID, Type: eventsv1.PaymentResultType_PAYMENT_SUCCEEDED, OrderId: order,
		PaymentId: payment, UserId: user, AmountFen: 12900, Items: items, OccurredAt: timestamppb.New(at)}
}

func refunded(eventID, user string, order, payment int64, at time.Time, full bool, items ...*eventsv1.PaymentResultItem) *eventsv1.PaymentResult {
	ev := succeeded(eventID, user, order, payment, at, items...)
	ev.Type = eventsv1.PaymentResultType_PAYMENT_REFUNDED
	ev.RefundId = payment * 10
	ev.RefundAmountFen = 12900
	ev.RefundedTotalFen = 12900
	ev.FullRefund = full
	if !full {
		ev.RefundAmountFen, ev.RefundedTotalFen = 100, 100
	}
	return ev
}

func hasAccess(t *testing.T, c coursev1.CourseServiceClient, user, courseID string) *coursev1.HasAccessResponse {
	t.Helper()
	resp, err := c.HasAccess(context.Background(), &coursev1.HasAccessRequest{UserId: user, CourseId: courseID})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func enrollments(t *testing.T, c coursev1.CourseServiceClient, user string, includeRevoked bool) []*coursev1.Enrollment {
	t.Helper()
	resp, err := c.ListUserEnrollments(context.Background(), &coursev1.ListUserEnrollmentsRequest{UserId: user, IncludeRevoked: includeRevoked})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetEnrollments()
}

// sync publishes a marker enrolment for another user and waits for it: the consumer handles
// one message at a time in broker order, so everything published before has been handled.
func sync(t *testing.T, p *publisher, c coursev1.CourseServiceClient) {
	t.Helper()
	marker := testkit.UniqueName("marker_")
	p.event(succeeded(marker, marker, 1, 1, t0, course("c-marker", "Marker")))
	testkit.Eventually(t, waitFor, func() bool { return hasAccess(t, c, marker, "c-marker").GetHasAccess() },
		"marker event %s never processed", marker)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
