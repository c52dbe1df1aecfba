package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"slices"
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
