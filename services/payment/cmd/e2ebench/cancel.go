package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

// cancelPhase leaves o.cancel orders unpaid on the 3s and 6s order instances (every
// o.attemptEvery-th with an open provider trade) and measures cancelled_at - pay_deadline once
// the deadline consumers, which first ask the payment service to ClosePayments, have cancelled
// them all.
func cancelPhase(ctx context.Context, st *stack, o options) error {
	fmt.Printf("\n== cancel lateness: %d unpaid orders at %d/s, timeouts 3s and 6s, payment service closing trades at each expiry", o.cancel, o.cancelRate)
	if o.attemptEvery > 0 {
		fmt.Printf(" (1 in %d with an open provider trade)", o.attemptEvery)
	}
	fmt.Println()
	tick := time.NewTicker(time.Second / time.Duration(max(o.cancelRate, 1)))
	defer tick.Stop()
	var (
		wg                 sync.WaitGroup
		failed, attemptErr atomic.Int64
		firstErr           atomic.Value
	)
	started := time.Now()
	for i := range o.cancel {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		wg.Go(func() {
			client := st.orders[1+i%2]
			ord, err := client.CreateOrder(ctx, &orderv1.CreateOrderRequest{UserId: fmt.Sprint("e2e-c", i), RequestId: "r",
				Items: []*orderv1.CreateOrderItem{{SkuId: benchSKU, Quantity: 1}}})
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			if o.attemptEvery <= 0 || i%o.attemptEvery != 0 {
				return
			}
			ch := paymentv1.Channel_ALIPAY_QR
			if (i/o.attemptEvery)%2 == 1 {
				ch = paymentv1.Channel_WECHAT_NATIVE
			}
			if _, err := st.payments.CreatePayment(ctx, &paymentv1.CreatePaymentRequest{OrderId: ord.GetOrderId(), Channel: ch}); err != nil {
				attemptErr.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		})
	}
	wg.Wait()
	fmt.Printf("created in %s (%d create failures, %d payment attempts refused)\n", time.Since(started).Round(time.Millisecond), failed.Load(), attemptErr.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Println("  first error:", e)
	}
	for {
		var pending int
		if err := st.dbs.order.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders WHERE user_id LIKE 'e2e-c%' AND status = 'PENDING_PAYMENT'").Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			break
		}
		if time.Since(started) > 10*time.Minute {
			return fmt.Errorf("%d orders still PENDING_PAYMENT after 10 minutes", pending)
		}
		time.Sleep(250 * time.Millisecond)
	}
	rows, err := st.dbs.order.QueryContext(ctx, "SELECT TIMESTAMPDIFF(MICROSECOND, pay_deadline, cancelled_at) FROM orders WHERE user_id LIKE 'e2e-c%' AND status = 'CANCELLED'")
	if err != nil {
		return err
	}
	var late []time.Duration
	early := 0
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			rows.Close()
			return err
		}
		if us < 0 {
			early++
		}
		late = append(late, time.Duration(us)*time.Microsecond)
	}
	rows.Close()
	fmt.Printf("cancelled_at - pay_deadline:  %s  (%d cancelled before their deadline)\n", percentiles(late), early)
	orders, _, err := groupCount(ctx, st.dbs.order, "SELECT CONCAT(status, ' ', cancel_reason), COUNT(*) FROM orders WHERE user_id LIKE 'e2e-c%' GROUP BY 1")
	if err != nil {
		return err
	}
	pays, byStatus, err := groupCount(ctx, st.dbs.payment, "SELECT CONCAT(status, ' ', close_reason), COUNT(*) FROM payments WHERE user_id LIKE 'e2e-c%' GROUP BY 1")
	if err != nil {
		return err
	}
	fmt.Printf("orders: %s; their payment attempts: %s\n", orders, pays)
	for k, n := range byStatus {
		if len(k) < 6 || k[:6] != "CLOSED" {
			return fmt.Errorf("%d attempts of cancelled orders are %s, want CLOSED", n, k)
		}
	}
	if early > 0 {
		return fmt.Errorf("%d orders cancelled before their deadline", early)
	}
	return nil
}
