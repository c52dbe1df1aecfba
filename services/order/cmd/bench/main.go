// Command bench measures CreateOrder over gRPC against the bare SQL transaction of the same
// shape, on one fresh database: 64 clients across 1,000 SKUs, then on one hot SKU, then a
// sell-out of a scarce SKU; it checks that nothing was oversold.
//
//	go run ./services/order/cmd/bench [-duration 10s] [-concurrency 64] [-skus 1000]
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/bwmarrin/snowflake"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/logging"
	"github.com/paysuite/paysuite/pkg/orderanchor"
	"github.com/paysuite/paysuite/pkg/scratch"
	"github.com/paysuite/paysuite/pkg/tlsx"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/order/service"
)

// payTimeout is the service's ORDER_PAY_TIMEOUT here (the bare SQL writes the same outbox row).
const payTimeout = 30 * time.Minute

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
	name := scratch.Name("paysuite_bench_")
	dsn, dropDatabases, err := scratch.Databases(o.dsn, name)
	if err != nil {
		return err
	}
	amqpURL := ""
	if o.amqpURL != "" {
		u, dropVhost, err := scratch.Vhost(o.amqpURL, name)
		if err != nil {
			fmt.Printf("no broker (%v): measuring without the outbox\n", err)
		} else {
			defer dropVhost()
			amqpURL = u
		}
	}

	ids, err := scratch.NewIdentities()
	if err != nil {
		return err
	}
	defer ids.Remove()

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
		done <- service.Run(srvCtx, service.Config{GRPCAddr: addr, MySQLDSN: dsn, PayTimeout: payTimeout,
			SweepInterval: time.Hour, SweepGrace: time.Minute, SnowflakeNode: 1, AMQPURL: amqpURL,
			TLS: ids.Files(tlsx.Order)}, log)
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
		conn, err := ids.Dial(tlsx.Admin, tlsx.Order, addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		if err := scratch.WaitHealthy(ctx, conn, done); err != nil {
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
			if err := dropDatabases(); err != nil {
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
	if err := orderanchor.Seed(ctx, sqlDB, initial); err != nil {
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
	orderanchor.Header(os.Stdout)
	bare, viaGRPC := orderanchor.BareSQL(sqlDB, node, payTimeout, amqpURL != ""), orderanchor.OverGRPC(clients)
	for _, sc := range []struct {
		name string
		skus []string
	}{
		{fmt.Sprintf("spread over %d SKUs", o.skus), spread},
		{"one hot SKU", []string{"bench-hot"}},
	} {
		orderanchor.Compare(ctx, sc.name, "bench", o.concurrency, o.duration, o.rounds, sc.skus, bare, viaGRPC).Print(os.Stdout)
	}

	// Sell-out: many more buyers than stock; exactly the stock is sold.
	soldOut := orderanchor.MeasureN(ctx, "bench", o.concurrency, []string{"bench-scarce"}, viaGRPC, 2000)
	fmt.Printf("sell-out of 500 units, 2000 buyers over gRPC: %d orders, %d refused as out of stock\n", soldOut.OK, soldOut.Refused)

	if err := checkNoOversell(ctx, sqlDB, initial); err != nil {
		return err
	}
	if o.lateness > 0 && amqpURL != "" {
		return cancelLateness(ctx, o, dsn, amqpURL, spread, sqlDB, log)
	}
	return nil
}
