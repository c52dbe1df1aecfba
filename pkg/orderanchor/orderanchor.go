// Package orderanchor is the CreateOrder anchor: CreateOrder over gRPC against the bare SQL
// transaction of the same shape, closed-loop at the same concurrency, alternating in slices so
// both meet the same machine noise. `make bench` (services/order/cmd/bench, on a fresh database
// and an in-process service) and `make load` (pkg/harness, on the suite it started) both
// measure it with this code.
package orderanchor

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/snowflake"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
)

// CreateFn places one order of one unit of sku; refused means a business refusal (out of stock).
type CreateFn func(ctx context.Context, user, request, sku string) (refused bool, err error)

// OverGRPC calls the service's CreateOrder, round robin over clients.
func OverGRPC(clients []orderv1.OrderServiceClient) CreateFn {
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

// BareSQL is the service's CreateOrder transaction written directly on database/sql: read the
// catalog price, then insert the order, its item and (outbox: the service runs with a broker)
// its pay-deadline outbox row, and take the stock, in one transaction. payTimeout is the
// service's (ORDER_PAY_TIMEOUT): the outbox row names the delay queue the service's relay
// publishes to ("paysuite.order.pay-timeout.<timeout>", as services/order's AMQP port names it).
func BareSQL(sqlDB *sql.DB, node *snowflake.Node, payTimeout time.Duration, outbox bool) CreateFn {
	queue := "paysuite.order.pay-timeout." + payTimeout.String()
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
			VALUES (?, ?, ?, 'PENDING_PAYMENT', ?, ?, ?, ?)`, id, user, request, price, now, now.Add(payTimeout), now); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO order_items (order_id, sku_id, title, kind, unit_price_fen, quantity) VALUES (?, ?, ?, ?, ?, ?)",
			id, sku, title, kind, price, 1); err != nil {
			return false, err
		}
		if outbox {
			body, _ := proto.Marshal(&eventsv1.OrderPayDeadline{OrderId: id, PayDeadline: timestamppb.New(now.Add(payTimeout))})
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_messages (message_id, exchange, routing_key, type, content_type, body, created_at)
				VALUES (?, '', ?, 'paysuite.events.v1.OrderPayDeadline', 'application/x-protobuf', ?, ?)`,
				fmt.Sprint("order-pay-deadline-", id), queue, body, now); err != nil {
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

// Result of one side: orders placed, refusals, errors, time and latencies.
type Result struct {
	OK, Refused, Errors int64
	Elapsed             time.Duration
	Lat                 []time.Duration
}

// Rate is orders placed per second.
func (r Result) Rate() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// P is the q-th latency percentile (the slice is sorted).
func (r Result) P(q float64) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	return r.Lat[int(math.Ceil(q/100*float64(len(r.Lat))))-1]
}

// Add sums another slice's result into r (Sort afterwards).
func (r *Result) Add(o Result) {
	r.OK += o.OK
	r.Refused += o.Refused
	r.Errors += o.Errors
	r.Elapsed += o.Elapsed
	r.Lat = append(r.Lat, o.Lat...)
}

// Sort sorts the latencies for P.
func (r *Result) Sort() { slices.Sort(r.Lat) }

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Print writes one row of the table Header begins.
func (r Result) Print(w io.Writer, name string) {
	fmt.Fprintf(w, "%-34s %10.0f %9.2f %9.2f %9d %7d\n", name, r.Rate(), Ms(r.P(50)), Ms(r.P(99)), r.Refused, r.Errors)
}

// Header is the table's header.
func Header(w io.Writer) {
	fmt.Fprintf(w, "%-34s %10s %9s %9s %9s %7s\n", "", "orders/s", "p50 ms", "p99 ms", "refused", "errors")
}

var phases atomic.Int64

// Measure runs concurrency clients for d; calls in flight at the end complete.
func Measure(ctx context.Context, users string, concurrency int, d time.Duration, skus []string, create CreateFn) Result {
	return run(ctx, users, concurrency, skus, create, time.Now().Add(d), math.MaxInt64)
}

// MeasureN runs concurrency clients until n orders were attempted.
func MeasureN(ctx context.Context, users string, concurrency int, skus []string, create CreateFn, n int64) Result {
	return run(ctx, users, concurrency, skus, create, time.Now().Add(time.Hour), n)
}

// run: every order is a new user (users-<phase>-<client>-<i>), so no per-user limit applies.
func run(ctx context.Context, users string, clients int, skus []string, create CreateFn, end time.Time, limit int64) Result {
	phase := phases.Add(1)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		total    Result
		attempts atomic.Int64
		logged   atomic.Int64
	)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			var r Result
			for i := 0; ; i++ {
				if time.Now().After(end) || ctx.Err() != nil || attempts.Add(1) > limit {
					break
				}
				user := fmt.Sprintf("%s-%d-%d-%d", users, phase, c, i)
				sku := skus[(c*7919+i*104729)%len(skus)]
				t0 := time.Now()
				refused, err := create(ctx, user, "r", sku)
				d := time.Since(t0)
				switch {
				case err != nil:
					r.Errors++
					if logged.Add(1) <= 5 {
						fmt.Fprintln(os.Stderr, "create:", err)
					}
				case refused:
					r.Refused++
				default:
					r.OK++
					r.Lat = append(r.Lat, d)
				}
			}
			mu.Lock()
			total.OK += r.OK
			total.Refused += r.Refused
			total.Errors += r.Errors
			total.Lat = append(total.Lat, r.Lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.Elapsed = time.Since(start)
	slices.Sort(total.Lat)
	return total
}

// Comparison is one scenario's two sides.
type Comparison struct {
	Name       string
	Bare, GRPC Result
}

// Ratio is gRPC throughput ÷ bare SQL throughput.
func (c Comparison) Ratio() float64 { return c.GRPC.Rate() / c.Bare.Rate() }

// Compare measures both sides for d each, alternating in rounds slices (bare first in even
// rounds, gRPC first in odd ones).
func Compare(ctx context.Context, name, users string, concurrency int, d time.Duration, rounds int, skus []string, bare, viaGRPC CreateFn) Comparison {
	rounds = max(rounds, 1)
	c := Comparison{Name: name}
	slice := d / time.Duration(rounds)
	for r := range rounds {
		if r%2 == 0 {
			c.Bare.Add(Measure(ctx, users, concurrency, slice, skus, bare))
			c.GRPC.Add(Measure(ctx, users, concurrency, slice, skus, viaGRPC))
		} else {
			c.GRPC.Add(Measure(ctx, users, concurrency, slice, skus, viaGRPC))
			c.Bare.Add(Measure(ctx, users, concurrency, slice, skus, bare))
		}
	}
	c.Bare.Sort()
	c.GRPC.Sort()
	return c
}

// Print writes both rows and the ratio line.
func (c Comparison) Print(w io.Writer) {
	c.Bare.Print(w, c.Name+" / bare SQL")
	c.GRPC.Print(w, c.Name+" / gRPC service")
	fmt.Fprintf(w, "%-34s %10.2f (throughput), p50 %.2f×, p99 %.2f×\n", c.Name+" / ratio",
		c.Ratio(), Ms(c.GRPC.P(50))/Ms(c.Bare.P(50)), Ms(c.GRPC.P(99))/Ms(c.Bare.P(99)))
}

// Seed adds GOODS SKUs with the given stock (what a catalog import does).
func Seed(ctx context.Context, sqlDB *sql.DB, stock map[string]int64) error {
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
