// Command chaos is `make chaos`: the load on private MariaDB and RabbitMQ instances it starts
// itself, while services are killed and restarted, the database and broker restart, their
// connections are cut through a TCP proxy and the sandbox drops, duplicates and delays notifies;
// then the suite settles and every invariant is checked. Exit 1 on any broken invariant.
//
//	go run ./pkg/cmd/chaos -orders 5000 -seed 1
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/paysuite/paysuite/pkg/chaos"
)

func main() {
	o := chaos.Options{SandboxFaults: true, CutFor: 3 * time.Second}
	flag.IntVar(&o.Orders, "orders", envInt("CHAOS_ORDERS", 5000), "purchases begun (CHAOS_ORDERS)")
	flag.Float64Var(&o.Rate, "rate", 50, "purchases begun per second")
	seed := flag.Uint64("seed", uint64(envInt("CHAOS_SEED", 1)), "the schedule's and the mix's seed (CHAOS_SEED)")
	flag.IntVar(&o.KillsPerService, "kills", 3, "SIGKILL + restart of each service")
	flag.IntVar(&o.DBRestarts, "db-restarts", 2, "MariaDB crashes (SIGKILL) and restarts")
	flag.IntVar(&o.BrokerRestarts, "broker-restarts", 2, "RabbitMQ restarts")
	flag.IntVar(&o.Cuts, "cuts", 2, "cuts of the database and of the broker connections")
	flag.DurationVar(&o.Settle, "settle", 4*time.Minute, "longest wait for the invariants after the last arrival and fault")
	flag.StringVar(&o.BinDir, "bin", "bin", "the built services (make build)")
	flag.BoolVar(&o.Keep, "keep", false, "keep the private servers' data and logs")
	flag.Parse()
	o.Seed = *seed
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("make chaos %s: %d purchases at %.0f/s, seed %d\n", time.Now().UTC().Format(time.DateTime+" MST"), o.Orders, o.Rate, o.Seed)
	res, err := chaos.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	if !res.Report.OK() {
		fmt.Fprintln(os.Stderr, "chaos: invariants broken")
		os.Exit(1)
	}
	fmt.Println("chaos: every invariant holds")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
