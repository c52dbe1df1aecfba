// Command load is `make load`: it starts the suite's binaries (bin/, as `make run` builds them)
// on private ports with databases and a vhost of their own, drives an open-loop purchase mix
// through the gateway, and prints per-step latencies, the sustained purchase rate, the cost per
// purchase, the notify → effect latencies and the invariants; then, on the same suite, the
// anchors (GetOrder through the gateway ÷ direct gRPC; CreateOrder over gRPC ÷ the bare SQL
// transaction on the goods SKUs and on the hot SKU, pkg/orderanchor as `make bench`) and every
// ratio together at the end. It exits 1 when an invariant is broken.
//
//	go run ./pkg/cmd/load -rate 200 -duration 5m
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/paysuite/paysuite/pkg/harness"
	"github.com/paysuite/paysuite/pkg/loadgen"
	"github.com/paysuite/paysuite/pkg/localsuite"
)

func main() {
	o := harness.Options{Mix: loadgen.DefaultMix}
	flag.Float64Var(&o.Rate, "rate", envFloat("LOAD_RATE", 50), "arrivals (purchases begun) per second (LOAD_RATE)")
	flag.DurationVar(&o.Duration, "duration", envDuration("LOAD_DURATION", 30*time.Second), "how long arrivals go on (LOAD_DURATION)")
	flag.Uint64Var(&o.Seed, "seed", 1, "the mix's random seed")
	flag.IntVar(&o.SKUs, "skus", 1000, "goods SKUs added to the catalog (plus one hot SKU)")
	flag.DurationVar(&o.Settle, "settle", 2*time.Minute, "longest wait for the invariants to hold after the last arrival")
	flag.IntVar(&o.AnchorConcurrency, "anchor-concurrency", 16, "GetOrder anchor concurrency (0 skips)")
	flag.IntVar(&o.AnchorRequests, "anchor-requests", 20000, "GetOrder anchor requests a side")
	flag.IntVar(&o.CreateAnchorConcurrency, "create-anchor-concurrency", 64, "CreateOrder anchor clients, as make bench (0 skips)")
	flag.DurationVar(&o.CreateAnchorDuration, "create-anchor-duration", 10*time.Second, "CreateOrder anchor time a side per scenario, as make bench")
	flag.IntVar(&o.AnchorRounds, "anchor-rounds", 4, "each anchor alternates its two sides in this many slices")
	bin := flag.String("bin", "bin", "the built services (make build)")
	keep := flag.Bool("keep", false, "keep the databases, vhost and logs")
	flag.Parse()
	o.Grace = time.Minute
	o.Suite = localsuite.Options{BinDir: *bin, Keep: *keep, Prefix: "psload_",
		AdminDSN:  firstEnv("PAYSUITE_ADMIN_MYSQL_DSN", "MYSQL_DSN", "root@tcp(127.0.0.1:3306)/?parseTime=true"),
		AdminAMQP: firstEnv("PAYSUITE_ADMIN_AMQP_URL", "AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("make load %s\n", time.Now().UTC().Format(time.DateTime+" MST"))
	res, err := harness.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if !res.Report.OK() {
		fmt.Fprintln(os.Stderr, "load:", harness.ErrBroken)
		os.Exit(1)
	}
}

func firstEnv(a, b, def string) string {
	for _, n := range []string{a, b} {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return def
}

func envFloat(name string, def float64) float64 {
	var v float64
	if _, err := fmt.Sscan(os.Getenv(name), &v); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}
