package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/paysuite/paysuite/pkg/orderanchor"
	"github.com/paysuite/paysuite/pkg/scratch"
	"github.com/paysuite/paysuite/pkg/tlsx"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	"github.com/paysuite/paysuite/services/order/service"
)

// cancelLateness leaves o.lateness orders unpaid on two more instances with short timeouts
// and measures cancelled_at - pay_deadline once the deadline messages have cancelled them all.
func cancelLateness(ctx context.Context, o options, dsn, amqpURL string, skus []string, sqlDB *sql.DB, log *slog.Logger) error {
	ids, err := scratch.NewIdentities()
	if err != nil {
		return err
	}
	defer ids.Remove()
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	var clients []orderv1.OrderServiceClient
	for i, timeout := range []time.Duration{3 * time.Second, 6 * time.Second} {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr := lis.Addr().String()
		lis.Close()
		done := make(chan error, 1)
		wg.Go(func() {
			done <- service.Run(ctx, service.Config{GRPCAddr: addr, MySQLDSN: dsn, PayTimeout: timeout,
				SweepInterval: time.Hour, SweepGrace: time.Minute, SnowflakeNode: int64(10 + i), AMQPURL: amqpURL,
				TLS: ids.Files(tlsx.Order)}, log)
		})
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
	started := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(max(o.rate, 1)))
	defer tick.Stop()
	grpcCreate := orderanchor.OverGRPC(clients)
	paced := func(ctx context.Context, user, request, sku string) (bool, error) {
		<-tick.C
		return grpcCreate(ctx, user, request, sku)
	}
	created := orderanchor.MeasureN(ctx, "late", o.concurrency, skus, paced, int64(o.lateness))
	const short = "TIMESTAMPDIFF(SECOND, created_at, pay_deadline) < 60"
	for {
		var pending int
		if err := sqlDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders WHERE status = 'PENDING_PAYMENT' AND "+short).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			break
		}
		if time.Since(started) > 5*time.Minute {
			return fmt.Errorf("%d orders still unpaid and uncancelled after 5 minutes", pending)
		}
		time.Sleep(500 * time.Millisecond)
	}
	rows, err := sqlDB.QueryContext(ctx, "SELECT TIMESTAMPDIFF(MICROSECOND, pay_deadline, cancelled_at) FROM orders WHERE status = 'CANCELLED' AND "+short)
	if err != nil {
		return err
	}
	defer rows.Close()
	var late orderanchor.Result
	early := 0
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			return err
		}
		if us < 0 {
			early++
		}
		late.Lat = append(late.Lat, time.Duration(us)*time.Microsecond)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	late.Sort()
	fmt.Printf("cancel lateness, %d unpaid orders (timeouts 3s and 6s, created at %.0f/s): p50 %.0f ms, p99 %.0f ms, max %.0f ms, cancelled early: %d\n",
		len(late.Lat), created.Rate(), orderanchor.Ms(late.P(50)), orderanchor.Ms(late.P(99)), orderanchor.Ms(late.P(100)), early)
	if early > 0 {
		return fmt.Errorf("%d orders cancelled before their deadline", early)
	}
	return nil
}
