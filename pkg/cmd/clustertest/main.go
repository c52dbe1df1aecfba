// Command clustertest is the Go half of `make cluster-test` (scripts/cluster-test.sh starts the
// clusters and the replicas): it checks the Galera properties on two nodes, drives a bounded
// purchase load through the gateways while running the fault commands at their offsets, waits
// for the orders to settle, checks the books and prints the figures. Exit status 1 when a check
// failed.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/paysuite/paysuite/pkg/clustertest"
)

type faults []string

func (f *faults) String() string     { return strings.Join(*f, "; ") }
func (f *faults) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var (
		node1    = flag.String("node1", "", "DSN of one Galera node (direct)")
		node2    = flag.String("node2", "", "DSN of another Galera node (direct)")
		dsn      = flag.String("dsn", "", "DSN through HAProxy, database paysuite (the services' databases are paysuite_<service>)")
		gateways = flag.String("gateways", "", "comma-separated gateway base URLs")
		sandbox  = flag.String("sandbox", "", "sandbox base URL")
		metrics  = flag.String("metrics", "", "comma-separated ops base URLs to read paysuite_db_tx_retries_total from")
		duration = flag.Duration("duration", 60*time.Second, "how long the load runs")
		rate     = flag.Float64("rate", 4, "purchases started per second")
		workers  = flag.Int("workers", 8, "concurrent purchases at most")
		payShare = flag.Float64("pay-share", 0.75, "share of orders paid (the rest expire)")
		drain    = flag.Duration("drain", 90*time.Second, "how long to wait after the load for every order to settle")
	)
	var fs faults
	flag.Var(&fs, "fault", "OFFSET=COMMAND run with bash at OFFSET into the load (repeatable)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	failed := false

	say("Galera: the properties the replicas rely on, on two nodes")
	facts, err := clustertest.GaleraChecks(ctx, *node1, *node2, log)
	for _, f := range facts {
		say("  " + f)
	}
	if err != nil {
		failed = true
		say("  FAILED: " + err.Error())
	}

	dbs := clustertest.Databases{Order: open(*dsn, "order"), Payment: open(*dsn, "payment"),
		Notification: open(*dsn, "notification"), Course: open(*dsn, "course")}
	stock, err := clustertest.SnapshotStock(ctx, dbs.Order)
	if err != nil {
		fatal("stock before the load: %v", err)
	}

	start := time.Now()
	for _, f := range fs {
		at, cmd, ok := strings.Cut(f, "=")
		d, err := time.ParseDuration(at)
		if !ok || err != nil {
			fatal("-fault %q: want OFFSET=COMMAND", f)
		}
		go func() {
			time.Sleep(time.Until(start.Add(d)))
			say(fmt.Sprintf("  %5.1fs fault: %s", time.Since(start).Seconds(), cmd))
			out, err := exec.Command("bash", "-c", cmd).CombinedOutput()
			if err != nil {
				say(fmt.Sprintf("  fault %q: %v: %s", cmd, err, out))
			}
			say(fmt.Sprintf("  %5.1fs done: %s", time.Since(start).Seconds(), cmd))
		}()
	}
	say(fmt.Sprintf("load: %.1f purchases/s for %s through %s", *rate, *duration, *gateways))
	res := clustertest.RunLoad(ctx, clustertest.LoadConfig{Gateways: strings.Split(*gateways, ","), Sandbox: *sandbox,
		Run: fmt.Sprintf("cl%d", time.Now().Unix()), Duration: *duration, Rate: *rate, Workers: *workers, PayShare: *payShare})
	say(fmt.Sprintf("  started %d, paid %d, left to expire %d, refused %d, failed %d, calls retried %d",
		res.Started, len(res.Paid), len(res.Abandoned), res.Refused, res.Failed, res.Retries))
	say(fmt.Sprintf("  purchases paid per second: %.2f; longest stretch without a successful call: %s",
		float64(len(res.Paid))/res.Elapsed.Seconds(), res.LongestGap.Round(100*time.Millisecond)))
	for _, e := range res.ErrorSummary() {
		say("  error " + e)
	}

	say(fmt.Sprintf("drain: waiting up to %s for every order to be paid or cancelled", *drain))
	deadline := time.Now().Add(*drain)
	for {
		var pending int
		if err := dbs.Order.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders WHERE status = 'PENDING_PAYMENT'").Scan(&pending); err == nil && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	time.Sleep(3 * time.Second) // the last events through the relays
	rep := clustertest.Check(ctx, dbs, stock, res)
	say("checks:")
	for _, f := range rep.Facts {
		say("  " + f)
	}
	for _, f := range rep.Failed {
		say("  FAILED: " + f)
	}
	failed = failed || len(rep.Failed) > 0
	if len(res.Paid) == 0 {
		say("  FAILED: no purchase completed")
		failed = true
	}
	if *metrics != "" {
		say("transaction retries (paysuite_db_tx_retries_total, all replicas): " + retries(strings.Split(*metrics, ",")))
	}
	if failed {
		say("cluster test FAILED")
		os.Exit(1)
	}
	say("cluster test passed")
}

func open(dsn, service string) *sql.DB {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		fatal("-dsn: %v", err)
	}
	cfg.DBName += "_" + service
	cfg.ParseTime = true
	d, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		fatal("%v", err)
	}
	return d
}

// retries sums the counter by cause over the replicas that still answer.
func retries(urls []string) string {
	by := map[string]float64{}
	for _, u := range urls {
		resp, err := http.Get(strings.TrimSpace(u) + "/metrics")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "paysuite_db_tx_retries_total{") {
				continue
			}
			labels, value, _ := strings.Cut(strings.TrimPrefix(line, "paysuite_db_tx_retries_total"), " ")
			v, _ := strconv.ParseFloat(value, 64)
			by[labels] += v
		}
		resp.Body.Close()
	}
	if len(by) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range by {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, v))
	}
	return strings.Join(parts, ", ")
}

func say(s string) { fmt.Printf("%s %s\n", time.Now().UTC().Format("15:04:05"), s) }

func fatal(format string, args ...any) {
	say("FATAL " + fmt.Sprintf(format, args...))
	os.Exit(1)
}
