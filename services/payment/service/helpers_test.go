package service_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	orderservice "github.com/paysuite/paysuite/services/order/service"
	"github.com/paysuite/paysuite/services/payment/service"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
	"github.com/paysuite/paysuite/services/sandbox/emulatortest"
)

const wait = 20 * time.Second

// env is a real order service, a real payment service and the provider sandbox, in-process,
// on a fresh database and vhost.
type env struct {
	t        *testing.T
	cfg      service.Config
	sandbox  *emulatortest.Sandbox
	keysDir  string
	creds    emulator.MerchantCredentials
	orders   orderv1.OrderServiceClient
	payments paymentv1.PaymentServiceClient
	db       *sql.DB // the payment service's database, for what a client cannot see
	orderDB  *sql.DB // the order service's database
	amqpURL  string  // the test's vhost as the admin, for observing
	stack    *testkit.Stack
	orderCfg orderservice.Config
	log      *slog.Logger
	stopOrd  func()
	stopPay  func()
}

// in returns the env for subtest t: helpers called in a subtest must fail that subtest, and the
// parent's t must stay the one its cleanups report to.
func (e *env) in(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// startOrders runs the order service; stopOrd stops it (as a crash or deploy would).
func (e *env) startOrders() {
	e.stopOrd = testkit.Start(e.t, func(ctx context.Context) error { return orderservice.Run(ctx, e.orderCfg, e.log) })
	e.stack.Dial(tlsx.Order, e.orderCfg.GRPCAddr)
}

// startPayments runs the payment service; stopPay stops it (as a crash or deploy would).
func (e *env) startPayments() {
	e.stopPay = testkit.Start(e.t, func(ctx context.Context) error { return service.Run(ctx, e.cfg, e.log) })
	e.stack.Dial(tlsx.Payment, e.cfg.GRPCAddr)
}

type orderConfig = orderservice.Config

func start(t *testing.T, tweak ...func(*service.Config)) *env {
	t.Helper()
	return startWith(t, nil, tweak...)
}

func startWith(t *testing.T, orderTweak func(*orderConfig), tweak ...func(*service.Config)) *env {
	t.Helper()
	e := newEnv(t, orderTweak, tweak...)
	e.run()
	return e
}

// newEnv configures the services (and starts the sandbox) without starting them, so a test may
// put something between them first; run starts them.
func newEnv(t *testing.T, orderTweak func(*orderConfig), tweak ...func(*service.Config)) *env {
	t.Helper()
	return newEnvOn(t, nil, orderTweak, tweak...)
}

// newEnvOn is newEnv on a sandbox started with sbOpts (e.g. another WeChat verification mode).
func newEnvOn(t *testing.T, sbOpts []emulatortest.Option, orderTweak func(*orderConfig), tweak ...func(*service.Config)) *env {
	t.Helper()
	log := testkit.Logger(t)
	sb := emulatortest.Start(t, 0.001, log, sbOpts...)

	stack := testkit.NewStack(t)
	httpAddr := testkit.FreeAddr(t)
	cfg := service.Config{
		GRPCAddr: testkit.FreeAddr(t), HTTPAddr: httpAddr, MySQLDSN: stack.MySQLDSN(service.Name),
		AMQPURL: stack.AMQPURL(service.Name), TLS: stack.TLS(tlsx.Payment), SnowflakeNode: 2,
		OrderBrokerUser: stack.BrokerUser(orderservice.Name),
		OrderPayTimeout: 30 * time.Minute, ProviderTradeTimeout: 25 * time.Minute,
		NotifyBaseURL: "http://" + httpAddr, PollScale: 0.01,
		MerchantFile: sb.MerchantFile(),
		Alipay:       service.AlipayConfig{BaseURL: sb.URL},
		Wechat:       service.WechatConfig{BaseURL: sb.URL},
	}
	orderCfg := orderservice.Config{
		GRPCAddr: testkit.FreeAddr(t), MySQLDSN: stack.MySQLDSN(orderservice.Name), PayTimeout: cfg.OrderPayTimeout,
		SweepInterval: time.Hour, SweepGrace: time.Minute, PaymentTarget: cfg.GRPCAddr, SnowflakeNode: 1,
		AMQPURL: stack.AMQPURL(orderservice.Name), PaymentBrokerUser: stack.BrokerUser(service.Name), TLS: stack.TLS(tlsx.Order),
	}
	cfg.OrderTarget = orderCfg.GRPCAddr
	for _, f := range tweak {
		f(&cfg)
	}
	if orderTweak != nil {
		orderTweak(&orderCfg)
	}
	e := &env{t: t, cfg: cfg, orderCfg: orderCfg, sandbox: sb, keysDir: sb.KeysDir, creds: sb.Credentials(),
		amqpURL: stack.AdminAMQPURL(), stack: stack, log: log}
	e.db = openServiceDB(t, cfg.MySQLDSN, service.Name)
	e.orderDB = openServiceDB(t, orderCfg.MySQLDSN, orderservice.Name)
	return e
}

func (e *env) run() {
	e.t.Helper()
	e.startOrders()
	e.startPayments()
	e.orders = orderv1.NewOrderServiceClient(e.stack.Dial(tlsx.Order, e.orderCfg.GRPCAddr))
	e.payments = paymentv1.NewPaymentServiceClient(e.stack.Dial(tlsx.Payment, e.cfg.GRPCAddr))
	// The order service follows the results fanout; it must be bound before anything is paid.
	testkit.WaitForConsumer(e.t, e.amqpURL, orderResultsQueue)
}

// openServiceDB opens the database the named service makes from dsn (it need not exist yet:
// the pool connects on first use).
func openServiceDB(t *testing.T, dsn, name string) *sql.DB {
	t.Helper()
	sdsn, err := db.ServiceDSN(dsn, name)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := sql.Open("mysql", sdsn.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	return sqlDB
}

// orderResultsQueue is the order service's queue on the results fanout, and orderResultsConsumer
// its name in the order database's processed_messages (README, "Reference: broker").
const (
	orderResultsQueue    = "paysuite.order.payment-results"
	orderResultsConsumer = "order-payment-results"
)

// orderProcessed reports whether the order service's results consumer has committed the message.
func (e *env) orderProcessed(messageID string) bool {
	e.t.Helper()
	var n int
	if err := e.orderDB.QueryRow("SELECT COUNT(*) FROM processed_messages WHERE consumer = ? AND message_id = ?",
		orderResultsConsumer, messageID).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n == 1
}

func (e *env) order(sku string, qty int32) *orderv1.Order {
	e.t.Helper()
	o, err := e.orders.CreateOrder(context.Background(), &orderv1.CreateOrderRequest{
		UserId: "u-" + testkit.UniqueName(""), RequestId: testkit.UniqueName("r"),
		Items: []*orderv1.CreateOrderItem{{SkuId: sku, Quantity: qty}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *env) pay(o *orderv1.Order, ch paymentv1.Channel) *paymentv1.Payment {
	e.t.Helper()
	p, err := e.payments.CreatePayment(context.Background(), &paymentv1.CreatePaymentRequest{OrderId: o.GetOrderId(), Channel: ch})
	if err != nil {
		e.t.Fatalf("CreatePayment(%s): %v", ch, err)
	}
	return p
}

// buyerPays scans and pays the QR code at the sandbox.
func (e *env) buyerPays(qr string) {
	e.t.Helper()
	if code := e.sandboxDo(http.MethodPost, "/sandbox/pay", map[string]string{"qrCode": qr}); code != http.StatusOK {
		e.t.Fatalf("sandbox pay: HTTP %d", code)
	}
}

// buyerScans opens the QR code's page, as a buyer's scan does: from then on an Alipay precreate
// trade exists at the gateway, so a close really closes it (before, the real gateway — and the
// sandbox — answer TRADE_NOT_EXIST and the QR stays payable until it expires).
func (e *env) buyerScans(qr string) {
	e.t.Helper()
	resp, err := http.Get(qr)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
}

func (e *env) faults(f map[string]int) {
	e.t.Helper()
	if code := e.sandboxDo(http.MethodPost, "/sandbox/faults", f); code != http.StatusOK {
		e.t.Fatalf("sandbox faults: HTTP %d", code)
	}
}

func (e *env) sandboxDo(method, path string, body any) int {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest(method, e.sandbox.URL+path, bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) payment(id int64) *paymentv1.Payment {
	e.t.Helper()
	p, err := e.payments.GetPayment(context.Background(), &paymentv1.GetPaymentRequest{PaymentId: id})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) getOrder(id int64) *orderv1.Order {
	e.t.Helper()
	o, err := e.orders.GetOrder(context.Background(), &orderv1.GetOrderRequest{OrderId: id})
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *env) waitPaymentStatus(id int64, want paymentv1.PaymentStatus) *paymentv1.Payment {
	e.t.Helper()
	var p *paymentv1.Payment
	testkit.Eventually(e.t, wait, func() bool {
		p = e.payment(id)
		return p.GetStatus() == want
	}, "payment %d never became %s (last %v)", id, want, testkit.Lazy(func() any { return p }))
	return p
}

func (e *env) waitOrderStatus(id int64, want orderv1.OrderStatus) *orderv1.Order {
	e.t.Helper()
	var o *orderv1.Order
	testkit.Eventually(e.t, wait, func() bool {
		o = e.getOrder(id)
		return o.GetStatus() == want
	}, "order %d never became %s (last %v)", id, want, testkit.Lazy(func() any { return o }))
	return o
}

// notifies counts notify_log rows of a trade by outcome.
func (e *env) notifies(outTradeNo string) map[string]int {
	e.t.Helper()
	rows, err := e.db.Query("SELECT outcome, COUNT(*) FROM notify_log WHERE out_trade_no = ? GROUP BY outcome", outTradeNo)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			e.t.Fatal(err)
		}
		out[k] = n
	}
	return out
}

func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(query, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// postNotify sends a crafted notify to our endpoint and returns status and body.
func (e *env) postNotify(path, contentType string, body []byte, headers http.Header) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.cfg.NotifyBaseURL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range headers {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// platformSecrets reads the providers' own keys from the sandbox's key directory, to sign
// legit-looking notifies.
func (e *env) platformSecrets() (alipayPrivatePEM, wechatPrivatePEM string) {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.keysDir, "sandbox.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	var s struct {
		Alipay string `json:"alipayPlatformPrivateKey"`
		Wechat string `json:"wechatPayPrivateKey"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		e.t.Fatal(err)
	}
	return s.Alipay, s.Wechat
}

func form(v url.Values) []byte { return []byte(v.Encode()) }

// hostOf returns the host:port of a URL (the broker's, to put a proxy in front of it).
func hostOf(t *testing.T, raw string) string {
	t.Helper()
	return mustURL(t, raw).Host
}

// queryOf returns the raw query of a URL (the parameters a provider put on a return URL).
func queryOf(t *testing.T, raw string) string {
	t.Helper()
	return mustURL(t, raw).RawQuery
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
