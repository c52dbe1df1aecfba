// Command e2ebench measures paysuite end to end with the order service, the payment service and
// the provider sandbox in one process, on a fresh database and vhost that it drops afterwards
// (a benchmark, not a test):
//
//  1. N orders paid through the sandbox at a steady rate: time from the payment service
//     acknowledging the provider's notify to the PaymentResult PAYMENT_SUCCEEDED consumed from
//     paysuite.payment.results, and to the order reading PAID.
//
//  2. Orders left unpaid with mixed timeouts (3s and 6s, two order instances) and the payment
//     service in the loop (every expiry asks it to ClosePayments; some orders hold a provider
//     trade): how late past the deadline each is cancelled.
//
//     go run ./services/payment/cmd/e2ebench [-orders 300] [-rate 30] [-cancel 2000] [-cancel-rate 100]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/scratch"
	"github.com/paysuite/paysuite/pkg/tlsx"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	orderservice "github.com/paysuite/paysuite/services/order/service"
	"github.com/paysuite/paysuite/services/payment/service"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

type options struct {
	orders, rate             int
	cancel, cancelRate       int
	attemptEvery             int
	dsn, amqpURL             string
	logLevel, cpuprofile     string
	payTimeout, tradeTimeout time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.orders, "orders", 300, "orders paid through the sandbox (0 skips)")
	flag.IntVar(&o.rate, "rate", 30, "orders paid per second (steady)")
	flag.IntVar(&o.cancel, "cancel", 2000, "orders left unpaid to measure cancel lateness (0 skips)")
	flag.IntVar(&o.cancelRate, "cancel-rate", 100, "unpaid orders created per second (steady)")
	flag.IntVar(&o.attemptEvery, "attempt-every", 4, "every n-th unpaid order also opens a provider trade (0: none)")
	flag.StringVar(&o.dsn, "dsn", envOr("MYSQL_DSN", db.DefaultDSN), "MySQL; databases pse2e_<random>_{order,payment} are made from it and dropped")
	flag.StringVar(&o.amqpURL, "amqp", envOr("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "RabbitMQ; a fresh vhost is made for the run and deleted")
	flag.StringVar(&o.logLevel, "log-level", "warn", "services' log level (to stderr)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run here")
	flag.Parse()
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "e2ebench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// stack is everything running for the benchmark.
type stack struct {
	orders   []orderv1.OrderServiceClient // [0]: 30m timeout; [1], [2]: 3s and 6s
	payments paymentv1.PaymentServiceClient
	sandbox  string // base URL
	acks     *ackRecorder
	amqpURL  string
	dbs      *dbs
}

func run(ctx context.Context, o options) error {
	name := scratch.Name("pse2e_")
	dsn, dropDB, err := scratch.Databases(o.dsn, name)
	if err != nil {
		return err
	}
	defer dropDB()
	amqpURL, dropVhost, err := scratch.Vhost(o.amqpURL, name)
	if err != nil {
		return err
	}
	defer dropVhost()
	ids, err := scratch.NewIdentities()
	if err != nil {
		return err
	}
	defer ids.Remove()
	// Every service shares the admin's broker user here, so that is whose results are believed.
	uri, err := amqp.ParseURI(amqpURL)
	if err != nil {
		return err
	}
	keys, err := os.MkdirTemp("", name)
	if err != nil {
		return err
	}
	defer os.RemoveAll(keys)
	log := newLogger(o.logLevel)
	fmt.Printf("e2ebench %s: database %s_{order,payment}, vhost %s\n", time.Now().Format(time.DateTime), name, name)

	ctx, cancel := context.WithCancel(ctx)
	var running []*proc
	defer func() {
		cancel()
		for _, s := range running {
			if err := <-s.done; err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(os.Stderr, "%s: %v\n", s.name, err)
			}
		}
	}()

	// The sandbox, with notifies fast-forwarded like in the tests (first attempt is immediate).
	sbLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sbURL := "http://" + sbLis.Addr().String()
	emu, err := emulator.New(emulator.Config{KeysDir: keys, PublicURL: sbURL, TimeScale: 0.001, Logger: log})
	if err != nil {
		return err
	}
	defer emu.Close()
	sbSrv := &http.Server{Handler: emu.Handler()}
	go sbSrv.Serve(sbLis)
	defer sbSrv.Close()

	addr := func() string { a, _ := freeAddr(); return a }
	payGRPC, payHTTP := addr(), addr()
	acks := newAckRecorder("http://"+payHTTP, emu.Credentials().Wechat.APIv3Key)
	ackLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ackSrv := &http.Server{Handler: acks}
	go ackSrv.Serve(ackLis)
	defer ackSrv.Close()

	orderAddrs := []string{addr(), addr(), addr()}
	timeouts := []time.Duration{30 * time.Minute, 3 * time.Second, 6 * time.Second}
	st := &stack{sandbox: sbURL, acks: acks, amqpURL: amqpURL}
	for i, timeout := range timeouts {
		cfg := orderservice.Config{GRPCAddr: orderAddrs[i], MySQLDSN: dsn, PayTimeout: timeout,
			SweepInterval: 30 * time.Second, SweepGrace: 30 * time.Second, PaymentTarget: payGRPC,
			SnowflakeNode: int64(1 + i), AMQPURL: amqpURL, PaymentBrokerUser: uri.Username, TLS: ids.Files(tlsx.Order)}
		s := startService(ctx, fmt.Sprint("order-", timeout), func(ctx context.Context) error { return orderservice.Run(ctx, cfg, log) })
		running = append(running, s)
		conn, err := dialHealthy(ctx, s, ids, tlsx.Order, cfg.GRPCAddr)
		if err != nil {
			return err
		}
		defer conn.Close()
		st.orders = append(st.orders, orderv1.NewOrderServiceClient(conn))
	}
	pcfg := service.Config{
		GRPCAddr: payGRPC, HTTPAddr: payHTTP, MySQLDSN: dsn, AMQPURL: amqpURL, OrderTarget: orderAddrs[0], SnowflakeNode: 9,
		OrderBrokerUser: uri.Username,
		TLS:             ids.Files(tlsx.Payment),
		// The defaults: paid orders get 25m trades; a 3s or 6s order's trade ends just before its
		// deadline (the payment service caps it there), so its deadline's ClosePayments closes it.
		OrderPayTimeout: 30 * time.Minute, ProviderTradeTimeout: 25 * time.Minute,
		NotifyBaseURL: "http://" + ackLis.Addr().String(), PollScale: 1,
		MerchantFile: filepath.Join(keys, "merchant.json"),
		Alipay:       service.AlipayConfig{BaseURL: sbURL}, Wechat: service.WechatConfig{BaseURL: sbURL},
	}
	ps := startService(ctx, "payment", func(ctx context.Context) error { return service.Run(ctx, pcfg, log) })
	running = append(running, ps)
	pconn, err := dialHealthy(ctx, ps, ids, tlsx.Payment, payGRPC)
	if err != nil {
		return err
	}
	defer pconn.Close()
	st.payments = paymentv1.NewPaymentServiceClient(pconn)
	if st.dbs, err = openDBs(dsn); err != nil {
		return err
	}
	defer st.dbs.close()
	if err := st.dbs.seed(ctx); err != nil {
		return err
	}

	if o.orders > 0 {
		if err := payPhase(ctx, st, o); err != nil {
			return fmt.Errorf("pay phase: %w", err)
		}
	}
	if o.cancel > 0 {
		if err := cancelPhase(ctx, st, o); err != nil {
			return fmt.Errorf("cancel phase: %w", err)
		}
	}
	return nil
}
