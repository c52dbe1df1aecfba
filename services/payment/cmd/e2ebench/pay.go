package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/proto"

	"github.com/paysuite/paysuite/pkg/amqpx"
	eventsv1 "github.com/paysuite/paysuite/proto/gen/paysuite/events/v1"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

// results records when each payment's PAYMENT_SUCCEEDED was consumed from the fanout, by a
// consumer of our own bound to paysuite.payment.results (as any downstream team's would be).
type results struct {
	mu        sync.Mutex
	succeeded map[int64]time.Time
}

func consumeResults(ctx context.Context, amqpURL string) (*results, error) {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := amqpx.DeclarePaymentResults(ch); err != nil {
		return nil, err
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return nil, err
	}
	if err := ch.QueueBind(q.Name, "", amqpx.PaymentResultsExchange, false, nil); err != nil {
		return nil, err
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		return nil, err
	}
	r := &results{succeeded: map[int64]time.Time{}}
	go func() {
		for d := range deliveries {
			at := time.Now()
			var m eventsv1.PaymentResult
			if proto.Unmarshal(d.Body, &m) != nil || m.GetType() != eventsv1.PaymentResultType_PAYMENT_SUCCEEDED {
				continue
			}
			r.mu.Lock()
			if _, seen := r.succeeded[m.GetPaymentId()]; !seen {
				r.succeeded[m.GetPaymentId()] = at
			}
			r.mu.Unlock()
		}
	}()
	return r, nil
}

func (r *results) at(paymentID int64) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.succeeded[paymentID]
	return t, ok
}

type paid struct {
	payment   *paymentv1.Payment
	paidAt    time.Time // the buyer's POST /sandbox/pay answered
	orderPaid time.Time // GetOrder first read PAID
	err       error
}

// payPhase pays o.orders orders through the sandbox at o.rate per second.
func payPhase(ctx context.Context, st *stack, o options) error {
	events, err := consumeResults(ctx, st.amqpURL)
	if err != nil {
		return err
	}
	fmt.Printf("\n== pay: %d orders at %d/s through the sandbox (both channels), notify → PAYMENT_SUCCEEDED consumed and order PAID\n", o.orders, o.rate)
	list := make([]*paid, o.orders)
	tick := time.NewTicker(time.Second / time.Duration(max(o.rate, 1)))
	defer tick.Stop()
	var wg sync.WaitGroup
	started := time.Now()
	for i := range o.orders {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		p := &paid{}
		list[i] = p
		wg.Go(func() { p.err = payOne(ctx, st, i, p) })
	}
	wg.Wait()
	fmt.Printf("paid %d orders in %s\n", o.orders, time.Since(started).Round(time.Millisecond))

	var toEvent, toOrder, toBoth, payToAck []time.Duration
	var failed, noAck, noEvent int
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range list {
		if p.err != nil {
			failed++
			if failed <= 3 {
				fmt.Println("  failed:", p.err)
			}
			continue
		}
		ack, ok := st.acks.ackedAt(p.payment.GetOutTradeNo())
		if !ok {
			noAck++
			continue
		}
		var ev time.Time
		for {
			if ev, ok = events.at(p.payment.GetPaymentId()); ok || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !ok {
			noEvent++
			continue
		}
		payToAck = append(payToAck, ack.Sub(p.paidAt))
		toEvent = append(toEvent, ev.Sub(ack))
		toOrder = append(toOrder, p.orderPaid.Sub(ack))
		last := ev
		if p.orderPaid.After(last) {
			last = p.orderPaid
		}
		toBoth = append(toBoth, last.Sub(ack))
	}
	fmt.Printf("buyer paid → notify acknowledged by payment:    %s\n", percentiles(payToAck))
	fmt.Printf("notify acked → PAYMENT_SUCCEEDED consumed:       %s\n", percentiles(toEvent))
	fmt.Printf("notify acked → order reads PAID (GetOrder/2ms):  %s\n", percentiles(toOrder))
	fmt.Printf("notify acked → both:                             %s\n", percentiles(toBoth))
	if failed+noAck+noEvent > 0 {
		return fmt.Errorf("%d failed, %d never acked, %d without a PAYMENT_SUCCEEDED event", failed, noAck, noEvent)
	}
	return nil
}

func payOne(ctx context.Context, st *stack, i int, p *paid) error {
	o, err := st.orders[0].CreateOrder(ctx, &orderv1.CreateOrderRequest{UserId: fmt.Sprint("e2e-p", i), RequestId: "r",
		Items: []*orderv1.CreateOrderItem{{SkuId: benchSKU, Quantity: 1}}})
	if err != nil {
		return fmt.Errorf("create order: %w", err)
	}
	ch := paymentv1.Channel_ALIPAY_QR
	if i%2 == 1 {
		ch = paymentv1.Channel_WECHAT_NATIVE
	}
	if p.payment, err = st.payments.CreatePayment(ctx, &paymentv1.CreatePaymentRequest{OrderId: o.GetOrderId(), Channel: ch}); err != nil {
		return fmt.Errorf("create payment: %w", err)
	}
	p.paidAt = time.Now() // the buyer presses pay
	if err := sandboxPay(ctx, st.sandbox, p.payment.GetQrCode()); err != nil {
		return err
	}
	deadline := p.paidAt.Add(60 * time.Second)
	for time.Now().Before(deadline) {
		got, err := st.orders[0].GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: o.GetOrderId()})
		if err == nil && got.GetStatus() == orderv1.OrderStatus_PAID {
			p.orderPaid = time.Now()
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("order %d not PAID 60s after the buyer paid", o.GetOrderId())
}

func sandboxPay(ctx context.Context, base, qr string) error {
	b, _ := json.Marshal(map[string]string{"qrCode": qr})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/sandbox/pay", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("sandbox pay: HTTP %d %s", resp.StatusCode, body)
	}
	return nil
}
