package service_test

import (
	"context"
	"crypto/x509"
	"database/sql"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/pkg/principal/grpcprincipal"
	"github.com/paysuite/paysuite/pkg/testkit"
	notificationv1 "github.com/paysuite/paysuite/proto/gen/paysuite/notification/v1"
	"github.com/paysuite/paysuite/services/notification/service"
	"github.com/paysuite/paysuite/services/notification/webhook"
)

// countingListener accepts TCP connections on loopback and counts them: the place a webhook
// turned against our own network would land.
func countingListener(t *testing.T) (addr string, accepted *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted = &atomic.Int32{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return l.Addr().String(), accepted
}

// TestWebhooksCannotBeTurnedInward: with WEBHOOK_ALLOW_PRIVATE off, subscriptions to loopback,
// private, metadata and loopback-resolving addresses, and to an endpoint that redirects to
// loopback, all end as refused attempts with a clear error; nothing reaches the loopback
// listener. Plain http is refused at subscription.
func TestWebhooksCannotBeTurnedInward(t *testing.T) {
	target, accepted := countingListener(t)
	_, port, _ := net.SplitHostPort(target)
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+target+"/stolen", http.StatusFound)
	}))
	defer redirector.Close()
	roots := x509.NewCertPool()
	roots.AddCert(redirector.Certificate())

	e := newEnv(t)
	e.cfg.WebhookAllowPrivate = false
	e.cfg.WebhookRootCAs = roots
	// The redirector itself lives on loopback too: only its exact address is let through.
	e.cfg.WebhookDialExempt = []string{strings.TrimPrefix(redirector.URL, "https://")}
	c, _ := e.start()
	p := e.payment()

	if _, err := c.CreateWebhookSubscription(context.Background(), &notificationv1.CreateWebhookSubscriptionRequest{
		Url: "http://shop.example/hooks"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("plain http subscription: %v, want InvalidArgument", err)
	}
	cases := []struct{ name, url, wantErr string }{
		{"loopback", "https://" + target + "/hook", "127.0.0.1 is a loopback address"},
		{"RFC 1918", "https://10.0.0.1/hook", "10.0.0.1 is a private (RFC 1918) address"},
		{"cloud metadata", "https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local (cloud metadata) address"},
		{"a name resolving to loopback", "https://localhost:" + port + "/hook", "is a loopback address"},
		{"a redirect to loopback", redirector.URL + "/hook", "redirects are not followed (to https://" + target + "/stolen)"},
	}
	subs := make([]int64, len(cases))
	for i, tc := range cases {
		subs[i] = subscribe(t, c, tc.url)
	}
	p.event(succeeded("evt-ssrf", "mallory", 901, 902))
	for i, tc := range cases {
		var last *notificationv1.DeliveryAttempt
		testkit.Eventually(t, waitFor, func() bool {
			d := deliveries(t, c, subs[i])
			if len(d) == 1 && len(d[0].GetAttemptLog()) > 0 {
				last = d[0].GetAttemptLog()[0]
				return true
			}
			return false
		}, "%s: no attempt recorded", tc.name)
		if !strings.Contains(last.GetError(), tc.wantErr) || last.GetHttpStatus() >= 200 && last.GetHttpStatus() < 300 {
			t.Errorf("%s: attempt %d %q, want a refused attempt saying %q", tc.name, last.GetHttpStatus(), last.GetError(), tc.wantErr)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections reached the loopback listener", n)
	}
}

// TestASlowEndpointHoldsBackOnlyItself: while one merchant endpoint hangs, another keeps getting
// every event, and the hanging one gets at most two POSTs at once.
func TestASlowEndpointHoldsBackOnlyItself(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	inFlight, most := 0, 0
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	defer slow.Close()
	defer close(release)
	fast := newReceiver(t, 200)

	e := newEnv(t)
	e.cfg.WebhookTimeout = time.Minute // longer than the test waits: the old batch would stall
	c, _ := e.start()
	p := e.payment()
	subscribe(t, c, slow.URL)
	subscribe(t, c, fast.URL)

	events := []string{"evt-s1", "evt-s2", "evt-s3", "evt-s4", "evt-s5"}
	for i, id := range events {
		p.event(succeeded(id, "ursula", int64(800+i), int64(900+i)))
	}
	for _, id := range events {
		testkit.Eventually(t, waitFor, func() bool { return len(fast.forEvent(id)) == 1 },
			"the fast endpoint never got %s while the slow one hangs", id)
	}
	mu.Lock()
	defer mu.Unlock()
	if most < 1 || most > 2 {
		t.Fatalf("the slow endpoint had %d POSTs in flight at once, want 1 or 2", most)
	}
}

// TestWebhookSecretsAreSealedAndShownOnce: a generated secret is in the create answer only, is
// stored sealed, signs the deliveries, and a secret stored in plaintext before is sealed at start.
func TestWebhookSecretsAreSealedAndShownOnce(t *testing.T) {
	rcv := newReceiver(t, 200)
	e := newEnv(t)
	c, stop := e.start()
	p := e.payment()

	sub, err := c.CreateWebhookSubscription(context.Background(), &notificationv1.CreateWebhookSubscriptionRequest{Url: rcv.URL})
	if err != nil {
		t.Fatal(err)
	}
	generated := sub.GetSecret()
	if !strings.HasPrefix(generated, "whsec_") || len(generated) < 40 {
		t.Fatalf("generated secret %q", generated)
	}
	list, err := c.ListWebhookSubscriptions(context.Background(), &notificationv1.ListWebhookSubscriptionsRequest{})
	if err != nil || len(list.GetSubscriptions()) != 1 || list.GetSubscriptions()[0].GetSecret() != "" {
		t.Fatalf("listed subscriptions %v (%v); want one, without its secret", list, err)
	}
	conn := serviceDB(t, e)
	var stored string
	if err := conn.QueryRow("SELECT secret FROM webhook_subscriptions WHERE id = ?", sub.GetSubscriptionId()).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "aesgcm1:") || strings.Contains(stored, strings.TrimPrefix(generated, "whsec_")) {
		t.Fatalf("secret stored as %q", stored)
	}

	// A row from before secrets were sealed.
	stop()
	const legacy = "legacy-plaintext-secret-0123"
	legacyRcv := newReceiver(t, 200)
	if _, err := conn.Exec("INSERT INTO webhook_subscriptions (id, url, secret, description, created_at) VALUES (42, ?, ?, '', NOW(6))",
		legacyRcv.URL, legacy); err != nil {
		t.Fatal(err)
	}
	c, _ = e.start()
	if err := conn.QueryRow("SELECT secret FROM webhook_subscriptions WHERE id = 42").Scan(&stored); err != nil || !strings.HasPrefix(stored, "aesgcm1:") {
		t.Fatalf("plaintext secret after start: %q (%v), want sealed", stored, err)
	}
	p.event(succeeded("evt-sealed", "sam", 700, 701))
	for _, r := range []struct {
		rcv    *receiver
		secret string
	}{{rcv, generated}, {legacyRcv, legacy}} {
		testkit.Eventually(t, waitFor, func() bool { return len(r.rcv.forEvent("evt-sealed")) == 1 }, "no delivery")
		got := r.rcv.forEvent("evt-sealed")[0]
		if err := webhook.Verify(r.secret, got.signature, got.body, 5*time.Minute, time.Now()); err != nil {
			t.Fatalf("delivery does not verify with the secret: %v", err)
		}
	}
}

// TestWebhookAdministrationIsMerchantOnly: with an end user's metadata, a customer is refused
// every webhook RPC and nothing changes; merchant staff are let through.
func TestWebhookAdministrationIsMerchantOnly(t *testing.T) {
	e := newEnv(t)
	c, _ := e.start()
	as := func(p principal.Principal) context.Context {
		return grpcprincipal.OutgoingContext(context.Background(), p)
	}
	customer, staff := as(principal.Principal{UserID: "carol"}), as(principal.Principal{UserID: "staff", Roles: []string{"merchant"}})
	if _, err := c.CreateWebhookSubscription(customer, &notificationv1.CreateWebhookSubscriptionRequest{Url: "https://shop.example/h"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("customer creates a subscription: %v", err)
	}
	if _, err := c.ListWebhookSubscriptions(customer, &notificationv1.ListWebhookSubscriptionsRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("customer lists subscriptions: %v", err)
	}
	sub, err := c.CreateWebhookSubscription(staff, &notificationv1.CreateWebhookSubscriptionRequest{Url: "https://shop.example/h"})
	if err != nil {
		t.Fatalf("merchant creates a subscription: %v", err)
	}
	if _, err := c.ListDeliveries(customer, &notificationv1.ListDeliveriesRequest{SubscriptionId: sub.GetSubscriptionId()}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("customer lists deliveries: %v", err)
	}
	if _, err := c.DeleteWebhookSubscription(customer, &notificationv1.DeleteWebhookSubscriptionRequest{SubscriptionId: sub.GetSubscriptionId()}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("customer deletes a subscription: %v", err)
	}
	if _, err := c.ResendDelivery(customer, &notificationv1.ResendDeliveryRequest{DeliveryId: 1}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("customer resends a delivery: %v", err)
	}
	list, err := c.ListWebhookSubscriptions(staff, &notificationv1.ListWebhookSubscriptionsRequest{})
	if err != nil || len(list.GetSubscriptions()) != 1 {
		t.Fatalf("after the refusals: %v (%v), want the merchant's one subscription", list, err)
	}
	if _, err := c.ListUserNotifications(customer, &notificationv1.ListUserNotificationsRequest{UserId: "dave"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("customer lists another user's notifications: %v", err)
	}
}

func serviceDB(t *testing.T, e *env) *sql.DB {
	t.Helper()
	dsn, err := db.ServiceDSN(e.cfg.MySQLDSN, service.Name)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := sql.Open("mysql", dsn.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
