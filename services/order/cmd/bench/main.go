// Command bench measures CreateOrder over gRPC against the bare SQL transaction of the same
// shape, on one fresh database: 64 clients across 1,000 SKUs, then on one hot SKU, then a
// sell-out of a scarce SKU; it checks that nothing was oversold.
//
//	go run ./services/order/cmd/bench [-duration 10s] [-concurrency 64] [-skus 1000]
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/snowflake"
	"github.com/go-sql-driver/mysql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/logging"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/order/service"
)

type options struct {
	duration    time.Duration
	concurrency int
	skus        int
	dsn         string
	keep        bool
	rounds      int
	conns       int
	cpuprofile  string
	amqpURL     string
	mgmtURL     string
	lateness    int
	rate        int
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long each measured phase runs")
	flag.IntVar(&o.concurrency, "concurrency", 64, "concurrent clients")
	flag.IntVar(&o.skus, "skus", 1000, "SKUs the spread phase picks from")
	flag.StringVar(&o.dsn, "dsn", envOr("MYSQL_DSN", db.DefaultDSN), "MySQL DSN; a fresh database paysuite_bench_<random>_order is made from it and dropped")
	flag.BoolVar(&o.keep, "keep", false, "keep the benchmark database")
	flag.IntVar(&o.rounds, "rounds", 4, "each phase alternates bare SQL and gRPC in this many slices, so both meet the same machine noise")
	flag.IntVar(&o.conns, "conns", 4, "gRPC client connections the clients share (round robin)")
	flag.StringVar(&o.amqpURL, "amqp", envOr("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "RabbitMQ; a fresh vhost is made on it for the run and deleted (\"\" to run without the outbox)")
	flag.StringVar(&o.mgmtURL, "amqp-management", "http://127.0.0.1:15672", "RabbitMQ management API, to create and delete the run's vhost")
	flag.IntVar(&o.lateness, "lateness", 10000, "orders left unpaid (timeouts 3s and 6s, two instances) to measure how late the deadline cancels them; 0 skips")
	flag.IntVar(&o.rate, "lateness-rate", 300, "orders/s created in the lateness phase (steady; a burst beyond the cancel capacity measures the backlog instead)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run here")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, o options) error {
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.rounds < 1 {
		o.rounds = 1
	}
	base, err := mysql.ParseDSN(o.dsn)
	if err != nil {
		return err
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	base.DBName = "paysuite_bench_" + hex.EncodeToString(suffix)
	dsn := base.FormatDSN()

	amqpURL := ""
	if o.amqpURL != "" {
		u, cleanup, err := freshVhost(o.amqpURL, o.mgmtURL, base.DBName)
		if err != nil {
			fmt.Printf("no broker (%v): measuring without the outbox\n", err)
		} else {
			defer cleanup()
			amqpURL = u
		}
	}

	// The real service, in-process, on a random port.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := lis.Addr().String()
	lis.Close()
	log := logging.NewTo(os.Stderr, "order", "error")
	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- service.Run(srvCtx, service.Config{GRPCAddr: addr, MySQLDSN: dsn, PayTimeout: 30 * time.Minute,
			SweepInterval: time.Hour, SweepGrace: time.Minute, SnowflakeNode: 1, AMQPURL: amqpURL}, log)
	}()
	var stopOnce sync.Once
	stopService := func() {
		stopOnce.Do(func() {
			stop()
			if err := <-done; err != nil {
				fmt.Fprintln(os.Stderr, "service:", err)
			}
		})
	}
	defer stopService()
	var clients []orderv1.OrderServiceClient
	for range max(o.conns, 1) {
		conn, err := grpcserver.Dial(addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		if err := waitHealthy(ctx, conn, done); err != nil {
			return err
		}
		clients = append(clients, orderv1.NewOrderServiceClient(conn))
	}

	cfg, err := db.ServiceDSN(dsn, service.Name)
	if err != nil {
		return err
	}
	sqlDB, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(64)
	sqlDB.SetMaxIdleConns(64)
	if !o.keep {
		defer func() {
			stopService() // before its database goes
			if _, err := sqlDB.Exec("DROP DATABASE `" + cfg.DBName + "`"); err != nil {
				fmt.Fprintln(os.Stderr, "drop:", err)
			}
		}()
	}

	const bigStock = 1_000_000_000
	var spread []string
	for i := range o.skus {
		spread = append(spread, fmt.Sprintf("bench-%04d", i))
	}
	initial := map[string]int64{"bench-hot": bigStock, "bench-scarce": 500}
	for _, s := range spread {
		initial[s] = bigStock
	}
	if err := seed(ctx, sqlDB, initial); err != nil {
		return err
	}

	node, err := snowflake.NewNode(2) // the service is node 1
	if err != nil {
		return err
	}
	if amqpURL != "" {
		fmt.Println("with the pay-deadline outbox row in every transaction and the relay publishing to RabbitMQ")
	}
	fmt.Printf("CreateOrder, %d concurrent clients (%d gRPC connections), %s per phase (bare SQL and gRPC alternating in %d slices), one item per order\n", o.concurrency, o.conns, o.duration, o.rounds)
	fmt.Printf("%-30s %10s %9s %9s %9s\n", "", "orders/s", "p50 ms", "p99 ms", "refused")
	for _, sc := range []struct {
		name string
		skus []string
	}{
		{fmt.Sprintf("spread over %d SKUs", o.skus), spread},
		{"one hot SKU", []string{"bench-hot"}},
	} {
		var bare, viaGRPC result
		slice := o.duration / time.Duration(o.rounds)
		for r := range o.rounds {
			if r%2 == 0 {
				bare.add(measure(ctx, o, slice, sc.skus, bareSQL(sqlDB, node, amqpURL != "")))
				viaGRPC.add(measure(ctx, o, slice, sc.skus, overGRPC(clients)))
			} else {
				viaGRPC.add(measure(ctx, o, slice, sc.skus, overGRPC(clients)))
				bare.add(measure(ctx, o, slice, sc.skus, bareSQL(sqlDB, node, amqpURL != "")))
			}
		}
		bare.sort()
		viaGRPC.sort()
		bare.print(sc.name + " / bare SQL")
		viaGRPC.print(sc.name + " / gRPC service")
		fmt.Printf("%-30s %10.2f (throughput), p50 %.2f×, p99 %.2f×\n", sc.name+" / ratio",
			viaGRPC.rate()/bare.rate(), ms(viaGRPC.p(50))/ms(bare.p(50)), ms(viaGRPC.p(99))/ms(bare.p(99)))
	}

	// Sell-out: many more buyers than stock; exactly the stock is sold.
	soldOut := measureN(ctx, o, []string{"bench-scarce"}, overGRPC(clients), 2000)
	fmt.Printf("sell-out of 500 units, 2000 buyers over gRPC: %d orders, %d refused as out of stock\n", soldOut.ok, soldOut.refused)

	if err := checkNoOversell(ctx, sqlDB, initial); err != nil {
		return err
	}
	if o.lateness > 0 && amqpURL != "" {
		return cancelLateness(ctx, o, dsn, amqpURL, spread, sqlDB, log)
	}
	return nil
}

// cancelLateness leaves o.lateness orders unpaid on two more instances with short timeouts
// and measures cancelled_at - pay_deadline once the deadline messages have cancelled them all.
func cancelLateness(ctx context.Context, o options, dsn, amqpURL string, skus []string, sqlDB *sql.DB, log *slog.Logger) error {
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	var clients []orderv1.OrderServiceClient
	for i, timeout := range []time.Duration{3 * time.Second, 6 * time.Second} {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr := lis.Addr().String()
		lis.Close()
		done := make(chan error, 1)
		wg.Go(func() {
			done <- service.Run(ctx, service.Config{GRPCAddr: addr, MySQLDSN: dsn, PayTimeout: timeout,
				SweepInterval: time.Hour, SweepGrace: time.Minute, SnowflakeNode: int64(10 + i), AMQPURL: amqpURL}, log)
		})
		conn, err := grpcserver.Dial(addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		if err := waitHealthy(ctx, conn, done); err != nil {
			return err
		}
		clients = append(clients, orderv1.NewOrderServiceClient(conn))
	}
	started := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(max(o.rate, 1)))
	defer tick.Stop()
	grpcCreate := overGRPC(clients)
	paced := func(ctx context.Context, user, request, sku string) (bool, error) {
		<-tick.C
		return grpcCreate(ctx, user, request, sku)
	}
	created := measureN(ctx, o, skus, paced, int64(o.lateness))
	const short = "TIMESTAMPDIFF(SECOND, created_at, pay_deadline) < 60"
	for {
		var pending int
		if err := sqlDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders WHERE status = 'PENDING_PAYMENT' AND "+short).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			break
		}
		if time.Since(started) > 5*time.Minute {
			return fmt.Errorf("%d orders still unpaid and uncancelled after 5 minutes", pending)
		}
		time.Sleep(500 * time.Millisecond)
	}
	rows, err := sqlDB.QueryContext(ctx, "SELECT TIMESTAMPDIFF(MICROSECOND, pay_deadline, cancelled_at) FROM orders WHERE status = 'CANCELLED' AND "+short)
	if err != nil {
		return err
	}
	defer rows.Close()
	var late result
	early := 0
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			return err
		}
		if us < 0 {
			early++
		}
		late.lat = append(late.lat, time.Duration(us)*time.Microsecond)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	late.sort()
	fmt.Printf("cancel lateness, %d unpaid orders (timeouts 3s and 6s, created at %.0f/s): p50 %.0f ms, p99 %.0f ms, max %.0f ms, cancelled early: %d\n",
		len(late.lat), created.rate(), ms(late.p(50)), ms(late.p(99)), ms(late.p(100)), early)
	if early > 0 {
		return fmt.Errorf("%d orders cancelled before their deadline", early)
	}
	return nil
}

// freshVhost makes a vhost for this run through the management API and returns the URL on it.
func freshVhost(amqpURL, mgmt, name string) (string, func(), error) {
	u, err := url.Parse(amqpURL)
	if err != nil {
		return "", nil, err
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	call := func(method, path, body string) error {
		req, err := http.NewRequest(method, mgmt+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.SetBasicAuth(user, pass)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
		}
		return nil
	}
	if err := call(http.MethodPut, "/api/vhosts/"+name, ""); err != nil {
		return "", nil, err
	}
	cleanup := func() {
		if err := call(http.MethodDelete, "/api/vhosts/"+name, ""); err != nil {
			fmt.Fprintln(os.Stderr, "delete vhost:", err)
		}
	}
	if err := call(http.MethodPut, "/api/permissions/"+name+"/"+url.PathEscape(user), `{"configure":".*","write":".*","read":".*"}`); err != nil {
		cleanup()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), cleanup, nil
}

func waitHealthy(ctx context.Context, conn *grpc.ClientConn, done <-chan error) error {
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("service stopped: %v", err)
		default:
		}
		c, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := health.Check(c, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("service not healthy after 60s")
}

func seed(ctx context.Context, sqlDB *sql.DB, stock map[string]int64) error {
	ids := make([]string, 0, len(stock))
	for id := range stock {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for chunk := range slices.Chunk(ids, 500) {
		var q strings.Builder
		q.WriteString("INSERT INTO skus (sku_id, title, kind, price_fen, stock) VALUES ")
		args := []any{}
		for i, id := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, 'GOODS', ?, ?)")
			args = append(args, id, "bench "+id, 100+i, stock[id])
		}
		if _, err := sqlDB.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

// createFn places one order of one unit of sku; refused means a business refusal (out of stock).
type createFn func(ctx context.Context, user, request, sku string) (refused bool, err error)

func overGRPC(clients []orderv1.OrderServiceClient) createFn {
	var next atomic.Uint64
	return func(ctx context.Context, user, request, sku string) (bool, error) {
		client := clients[next.Add(1)%uint64(len(clients))]
		_, err := client.CreateOrder(ctx, &orderv1.CreateOrderRequest{UserId: user, RequestId: request,
			Items: []*orderv1.CreateOrderItem{{SkuId: sku, Quantity: 1}}})
		if status.Code(err) == codes.FailedPrecondition {
			return true, nil
		}
		return false, err
	}
}

// bareSQL is the service's CreateOrder transaction written directly on database/sql: read the
// catalog price, then insert the order, its item and (with a broker) its pay-deadline outbox
// row, and take the stock, in one transaction.
func bareSQL(sqlDB *sql.DB, node *snowflake.Node, outbox bool) createFn {
	return func(ctx context.Context, user, request, sku string) (bool, error) {
		var title, kind string
		var price int64
		if err := sqlDB.QueryRowContext(ctx, "SELECT title, kind, price_fen FROM skus WHERE sku_id IN (?)", sku).Scan(&title, &kind, &price); err != nil {
			return false, err
		}
		id := node.Generate().Int64()
		now := time.Now().UTC()
		tx, err := sqlDB.BeginTx(ctx, nil)
		if err != nil {
			return false, err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders (order_id, user_id, request_id, status, total_fen, created_at, pay_deadline, updated_at)
			VALUES (?, ?, ?, 'PENDING_PAYMENT', ?, ?, ?, ?)`, id, user, request, price, now, now.Add(30*time.Minute), now); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO order_items (order_id, sku_id, title, kind, unit_price_fen, quantity) VALUES (?, ?, ?, ?, ?, ?)",
			id, sku, title, kind, price, 1); err != nil {
			return false, err
		}
		if outbox {
			body, _ := proto.Marshal(&eventsv1.OrderPayDeadline{OrderId: id, PayDeadline: timestamppb.New(now.Add(30 * time.Minute))})
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_messages (message_id, exchange, routing_key, type, content_type, body, created_at)
				VALUES (?, '', 'paysuite.order.pay-timeout.30m0s', 'paysuite.events.v1.OrderPayDeadline', 'application/x-protobuf', ?, ?)`,
				fmt.Sprint("order-pay-deadline-", id), body, now); err != nil {
				return false, err
			}
		}
		res, err := tx.ExecContext(ctx, "UPDATE skus SET stock = stock - ? WHERE sku_id = ? AND stock >= ?", 1, sku, 1)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return true, nil
		}
		return false, tx.Commit()
	}
}

type result struct {
	ok, refused int64
	elapsed     time.Duration
	lat         []time.Duration
}

func (r result) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r result) p(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[int(math.Ceil(q/100*float64(len(r.lat))))-1]
}

func (r *result) add(o result) {
	r.ok += o.ok
	r.refused += o.refused
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
}

func (r *result) sort() { slices.Sort(r.lat) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r result) print(name string) {
	fmt.Printf("%-30s %10.0f %9.2f %9.2f %9d\n", name, r.rate(), ms(r.p(50)), ms(r.p(99)), r.refused)
}

var runID atomic.Int64

// measure runs the clients for d; calls in flight at the end complete.
func measure(ctx context.Context, o options, d time.Duration, skus []string, create createFn) result {
	return load(ctx, o.concurrency, skus, create, time.Now().Add(d), math.MaxInt64)
}

// measureN runs the clients until n orders were attempted.
func measureN(ctx context.Context, o options, skus []string, create createFn, n int64) result {
	return load(ctx, o.concurrency, skus, create, time.Now().Add(time.Hour), n)
}

func load(ctx context.Context, clients int, skus []string, create createFn, end time.Time, limit int64) result {
	phase := runID.Add(1)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		total    result
		attempts atomic.Int64
	)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			var r result
			for i := 0; ; i++ {
				if time.Now().After(end) || ctx.Err() != nil || attempts.Add(1) > limit {
					break
				}
				user := fmt.Sprintf("bench-%d-%d-%d", phase, c, i)
				sku := skus[(c*7919+i*104729)%len(skus)]
				t0 := time.Now()
				refused, err := create(ctx, user, "r", sku)
				d := time.Since(t0)
				switch {
				case err != nil:
					fmt.Fprintln(os.Stderr, "create:", err)
				case refused:
					r.refused++
				default:
					r.ok++
					r.lat = append(r.lat, d)
				}
			}
			mu.Lock()
			total.ok += r.ok
			total.refused += r.refused
			total.lat = append(total.lat, r.lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	slices.Sort(total.lat)
	return total
}

// checkNoOversell: for every SKU, units sold plus stock left equals the initial stock, and no
// stock is negative.
func checkNoOversell(ctx context.Context, sqlDB *sql.DB, initial map[string]int64) error {
	rows, err := sqlDB.QueryContext(ctx, `SELECT s.sku_id, s.stock, COALESCE(SUM(i.quantity), 0)
		FROM skus s LEFT JOIN order_items i ON i.sku_id = s.sku_id GROUP BY s.sku_id, s.stock`)
	if err != nil {
		return err
	}
	defer rows.Close()
	bad, checked := 0, 0
	for rows.Next() {
		var id string
		var stock, sold int64
		if err := rows.Scan(&id, &stock, &sold); err != nil {
			return err
		}
		want, ok := initial[id]
		if !ok {
			continue // the seeded sample catalog
		}
		checked++
		if stock < 0 || stock+sold != want {
			bad++
			fmt.Printf("OVERSOLD %s: initial %d, sold %d, left %d\n", id, want, sold, stock)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d SKUs oversold", bad)
	}
	fmt.Printf("oversold check: 0 of %d SKUs oversold (sold + left = initial, no negative stock)\n", checked)
	return nil
}
