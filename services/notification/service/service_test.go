package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/testkit"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
	"github.com/paysuite/paysuite/services/notification/webhook"
)

func TestEachResultIsToldOnceToTheUserAndTheMerchant(t *testing.T) {
	e := newEnv(t)
	c, _ := e.start()
	p := e.payment()
	hook := newReceiver(t, 200)
	sub := subscribe(t, c, hook.URL+"/paysuite")

	paid := succeeded("evt-1", "alice", 123, 456)
	p.event(paid)
	p.event(paid)                  // redelivered with the same message id
	p.eventAs("evt-1-again", paid) // and re-published under another id: the event id still dedupes
	drain(t, p, c)

	got := notifications(t, c, "alice")
	if len(got) != 1 || got[0].GetMessage() != "Payment of ¥12.34 for order 123 succeeded" ||
		got[0].GetKind() != "PAYMENT_SUCCEEDED" || got[0].GetEventId() != "evt-1" || got[0].GetPaymentId() != 456 {
		t.Fatalf("notifications = %v", got)
	}
	testkit.Eventually(t, waitFor, func() bool { return len(hook.forEvent("evt-1")) == 1 }, "webhook for evt-1 not received")
	var forEvent []*notificationv1.Delivery
	for _, d := range deliveries(t, c, sub) {
		if d.GetEventId() == "evt-1" {
			forEvent = append(forEvent, d)
		}
	}
	if len(forEvent) != 1 {
		t.Fatalf("deliveries of evt-1 = %v, want one", forEvent)
	}

	t.Run("the webhook body is the signed result as JSON", func(t *testing.T) {
		req := hook.forEvent("evt-1")[0]
		var body map[string]any
		if err := json.Unmarshal(req.body, &body); err != nil {
			t.Fatalf("body %s: %v", req.body, err)
		}
		if body["type"] != "PAYMENT_SUCCEEDED" || body["eventId"] != "evt-1" || body["orderId"] != "123" || body["amountFen"] != "1234" {
			t.Fatalf("body = %s", req.body)
		}
		if err := webhook.Verify(secret, req.signature, req.body, 5*time.Minute, time.Now()); err != nil {
			t.Fatalf("signature does not verify with the subscription's secret: %v", err)
		}
		if err := webhook.Verify("another_secret_0123456", req.signature, req.body, 5*time.Minute, time.Now()); !errors.Is(err, webhook.ErrSignatureMismatch) {
			t.Fatalf("verify with another secret: %v", err)
		}
		if err := webhook.Verify(secret, req.signature, req.body, 5*time.Minute, req.at.Add(10*time.Minute)); !errors.Is(err, webhook.ErrTimestampExpired) {
			t.Fatalf("verify 10 minutes later: %v", err)
		}
	})

	t.Run("a full refund is told", func(t *testing.T) {
		p.event(refunded("evt-2", "alice", 123, 456))
		testkit.Eventually(t, waitFor, func() bool { return len(notifications(t, c, "alice")) == 2 }, "refund not told")
		newest := notifications(t, c, "alice")[0]
		if newest.GetKind() != "PAYMENT_REFUNDED" || newest.GetMessage() != "Payment of ¥12.34 for order 123 was refunded in full" {
			t.Fatalf("newest notification = %v", newest)
		}
	})
}

func TestWebhookRetriedUntilDelivered(t *testing.T) {
	e := newEnv(t)
	e.cfg.WebhookTimeScale = 0.001 // 15s, 1m … become 15ms, 60ms …
	c, _ := e.start()
	p := e.payment()
	hook := newReceiver(t, 500, 500, 200)
	sub := subscribe(t, c, hook.URL)

	p.event(succeeded("evt-r", "dave", 7, 8))
	testkit.Eventually(t, waitFor, func() bool {
		ds := deliveries(t, c, sub)
		return len(ds) == 1 && ds[0].GetStatus() == notificationv1.DeliveryStatus_DELIVERED
	}, "delivery never DELIVERED")

	d := deliveries(t, c, sub)[0]
	if d.GetAttempts() != 3 || len(d.GetAttemptLog()) != 3 || d.GetDeliveredAt() == nil || d.GetNextAttemptAt() != nil {
		t.Fatalf("delivery = %v", d)
	}
	for i, want := range []int32{500, 500, 200} {
		a := d.GetAttemptLog()[i]
		if a.GetAttempt() != int32(i+1) || a.GetHttpStatus() != want || (want == 500) != (a.GetError() != "") || a.GetAt() == nil {
			t.Errorf("attempt %d = %v, want HTTP %d", i+1, a, want)
		}
	}
	reqs := hook.received()
	if len(reqs) != 3 {
		t.Fatalf("receiver saw %d requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		if err := webhook.Verify(secret, r.signature, r.body, time.Minute, time.Now()); err != nil {
			t.Errorf("attempt not signed: %v", err)
		}
		if string(r.body) != string(reqs[0].body) {
			t.Errorf("retries must send the same body: %s vs %s", r.body, reqs[0].body)
		}
	}
}

func TestWebhookFailsAfterTheLastAttemptAndCanBeResent(t *testing.T) {
	e := newEnv(t)
	e.cfg.WebhookTimeScale = 0.00001 // the whole 8-attempt schedule in about a second
	c, _ := e.start()
	p := e.payment()
	hook := newReceiver(t, 503)
	sub := subscribe(t, c, hook.URL)

	p.event(succeeded("evt-f", "erin", 9, 10))
	testkit.Eventually(t, waitFor, func() bool {
		ds := deliveries(t, c, sub)
		return len(ds) == 1 && ds[0].GetStatus() == notificationv1.DeliveryStatus_FAILED
	}, "delivery never FAILED")
	d := deliveries(t, c, sub)[0]
	if d.GetAttempts() != 8 || len(d.GetAttemptLog()) != 8 {
		t.Fatalf("failed delivery = %v, want 8 attempts", d)
	}

	hook.setCodes(204)
	if _, err := c.ResendDelivery(context.Background(), &notificationv1.ResendDeliveryRequest{DeliveryId: d.GetDeliveryId()}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, waitFor, func() bool {
		return deliveries(t, c, sub)[0].GetStatus() == notificationv1.DeliveryStatus_DELIVERED
	}, "resent delivery never DELIVERED")
	if d := deliveries(t, c, sub)[0]; d.GetAttempts() != 9 || d.GetAttemptLog()[8].GetHttpStatus() != 204 {
		t.Fatalf("after resend = %v", d)
	}
	_, err := c.ResendDelivery(context.Background(), &notificationv1.ResendDeliveryRequest{DeliveryId: 42})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("resend unknown delivery: %v", err)
	}
}

func TestPendingWebhookResumesAfterRestart(t *testing.T) {
	e := newEnv(t)
	e.cfg.WebhookTimeScale = 0.2 // first retry after 3s: the restart happens before it
	c, stop := e.start()
	p := e.payment()
	hook := newReceiver(t, 500, 200)
	sub := subscribe(t, c, hook.URL)

	p.event(succeeded("evt-restart", "frank", 11, 12))
	testkit.Eventually(t, waitFor, func() bool { return len(hook.received()) >= 1 }, "first attempt never made")
	stop()

	c, _ = e.start()
	testkit.Eventually(t, waitFor, func() bool {
		ds := deliveries(t, c, sub)
		return len(ds) == 1 && ds[0].GetStatus() == notificationv1.DeliveryStatus_DELIVERED
	}, "pending delivery not resumed after restart")
	if n := len(hook.received()); n != 2 {
		t.Fatalf("receiver saw %d requests, want 2", n)
	}
}

func TestUndecodableMessageIsParked(t *testing.T) {
	e := newEnv(t)
	c, _ := e.start()
	p := e.payment()

	p.publish("garbage-1", []byte("\xff\xff\xff not protobuf"))
	bad := succeeded("no-type", "gina", 1, 2)
	bad.Type = 0
	p.event(bad)
	testkit.Eventually(t, waitFor, func() bool { return p.parked() == 2 }, "poison messages not parked")
	drain(t, p, c)
	if n := notifications(t, c, "gina"); len(n) != 0 {
		t.Fatalf("an invalid event was told: %v", n)
	}
}

func TestEventsPublishedWhileDownAreProcessedAfterStart(t *testing.T) {
	e := newEnv(t)
	_, stop := e.start() // declares the durable queue, as any deployed service has
	stop()

	p := e.payment()
	for i := range 5 {
		p.event(succeeded("down-"+string(rune('a'+i)), "hank", int64(100+i), int64(200+i)))
	}
	c, _ := e.start()
	testkit.Eventually(t, waitFor, func() bool { return len(notifications(t, c, "hank")) == 5 },
		"not every event published while the service was down was told")
}

func TestWatchOrderStreamsTheLatestStatusThenChanges(t *testing.T) {
	e := newEnv(t)
	c, _ := e.start()
	p := e.payment()

	closedFirst := succeeded("evt-w1", "ivy", 555, 665)
	closedFirst.Type = eventsv1.PaymentResultType_PAYMENT_CLOSED
	p.event(closedFirst)
	testkit.Eventually(t, waitFor, func() bool { return len(notifications(t, c, "ivy")) == 1 }, "event not recorded")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.WatchOrder(ctx, &notificationv1.WatchOrderRequest{OrderId: 555})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if first.GetOrderId() != 555 || first.GetPaymentId() != 665 || first.GetStatus() != "PAYMENT_CLOSED" {
		t.Fatalf("first update = %v", first)
	}
	p.event(succeeded("evt-w2", "ivy", 555, 666)) // a second attempt is paid
	next, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if next.GetStatus() != "PAYMENT_SUCCEEDED" || next.GetPaymentId() != 666 {
		t.Fatalf("next update = %v", next)
	}
	// Paid is final: the stream ends by itself, nothing held open.
	if u, err := stream.Recv(); err != io.EOF {
		t.Fatalf("after PAYMENT_SUCCEEDED: %v, %v; want the stream to end", u, err)
	}

	// A stream the client leaves is cancelled.
	p.event(closedFirst)
	ctx2, cancel2 := context.WithCancel(context.Background())
	other, err := c.WatchOrder(ctx2, &notificationv1.WatchOrderRequest{OrderId: 777})
	if err != nil {
		t.Fatal(err)
	}
	cancel2()
	if _, err := other.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("after cancel: %v", err)
	}

	bad, err := c.WatchOrder(context.Background(), &notificationv1.WatchOrderRequest{})
	if err == nil {
		_, err = bad.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("watch without order id: %v", err)
	}
}

func TestBadRequestsAreInvalidArgumentAndChangeNothing(t *testing.T) {
	e := newEnv(t)
	c, _ := e.start()
	ctx := context.Background()
	create := func(url, secret string) error {
		_, err := c.CreateWebhookSubscription(ctx, &notificationv1.CreateWebhookSubscriptionRequest{Url: url, Secret: secret})
		return err
	}
	for name, call := range map[string]func() error{
		"ftp url":      func() error { return create("ftp://shop.example/h", secret) },
		"relative url": func() error { return create("/hooks", secret) },
		"short secret": func() error { return create("https://shop.example/h", "short") },
		"no user": func() error {
			_, err := c.ListUserNotifications(ctx, &notificationv1.ListUserNotificationsRequest{})
			return err
		},
		"bad token": func() error {
			_, err := c.ListUserNotifications(ctx, &notificationv1.ListUserNotificationsRequest{UserId: "u", PageToken: "!!"})
			return err
		},
		"no sub id": func() error { _, err := c.ListDeliveries(ctx, &notificationv1.ListDeliveriesRequest{}); return err },
		"delete no id": func() error {
			_, err := c.DeleteWebhookSubscription(ctx, &notificationv1.DeleteWebhookSubscriptionRequest{})
			return err
		},
		"resend no id": func() error { _, err := c.ResendDelivery(ctx, &notificationv1.ResendDeliveryRequest{}); return err },
	} {
		if code := status.Code(call()); code != codes.InvalidArgument {
			t.Errorf("%s: code %v, want InvalidArgument", name, code)
		}
	}
	subs, err := c.ListWebhookSubscriptions(ctx, &notificationv1.ListWebhookSubscriptionsRequest{})
	if err != nil || len(subs.GetSubscriptions()) != 0 {
		t.Fatalf("bad input created subscriptions: %v %v", subs, err)
	}

	id := subscribe(t, c, "https://shop.example/hooks")
	if _, err := c.DeleteWebhookSubscription(ctx, &notificationv1.DeleteWebhookSubscriptionRequest{SubscriptionId: id}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteWebhookSubscription(ctx, &notificationv1.DeleteWebhookSubscriptionRequest{SubscriptionId: id})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("second delete: %v", err)
	}
}

func TestListUserNotificationsPagesNewestFirst(t *testing.T) {
	e := newEnv(t)
	c, _ := e.start()
	p := e.payment()
	for i := range 5 {
		p.event(succeeded("page-"+string(rune('a'+i)), "jack", int64(300+i), int64(400+i)))
	}
	testkit.Eventually(t, waitFor, func() bool { return len(notifications(t, c, "jack")) == 5 }, "events not told")

	var orders []int64
	token := ""
	for range 3 {
		resp, err := c.ListUserNotifications(context.Background(), &notificationv1.ListUserNotificationsRequest{
			UserId: "jack", PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range resp.GetNotifications() {
			orders = append(orders, n.GetOrderId())
		}
		token = resp.GetNextPageToken()
	}
	if token != "" || len(orders) != 5 || orders[0] != 304 || orders[4] != 300 {
		t.Fatalf("pages gave orders %v (last token %q), want 304…300", orders, token)
	}
}

// TestWatchOrderEndsAfterItsMaximumAge: a stream on an order that never finishes is closed by
// the service once NOTIFICATION_WATCH_MAX_AGE has passed.
func TestWatchOrderEndsAfterItsMaximumAge(t *testing.T) {
	e := newEnv(t)
	e.cfg.WatchMaxAge = 300 * time.Millisecond
	c, _ := e.start()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	stream, err := c.WatchOrder(ctx, &notificationv1.WatchOrderRequest{OrderId: 4242})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := stream.Recv(); err != io.EOF {
		t.Fatalf("an order with no news: %v, %v; want the stream to end by itself (ctx %v)", u, err, ctx.Err())
	}
}
