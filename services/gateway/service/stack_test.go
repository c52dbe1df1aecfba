package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
	courseservice "github.com/paysuite/paysuite/services/course/service"
	"github.com/paysuite/paysuite/services/gateway/service"
	notificationservice "github.com/paysuite/paysuite/services/notification/service"
	orderservice "github.com/paysuite/paysuite/services/order/service"
	paymentservice "github.com/paysuite/paysuite/services/payment/service"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
	"github.com/paysuite/paysuite/services/sandbox/emulatortest"
)

// stack is every paysuite process the gateway fronts, started in-process against a fresh
// database and vhost, with the gateway on a real listener.
type stack struct {
	baseURL    string // the gateway
	sandboxURL string
	client     *http.Client
	tokens     *testkit.Tokens   // the identity provider the gateway trusts
	token      string            // sent as the bearer token by do, when set (see as)
	infra      *testkit.Stack    // identities, database and broker users
	grpcAddrs  map[string]string // service name -> its gRPC address
	opsAddrs   map[string]string // service name (and "gateway") -> its ops port
	notifyURL  string            // the payment service's notify endpoints (http://host:port)
	orderDB    *testkit.TCPProxy // between the order service and MariaDB (withOrderDBProxy), else nil
}

// as returns the stack seen by the holder of token: do sends it on every request.
func (s *stack) as(token string) *stack {
	c := *s
	c.token = token
	return &c
}

// asUser is as with a fresh customer token for user.
func (s *stack) asUser(user string) *stack { return s.as(s.tokens.For(user)) }

// stackOptions are the knobs a test may turn; the zero value of each field keeps the default.
type stackOptions struct {
	payTimeout           time.Duration // ORDER_PAY_TIMEOUT (default 30m)
	providerTradeTimeout time.Duration // PROVIDER_TRADE_TIMEOUT (default 25m; must be < payTimeout)
	sweepInterval        time.Duration // ORDER_SWEEP_INTERVAL (default 1h: effectively off)
	sweepGrace           time.Duration // ORDER_SWEEP_GRACE (default 1m)
	maxPending           int           // ORDER_MAX_PENDING_PER_USER (default 10)
	watchMaxAge          time.Duration // NOTIFICATION_WATCH_MAX_AGE (default 35m)
	userLimit            service.RateLimit
	ops                  bool // serve every process's ops port (/metrics), on addresses in stack.opsAddrs
	addressLimit         service.RateLimit
	billsNow             bool    // the sandbox serves today's bill (SANDBOX_BILL_READY_DELAY=-24h, as make run)
	pollScale            float64 // PAYMENT_POLL_SCALE (default 0.01: the first poll 50ms after a trade)
	orderDBProxy         bool    // the order service reaches MariaDB through a proxy the test can cut (stack.orderDB)
}

// withOrderDBProxy puts a TCP proxy between the order service and MariaDB (stack.orderDB).
func withOrderDBProxy() stackOption { return func(o *stackOptions) { o.orderDBProxy = true } }

type stackOption func(*stackOptions)

// withOps serves every process's ops port (/metrics), at stack.opsAddrs.
func withOps() stackOption { return func(o *stackOptions) { o.ops = true } }

type stackRateLimit = service.RateLimit

// withShortDeadlines makes unpaid orders expire after payTimeout and provider trades after
// tradeTimeout, with the order sweeper as a backstop every second, so a test can watch a
// deadline pass without sleeping through real minutes.
func withShortDeadlines(payTimeout, tradeTimeout time.Duration) stackOption {
	return func(o *stackOptions) {
		o.payTimeout, o.providerTradeTimeout = payTimeout, tradeTimeout
		o.sweepInterval, o.sweepGrace = time.Second, time.Second
	}
}

func startStack(t *testing.T, opts ...stackOption) *stack {
	t.Helper()
	o := stackOptions{payTimeout: 30 * time.Minute, providerTradeTimeout: 25 * time.Minute, sweepInterval: time.Hour, sweepGrace: time.Minute,
		pollScale: 0.01}
	for _, opt := range opts {
		opt(&o)
	}
	log := testkit.Logger(t)
	infra := testkit.NewStack(t) // each service with its own identity, database user and broker user
	paymentUser := infra.BrokerUser(paymentservice.Name)

	// The provider sandbox, with its notify retries compressed.
	sandbox := emulatortest.Start(t, 0.01, log.With("svc", "sandbox"), func(c *emulator.Config) {
		if o.billsNow {
			c.BillReadyDelay = -24 * time.Hour
		}
	})

	// Each address once: FreeAddr may hand out a port it handed out a moment ago.
	used := map[string]bool{}
	free := func() string {
		for {
			if a := testkit.FreeAddr(t); !used[a] {
				used[a] = true
				return a
			}
		}
	}
	orderAddr, paymentAddr, paymentHTTP, gatewayAddr := free(), free(), free(), free()
	opsAddrs := map[string]string{}
	for _, name := range []string{tlsx.Order, tlsx.Payment, tlsx.Notification, tlsx.Course, tlsx.Gateway} {
		if o.ops {
			opsAddrs[name] = free()
		}
	}
	orderDSN := infra.MySQLDSN(orderservice.Name)
	var orderDB *testkit.TCPProxy
	if o.orderDBProxy {
		cfg, err := mysql.ParseDSN(orderDSN)
		if err != nil {
			t.Fatal(err)
		}
		orderDB = testkit.NewTCPProxy(t, cfg.Addr)
		cfg.Addr = orderDB.Addr()
		orderDSN = cfg.FormatDSN()
	}
	orderCfg := orderservice.Config{
		GRPCAddr: orderAddr, OpsAddr: opsAddrs[tlsx.Order], MySQLDSN: orderDSN, AMQPURL: infra.AMQPURL(orderservice.Name),
		TLS: infra.TLS(tlsx.Order), PaymentBrokerUser: paymentUser, SnowflakeNode: 11, PaymentTarget: paymentAddr,
		PayTimeout: o.payTimeout, SweepInterval: o.sweepInterval, SweepGrace: o.sweepGrace, MaxPendingPerUser: o.maxPending,
	}
	paymentCfg := paymentservice.Config{
		GRPCAddr: paymentAddr, OpsAddr: opsAddrs[tlsx.Payment], HTTPAddr: paymentHTTP, MySQLDSN: infra.MySQLDSN(paymentservice.Name),
		AMQPURL: infra.AMQPURL(paymentservice.Name), TLS: infra.TLS(tlsx.Payment), SnowflakeNode: 12, OrderTarget: orderAddr,
		OrderBrokerUser: infra.BrokerUser(orderservice.Name),
		OrderPayTimeout: orderCfg.PayTimeout, ProviderTradeTimeout: o.providerTradeTimeout,
		NotifyBaseURL: "http://" + paymentHTTP, PollScale: o.pollScale,
		MerchantFile: sandbox.MerchantFile(),
		Alipay:       paymentservice.AlipayConfig{BaseURL: sandbox.URL},
		Wechat:       paymentservice.WechatConfig{BaseURL: sandbox.URL},
		// The cashier page's return page, as make run allows it.
		ReturnURLAllowlist: "http://" + gatewayAddr + "/result",
	}
	notificationCfg := notificationservice.Config{
		GRPCAddr: free(), OpsAddr: opsAddrs[tlsx.Notification], MySQLDSN: infra.MySQLDSN(notificationservice.Name),
		AMQPURL: infra.AMQPURL(notificationservice.Name), TLS: infra.TLS(tlsx.Notification), PaymentBrokerUser: paymentUser,
		SnowflakeNode:    13,
		WebhookTimeScale: 0.01, WebhookTimeout: 5 * time.Second, WatchPoll: 500 * time.Millisecond,
		WebhookSecretKey: testkit.SecretKey(t), OrderTarget: orderAddr, WatchMaxAge: o.watchMaxAge,
		WebhookAllowPrivate: true, // the tests' merchant endpoints listen on loopback
	}
	courseCfg := courseservice.Config{GRPCAddr: free(), OpsAddr: opsAddrs[tlsx.Course], MySQLDSN: infra.MySQLDSN(courseservice.Name),
		AMQPURL: infra.AMQPURL(courseservice.Name), TLS: infra.TLS(tlsx.Course), PaymentBrokerUser: paymentUser, SnowflakeNode: 14}

	testkit.Go(t, func(ctx context.Context) error { return orderservice.Run(ctx, orderCfg, log.With("svc", "order")) })
	testkit.Go(t, func(ctx context.Context) error {
		return paymentservice.Run(ctx, paymentCfg, log.With("svc", "payment"))
	})
	testkit.Go(t, func(ctx context.Context) error {
		return notificationservice.Run(ctx, notificationCfg, log.With("svc", "notification"))
	})
	testkit.Go(t, func(ctx context.Context) error { return courseservice.Run(ctx, courseCfg, log.With("svc", "course")) })
	grpcAddrs := map[string]string{tlsx.Order: orderAddr, tlsx.Payment: paymentAddr,
		tlsx.Notification: notificationCfg.GRPCAddr, tlsx.Course: courseCfg.GRPCAddr}
	for name, addr := range grpcAddrs {
		infra.Dial(name, addr)
	}
	// Each follows the payment results fanout: bound before anything is paid, or it misses it.
	for _, q := range []string{"paysuite.order.payment-results", "paysuite.course.payment-results", "paysuite.notification.payment-results"} {
		testkit.WaitForConsumer(t, infra.AdminAMQPURL(), q)
	}

	tokens := testkit.NewTokens(t)
	gwCfg := service.Config{
		HTTPAddr:           gatewayAddr,
		OpsAddr:            opsAddrs[tlsx.Gateway],
		TLS:                infra.TLS(tlsx.Gateway),
		OrderTarget:        orderAddr,
		PaymentTarget:      paymentAddr,
		NotificationTarget: notificationCfg.GRPCAddr,
		CourseTarget:       courseCfg.GRPCAddr,
		SandboxURL:         sandbox.URL,
		DevMode:            true, // the cashier page's dev token and the sandbox pay shortcut
		MaxBodyBytes:       1 << 20,
		Auth:               service.AuthConfig{JWKSFile: tokens.JWKSFile, Issuer: testkit.TestIssuer, Audience: testkit.TestAudience},
		AddressLimit:       o.addressLimit,
		UserLimit:          o.userLimit,
	}
	testkit.Go(t, func(ctx context.Context) error { return service.Run(ctx, gwCfg, log.With("svc", "gateway")) })
	s := &stack{baseURL: "http://" + gwCfg.HTTPAddr, sandboxURL: sandbox.URL, client: &http.Client{Timeout: 30 * time.Second},
		tokens: tokens, infra: infra, grpcAddrs: grpcAddrs, opsAddrs: opsAddrs,
		notifyURL: "http://" + paymentHTTP, orderDB: orderDB}
	testkit.Eventually(t, 10*time.Second, func() bool {
		resp, err := s.client.Get(s.baseURL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "gateway never answered /healthz")
	return s
}

// response is what a client sees: status, headers and the decoded JSON body.
type response struct {
	Status int
	Header http.Header
	Raw    string
	JSON   map[string]any
}

// str returns a top-level string field (ids are strings: int64 in protojson).
func (r response) str(field string) string {
	v, _ := r.JSON[field].(string)
	return v
}

func (s *stack) do(t testing.TB, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, s.baseURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &out.JSON)
	}
	return out
}

// expect fails unless the response has the status and, for errors, the gRPC-style body.
func (s *stack) expect(t testing.TB, r response, status int, what string) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: HTTP %d, want %d; body %s", what, r.Status, status, r.Raw)
	}
	if status >= 400 {
		if _, ok := r.JSON["code"].(float64); !ok || r.str("message") == "" {
			t.Fatalf("%s: error body lacks code/message: %s", what, r.Raw)
		}
	}
	return r
}
