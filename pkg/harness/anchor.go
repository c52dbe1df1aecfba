package harness

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/paysuite/paysuite/pkg/localsuite"
	"github.com/paysuite/paysuite/pkg/scratch"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// getOrderMethod is OrderService.GetOrder. pkg does not depend on the generated code
// (proto/gen), so the anchor sends GetOrderRequest{order_id = 1} as a wrapperspb.Int64Value
// (also field 1, int64: the same bytes on the wire) and reads the Order into emptypb.Empty, which
// still parses the whole message (kept as unknown fields): the same work a typed client does.
const getOrderMethod = "/paysuite.order.v1.OrderService/GetOrder"

// getOrderAnchor compares GetOrder through the gateway (HTTP+JSON, the owner's token) with a
// direct gRPC call to the order service (admin's mTLS identity), each closed-loop at the same
// concurrency for d, on the run's paid orders.
func getOrderAnchor(ctx context.Context, out io.Writer, s *localsuite.Suite, conc int, d time.Duration) error {
	type target struct {
		id   int64
		user string
	}
	db, err := sql.Open("mysql", s.DSN("order"))
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, "SELECT order_id, user_id FROM orders WHERE status = 'PAID' LIMIT 500")
	if err != nil {
		db.Close()
		return err
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
		return fmt.Errorf("no paid orders to read")
	}
	ids := &scratch.Identities{Dir: s.TLSDir}
	conn, err := ids.Dial(tlsx.Admin, tlsx.Order, s.GRPCAddr("order"))
	if err != nil {
		return err
	}
	defer conn.Close()
	// Tokens first, outside the timed part.
	tokens := map[string]string{}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}
	for _, t := range targets {
		if _, ok := tokens[t.user]; ok {
			continue
		}
		tok, err := devToken(ctx, client, s.GatewayURL(), t.user)
		if err != nil {
			return err
		}
		tokens[t.user] = tok
	}
	grpcRate, grpcErr := closedLoop(ctx, conc, d, func(i int) error {
		t := targets[i%len(targets)]
		var o emptypb.Empty
		return conn.Invoke(ctx, getOrderMethod, wrapperspb.Int64(t.id), &o, grpc.WaitForReady(true))
	})
	gwRate, gwErr := closedLoop(ctx, conc, d, func(i int) error {
		t := targets[i%len(targets)]
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/orders/%d", s.GatewayURL(), t.id), nil)
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
	})
	fmt.Fprintf(out, "anchor GetOrder at concurrency %d: direct gRPC %.0f/s (%d errors), gateway JSON %.0f/s (%d errors): ratio %.2f (goal ≥ 0.70)\n",
		conc, grpcRate, grpcErr, gwRate, gwErr, gwRate/grpcRate)
	return nil
}

// closedLoop runs fn from conc workers for d and returns successful calls per second and errors.
func closedLoop(ctx context.Context, conc int, d time.Duration, fn func(i int) error) (float64, int64) {
	var ok, bad, next atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if fn(int(next.Add(1))) == nil {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(ok.Load()) / time.Since(start).Seconds(), bad.Load()
}

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
