package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/paysuite/paysuite/pkg/harness"
	"github.com/paysuite/paysuite/pkg/loadgen"
	"github.com/paysuite/paysuite/pkg/localsuite"
	"github.com/paysuite/paysuite/pkg/tcpproxy"
)

// Options of a chaos run.
type Options struct {
	Orders int     // arrivals (purchases begun)
	Rate   float64 // arrivals per second
	Seed   uint64
	BinDir string

	KillsPerService int           // SIGKILL + restart of each service but the sandbox (the provider)
	DBRestarts      int           // MariaDB killed (SIGKILL) and started again
	BrokerRestarts  int           // RabbitMQ stopped and started again
	Cuts            int           // of each: every DB and every broker connection cut, then restored
	CutFor          time.Duration // how long a cut lasts
	SandboxFaults   bool          // dropped, duplicated and delayed notifies, failing queries, refunds not enough

	Settle time.Duration
	Keep   bool // keep the work directory (servers' data and logs)
	Out    io.Writer
}

// Result is the run's outcome: the load's, and the faults injected.
type Result struct {
	harness.Result
	Faults []string
}

// Timing of the suite under chaos: deadlines, sweeps, polls and retries compressed so a run
// settles in a minute or two (time-scale envs; README "Timeouts").
var scaledEnv = map[string]string{
	"ORDER_PAY_TIMEOUT": "30s", "PROVIDER_TRADE_TIMEOUT": "25s",
	"ORDER_SWEEP_INTERVAL": "2s", "ORDER_SWEEP_GRACE": "2s",
	"PAYMENT_POLL_SCALE": "0.01", "SANDBOX_TIME_SCALE": "0.01", "WEBHOOK_TIME_SCALE": "0.01",
}

// Run starts private MariaDB and RabbitMQ, the suite behind TCP proxies, drives Orders
// purchases while injecting the faults on a schedule drawn from Seed, lets the suite settle and
// checks the invariants.
func Run(ctx context.Context, o Options) (res Result, err error) {
	out := o.Out
	if out == nil {
		out = os.Stdout
	}
	if err := os.MkdirAll(workRoot, 0o755); err != nil {
		return res, err
	}
	reapStale(out)
	dir, err := os.MkdirTemp(workRoot, "run-")
	if err != nil {
		return res, err
	}
	_ = os.Chmod(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
		return res, err
	}
	defer func() {
		if !o.Keep {
			_ = os.RemoveAll(dir)
		} else {
			fmt.Fprintf(out, "kept %s\n", dir)
		}
	}()
	fmt.Fprintf(out, "chaos: private MariaDB and RabbitMQ under %s\n", dir)
	var db *MariaDB
	var mq *RabbitMQ
	var dbErr, mqErr error
	var wg sync.WaitGroup
	wg.Go(func() { db, dbErr = StartMariaDB(ctx, filepath.Join(dir, "mariadb")) })
	wg.Go(func() { mq, mqErr = StartRabbitMQ(ctx, filepath.Join(dir, "rabbitmq")) })
	wg.Wait()
	defer func() {
		if db != nil {
			_ = db.Stop()
		}
		if mq != nil {
			_ = mq.Stop()
		}
	}()
	if dbErr != nil || mqErr != nil {
		return res, fmt.Errorf("private servers: mariadb: %v; rabbitmq: %v", dbErr, mqErr)
	}
	fmt.Fprintf(out, "chaos: MariaDB on :%d, RabbitMQ %s on :%d (management :%d)\n", db.Port, mq.Node, mq.Port, mq.MgmtPort)
	// The broker admin (pkg/access) finds the management API here: this node's, not the shared one's.
	os.Setenv("AMQP_MANAGEMENT_URL", mq.ManagementURL())
	dbProxy, err := tcpproxy.Listen("127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", db.Port))
	if err != nil {
		return res, err
	}
	defer dbProxy.Close()
	mqProxy, err := tcpproxy.Listen("127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", mq.Port))
	if err != nil {
		return res, err
	}
	defer mqProxy.Close()

	in := &injector{o: o, db: db, mq: mq, dbProxy: dbProxy, mqProxy: mqProxy, out: out, start: time.Now()}
	duration := time.Duration(float64(o.Orders) / o.Rate * float64(time.Second))
	ho := harness.Options{Rate: o.Rate, Duration: duration, Seed: o.Seed, Mix: loadgen.DefaultMix, SKUs: 100,
		// Every order is past its 30 s deadline and 15 s of grace (the sweep runs every 2 s) before
		// the final check.
		Settle: o.Settle, MinSettle: 50 * time.Second, Grace: 15 * time.Second, MeterServers: true, Out: out,
		Suite: localsuite.Options{BinDir: o.BinDir, AdminDSN: db.DSN(), AdminAMQP: mq.AdminURL(), Prefix: "chaos_",
			ServiceMySQLAddr: dbProxy.Addr(), ServiceAMQPAddr: mqProxy.Addr(), Env: scaledEnv,
			LogDir: filepath.Join(dir, "logs")},
		During: func(ctx context.Context, s *localsuite.Suite) error { return in.run(ctx, s, duration) }}
	hres, err := harness.Run(ctx, ho)
	res.Result, res.Faults = hres, in.done
	fmt.Fprintf(out, "\nfaults injected (%d):\n", len(in.done))
	for _, f := range in.done {
		fmt.Fprintln(out, "  "+f)
	}
	return res, err
}

// workRoot holds every run's directory; a run that was killed leaves its own, reaped by the next.
var workRoot = filepath.Join(os.TempDir(), "paysuite-chaos")

// reapStale stops the servers of earlier runs whose owner is gone (killed with SIGKILL before
// it could clean up) and removes their directories.
func reapStale(out io.Writer) {
	runs, _ := filepath.Glob(filepath.Join(workRoot, "run-*"))
	for _, d := range runs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		var pid int
		if err == nil {
			fmt.Sscan(string(b), &pid)
		}
		if pid > 0 && processAlive(pid) {
			continue
		}
		stopStale(d)
		fmt.Fprintf(out, "chaos: removed the leftovers of an earlier run: %s\n", d)
		_ = os.RemoveAll(d)
	}
}

type event struct {
	at   time.Duration
	name string
	do   func(ctx context.Context) error
}

type injector struct {
	o                Options
	db               *MariaDB
	mq               *RabbitMQ
	dbProxy, mqProxy *tcpproxy.Proxy
	out              io.Writer
	start            time.Time
	done             []string
}

// run draws the schedule from the seed and injects it in time order over the arrivals' span;
// each fault finishes (process back up, server back, connections restored) before the next.
func (in *injector) run(ctx context.Context, s *localsuite.Suite, span time.Duration) error {
	rng := rand.New(rand.NewPCG(in.o.Seed, 0xc4a05))
	at := func() time.Duration { return time.Duration(0.05*float64(span) + rng.Float64()*0.8*float64(span)) }
	var evs []event
	for _, svc := range localsuite.Services {
		if svc == "sandbox" {
			continue
		}
		for range in.o.KillsPerService {
			evs = append(evs, event{at(), "kill -9 " + svc + ", restart", func(ctx context.Context) error {
				if err := s.Kill(svc); err != nil {
					return err
				}
				return s.StartProcess(ctx, svc)
			}})
		}
	}
	for range in.o.DBRestarts {
		evs = append(evs, event{at(), "MariaDB kill -9, restart", func(ctx context.Context) error {
			if err := in.db.Kill(); err != nil {
				return err
			}
			return in.db.Start(ctx)
		}})
	}
	for range in.o.BrokerRestarts {
		evs = append(evs, event{at(), "RabbitMQ stop, start", func(ctx context.Context) error {
			if err := in.mq.Stop(); err != nil {
				return err
			}
			return in.mq.Start(ctx)
		}})
	}
	for range in.o.Cuts {
		evs = append(evs, event{at(), fmt.Sprintf("database connections cut for %s", in.o.CutFor), func(ctx context.Context) error {
			in.dbProxy.Cut()
			defer in.dbProxy.Restore()
			return sleep(ctx, in.o.CutFor)
		}}, event{at(), fmt.Sprintf("broker connections cut for %s", in.o.CutFor), func(ctx context.Context) error {
			in.mqProxy.Cut()
			defer in.mqProxy.Restore()
			return sleep(ctx, in.o.CutFor)
		}})
	}
	if in.o.SandboxFaults {
		for _, f := range []struct{ name, body string }{
			{"sandbox: next 5 notifies dropped", `{"dropNotifies":5}`},
			{"sandbox: next 5 notifies duplicated", `{"duplicateNotifies":5}`},
			{"sandbox: next 5 trade queries fail", `{"failQueries":5}`},
			{"sandbox: next 2 refunds 'not enough balance'", `{"refundNotEnough":2}`},
		} {
			evs = append(evs, event{at(), f.name, func(ctx context.Context) error { return sandboxFaults(ctx, s.SandboxURL(), f.body) }})
		}
		evs = append(evs, event{at(), "sandbox: notifies delayed 2s for 3s", func(ctx context.Context) error {
			if err := sandboxFaults(ctx, s.SandboxURL(), `{"delayNotifyMs":2000}`); err != nil {
				return err
			}
			if err := sleep(ctx, 3*time.Second); err != nil {
				return err
			}
			return sandboxFaults(context.WithoutCancel(ctx), s.SandboxURL(), `{"delayNotifyMs":0}`)
		}})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	for _, ev := range evs {
		if err := sleep(ctx, time.Until(in.start.Add(ev.at))); err != nil {
			return err
		}
		began := time.Now()
		// Faults run to completion even after the arrivals end: a restart is never left half done.
		if err := ev.do(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("%s: %w", ev.name, err)
		}
		line := fmt.Sprintf("+%6.1fs %s (%s)", began.Sub(in.start).Seconds(), ev.name, time.Since(began).Round(100*time.Millisecond))
		in.done = append(in.done, line)
		fmt.Fprintln(in.out, "fault "+line)
	}
	return nil
}

func sandboxFaults(ctx context.Context, base, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/sandbox/faults", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sandbox faults %s: HTTP %d", body, resp.StatusCode)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
