package harness

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/snowflake"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/paysuite/paysuite/pkg/loadgen"
	"github.com/paysuite/paysuite/pkg/localsuite"
	"github.com/paysuite/paysuite/pkg/orderanchor"
	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/pkg/principal/grpcprincipal"
	"github.com/paysuite/paysuite/pkg/scratch"
	"github.com/paysuite/paysuite/pkg/tlsx"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
)

// Ratio is one anchor's result: the suite's path ÷ the anchor's, with its goal.
type Ratio struct {
	Name   string
	Value  float64
	Goal   float64 // the ratio must be at least this
	Detail string
	Errors int64 // failed calls on either side (a ratio over failures means nothing)
}

// Met reports whether the ratio reaches its goal.
func (r Ratio) Met() bool { return r.Value >= r.Goal }

func (r Ratio) String() string {
	verdict := "meets"
	if !r.Met() {
		verdict = "SHORT of"
	}
	return fmt.Sprintf("%-50s %.3f (%s goal ≥ %.2f; %s; %d errors)", r.Name, r.Value, verdict, r.Goal, r.Detail, r.Errors)
}

// getOrderAnchor compares GetOrder through the gateway (HTTP+JSON with the owner's bearer
// token) with GetOrder called directly on the order service as the gateway calls it: the
// gateway's mTLS identity, the owner as the end-user principal and a request id in the
// metadata, so the service does the same work (the owner check included) on both paths. Both
// are closed-loop at the same concurrency for the same number of requests, in rounds that
// alternate which side goes first, over the same paid orders in the same order.
func getOrderAnchor(ctx context.Context, out io.Writer, s *localsuite.Suite, conc, requests, rounds int) (Ratio, error) {
	type target struct {
		id   int64
		user string
	}
	db, err := sql.Open("mysql", s.DSN("order"))
	if err != nil {
		return Ratio{}, err
	}
	rows, err := db.QueryContext(ctx, "SELECT order_id, user_id FROM orders WHERE status = 'PAID' LIMIT 500")
	if err != nil {
		db.Close()
		return Ratio{}, err
	}
	var targets []target
	for rows.Next() {
		var t target
		if err := rows.Scan(&t.id, &t.user); err == nil {
			targets = append(targets, t)
		}
	}
	rows.Close()
	db.Close()
	if len(targets) == 0 {
		return Ratio{}, fmt.Errorf("no paid orders to read")
	}
	ids := &scratch.Identities{Dir: s.TLSDir}
	conn, err := ids.Dial(tlsx.Gateway, tlsx.Order, s.GRPCAddr("order"))
	if err != nil {
		return Ratio{}, err
	}
	defer conn.Close()
	orders := orderv1.NewOrderServiceClient(conn)
	// Tokens first, outside the timed part. One keep-alive connection per worker at most.
	tokens := map[string]string{}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2}}
	defer client.CloseIdleConnections()
	for _, t := range targets {
		if _, ok := tokens[t.user]; ok {
			continue
		}
		tok, err := devToken(ctx, client, s.GatewayURL(), t.user)
		if err != nil {
			return Ratio{}, err
		}
		tokens[t.user] = tok
	}
	direct := func(i int) error {
		t := targets[i%len(targets)]
		cctx := grpcprincipal.OutgoingContext(ctx, principal.Principal{UserID: t.user})
		cctx = metadata.AppendToOutgoingContext(cctx, "x-request-id", fmt.Sprintf("anchor-%d", i))
		_, err := orders.GetOrder(cctx, &orderv1.GetOrderRequest{OrderId: t.id}, grpc.WaitForReady(true))
		return err
	}
	// Keep-alive: the client should open about one connection per worker, not one per call.
	var opened atomic.Int64
	traced := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(c httptrace.GotConnInfo) {
		if !c.Reused {
			opened.Add(1)
		}
	}})
	gateway := func(i int) error {
		t := targets[i%len(targets)]
		req, _ := http.NewRequestWithContext(traced, http.MethodGet, fmt.Sprintf("%s/v1/orders/%d", s.GatewayURL(), t.id), nil)
		req.Header.Set("Authorization", "Bearer "+tokens[t.user])
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	rounds = max(rounds, 1)
	per := max(requests/rounds, 1)
	// CPU per call of the processes on each path (this one is the load client): in a closed
	// loop on a busy machine the throughput ratio follows the CPU ratio.
	procs := map[string]int{"gateway": s.Pids()["gateway"], "order": s.Pids()["order"], "client": os.Getpid()}
	var grpcSide, gwSide loopResult
	side := func(into *loopResult, fn func(int) error) {
		before := cpuOf(procs)
		r := closedLoopN(ctx, conc, per, fn)
		r.cpu = subCPU(cpuOf(procs), before)
		into.add(r)
	}
	for r := range rounds {
		if r%2 == 0 {
			side(&grpcSide, direct)
			side(&gwSide, gateway)
		} else {
			side(&gwSide, gateway)
			side(&grpcSide, direct)
		}
	}
	fmt.Fprintf(out, "anchor GetOrder, %d requests a side at concurrency %d in %d alternating rounds, %d orders of %d users:\n",
		per*rounds, conc, rounds, len(targets), len(tokens))
	fmt.Fprintf(out, "  direct gRPC (as the gateway, with the owner) %6.0f/s (%d errors), CPU per call %s\n", grpcSide.rate(), grpcSide.bad, grpcSide.cpuPerCall())
	fmt.Fprintf(out, "  gateway JSON (bearer token)                  %6.0f/s (%d errors), CPU per call %s, %d HTTP connections opened\n",
		gwSide.rate(), gwSide.bad, gwSide.cpuPerCall(), opened.Load())
	return Ratio{Name: "GetOrder gateway JSON ÷ direct gRPC", Value: gwSide.rate() / grpcSide.rate(), Goal: 0.70,
		Detail: fmt.Sprintf("%.0f/s vs %.0f/s at concurrency %d", gwSide.rate(), grpcSide.rate(), conc), Errors: gwSide.bad + grpcSide.bad}, nil
}

type loopResult struct {
	ok, bad int64
	elapsed time.Duration
	cpu     map[string]float64 // process -> CPU ms spent meanwhile
}

func (l *loopResult) add(o loopResult) {
	l.ok, l.bad, l.elapsed = l.ok+o.ok, l.bad+o.bad, l.elapsed+o.elapsed
	if l.cpu == nil {
		l.cpu = map[string]float64{}
	}
	for k, v := range o.cpu {
		l.cpu[k] += v
	}
}

func (l loopResult) rate() float64 { return float64(l.ok) / l.elapsed.Seconds() }

// cpuPerCall is "0.42 ms (client 0.12, gateway 0.10, order 0.20)" (ms per call made).
func (l loopResult) cpuPerCall() string {
	n := float64(l.ok + l.bad)
	if n == 0 {
		return "-"
	}
	var total float64
	var parts []string
	for _, k := range []string{"client", "gateway", "order"} {
		total += l.cpu[k]
		parts = append(parts, fmt.Sprintf("%s %.3f", k, l.cpu[k]/n))
	}
	return fmt.Sprintf("%.3f ms (%s)", total/n, strings.Join(parts, ", "))
}

func cpuOf(pids map[string]int) map[string]float64 {
	out := map[string]float64{}
	for name, pid := range pids {
		if ms, err := loadgen.ProcessCPUms(pid); err == nil {
			out[name] = ms
		}
	}
	return out
}

func subCPU(after, before map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		out[k] = v - before[k]
	}
	return out
}

// closedLoopN runs fn from conc workers until n calls were made.
func closedLoopN(ctx context.Context, conc, n int, fn func(i int) error) loopResult {
	var ok, bad, next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if fn(int(i)) == nil {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return loopResult{ok: ok.Load(), bad: bad.Load(), elapsed: time.Since(start)}
}

// createOrderAnchor is `make bench`'s CreateOrder anchor (pkg/orderanchor) on the suite's own
// order service and database: CreateOrder over gRPC ÷ the bare SQL transaction of the same
// shape (with the pay-deadline outbox row: the suite runs with a broker), on the run's goods
// SKUs and on its hot SKU, each order a new user. It runs after the invariants were checked,
// so its orders (left unpaid, due in ORDER_PAY_TIMEOUT) are no part of the books checked.
func createOrderAnchor(ctx context.Context, out io.Writer, s *localsuite.Suite, goods []string, hot string, conc int, d time.Duration, rounds int) ([]Ratio, error) {
	ids := &scratch.Identities{Dir: s.TLSDir}
	var clients []orderv1.OrderServiceClient
	for range 4 { // as the bench: four connections, round robin
		conn, err := ids.Dial(tlsx.Admin, tlsx.Order, s.GRPCAddr("order"))
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		clients = append(clients, orderv1.NewOrderServiceClient(conn))
	}
	sqlDB, err := sql.Open("mysql", s.DSN("order"))
	if err != nil {
		return nil, err
	}
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(conc)
	sqlDB.SetMaxIdleConns(conc)
	node, err := snowflake.NewNode(1000) // the suite's order service is another node
	if err != nil {
		return nil, err
	}
	bare := orderanchor.BareSQL(sqlDB, node, suitePayTimeout, true)
	viaGRPC := orderanchor.OverGRPC(clients)
	fmt.Fprintf(out, "anchor CreateOrder, %d concurrent clients, %s a side per scenario (alternating in %d slices):\n", conc, d, rounds)
	orderanchor.Header(out)
	var ratios []Ratio
	for _, sc := range []struct {
		name string
		skus []string
	}{
		{fmt.Sprintf("spread over %d SKUs", len(goods)), goods},
		{"one hot SKU", []string{hot}},
	} {
		c := orderanchor.Compare(ctx, sc.name, "anchor", conc, d, rounds, sc.skus, bare, viaGRPC)
		c.Print(out)
		ratios = append(ratios, Ratio{Name: "CreateOrder gRPC ÷ bare SQL, " + sc.name, Value: c.Ratio(), Goal: 0.80,
			Detail: fmt.Sprintf("%.0f/s vs %.0f/s", c.GRPC.Rate(), c.Bare.Rate()), Errors: c.GRPC.Errors + c.Bare.Errors})
	}
	return ratios, nil
}

// suitePayTimeout is the suite's ORDER_PAY_TIMEOUT (the service's default; localsuite sets none).
const suitePayTimeout = 30 * time.Minute

func devToken(ctx context.Context, client *http.Client, gateway, user string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gateway+"/dev/token", strings.NewReader(fmt.Sprintf(`{"userId":%q}`, user)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("dev token: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Token, nil
}
