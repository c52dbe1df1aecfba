package service_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/order/service"
)

// env is one running order service on a fresh database, as a client sees it, plus a direct
// connection to its database for the assertions a client cannot make (stock, row counts).
type env struct {
	cfg    service.Config
	stack  *testkit.Stack
	client orderv1.OrderServiceClient
	db     *sql.DB
}

func start(t *testing.T, tweak ...func(*service.Config)) *env {
	t.Helper()
	return startOn(t, testkit.NewStack(t), tweak...)
}

// startOn starts the service on stack's database, broker and identities.
func startOn(t *testing.T, stack *testkit.Stack, tweak ...func(*service.Config)) *env {
	t.Helper()
	cfg := service.Config{
		GRPCAddr:      testkit.FreeAddr(t),
		TLS:           stack.TLS(tlsx.Order),
		MySQLDSN:      stack.MySQLDSN(service.Name),
		PayTimeout:    30 * time.Minute,
		SweepInterval: time.Hour,
		SweepGrace:    time.Minute,
		SnowflakeNode: 1,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	log := testkit.Logger(t)
	testkit.Go(t, func(ctx context.Context) error { return service.Run(ctx, cfg, log) })
	conn := stack.Dial(tlsx.Order, cfg.GRPCAddr)
	if cfg.AMQPURL != "" {
		// Serving gRPC does not mean consuming yet: what a test publishes before the consumer
		// queues are bound would be dropped by the exchange.
		testkit.WaitForConsumer(t, stack.AdminAMQPURL(), deadlineQueue)
		testkit.WaitForConsumer(t, stack.AdminAMQPURL(), resultsQueue)
	}
	dsn, err := db.ServiceDSN(cfg.MySQLDSN, service.Name)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := sql.Open("mysql", dsn.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	return &env{cfg: cfg, stack: stack, client: orderv1.NewOrderServiceClient(conn), db: sqlDB}
}

func (e *env) addSku(t *testing.T, id, kind string, price, stock int64) {
	t.Helper()
	if _, err := e.db.Exec("INSERT INTO skus (sku_id, title, kind, price_fen, stock) VALUES (?, ?, ?, ?, ?)",
		id, "test "+id, kind, price, stock); err != nil {
		t.Fatal(err)
	}
}

func (e *env) stock(t *testing.T, sku string) int64 {
	t.Helper()
	var n int64
	if err := e.db.QueryRow("SELECT stock FROM skus WHERE sku_id = ?", sku).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) count(t *testing.T, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) create(t *testing.T, user, request string, items ...*orderv1.CreateOrderItem) *orderv1.Order {
	t.Helper()
	o, err := e.client.CreateOrder(context.Background(), &orderv1.CreateOrderRequest{UserId: user, RequestId: request, Items: items})
	if err != nil {
		t.Fatalf("CreateOrder(%s, %s): %v", user, request, err)
	}
	return o
}

func item(sku string, q int32) *orderv1.CreateOrderItem {
	return &orderv1.CreateOrderItem{SkuId: sku, Quantity: q}
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("code = %s (%v), want %s", got, err, want)
	}
	if want != codes.OK && status.Convert(err).Message() == "" {
		t.Fatalf("%s without a message", want)
	}
}
