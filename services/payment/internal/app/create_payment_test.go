package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

func TestCreatePayment(t *testing.T) {
	pending := Order{ID: 10, UserID: "u1", Status: OrderPendingPayment, Total: 9900, PayDeadline: t0.Add(30 * time.Minute),
		Items: []payment.Item{{SkuID: "mug", Title: "Gopher mug", Kind: "GOODS", Quantity: 1, UnitPriceFen: 9900}}}
	with := func(change func(*Order)) Order { o := pending; change(&o); return o }
	for _, tc := range []struct {
		name    string
		who     principal.Caller // zero: a system call
		orderID int64
		channel payment.Channel
		order   Order
		setup   func(*memStore, *fakeChannel)
		wantErr error
		prepaid bool   // the provider was asked to open a trade
		wantID  int64  // the attempt answered
		wantQR  string // its QR code
		subject string
		stored  int // attempts stored at the end
	}{
		{name: "a new attempt opens a trade for the order's total",
			orderID: 10, order: pending, prepaid: true, wantID: 101, wantQR: "qr://PS101", subject: "Gopher mug", stored: 1},
		{name: "an order of several items is named by its id",
			orderID: 10, order: with(func(o *Order) { o.Items = append(o.Items, payment.Item{SkuID: "pen", Title: "Pen"}) }),
			prepaid: true, wantID: 101, wantQR: "qr://PS101", subject: "paysuite order #10", stored: 1},
		{name: "the order's owner pays it",
			who: principal.AsUser(principal.Principal{UserID: "u1"}), orderID: 10, order: pending,
			prepaid: true, wantID: 101, wantQR: "qr://PS101", subject: "Gopher mug", stored: 1},
		{name: "another customer's order is not found, and no trade opens",
			who: principal.AsUser(principal.Principal{UserID: "u2"}), orderID: 10, order: pending, wantErr: payment.ErrOrderNotFound},
		{name: "merchant staff do not pay for a buyer",
			who: principal.AsUser(principal.Principal{UserID: "staff", Roles: []string{"merchant"}}), orderID: 10, order: pending,
			wantErr: payment.ErrNotYours},
		{name: "no order id is invalid", orderID: 0, order: pending, wantErr: payment.ErrMissingOrderID},
		{name: "an unknown channel is invalid", orderID: 10, channel: "CASH", order: pending, wantErr: payment.ErrInvalidChannel},
		{name: "a channel this deployment has not configured is invalid",
			orderID: 10, channel: payment.ChannelWechatNative, order: pending, wantErr: payment.ErrInvalidChannel},
		{name: "an order the order service does not know", orderID: 11, order: pending, wantErr: payment.ErrOrderNotFound},
		{name: "a paid order cannot be paid again",
			orderID: 10, order: with(func(o *Order) { o.Status = OrderPaid }), wantErr: payment.ErrOrderNotPayable},
		{name: "a cancelled order cannot be paid",
			orderID: 10, order: with(func(o *Order) { o.Status = OrderCancelled }), wantErr: payment.ErrOrderNotPayable},
		{name: "an order about to expire gets no trade",
			orderID: 10, order: with(func(o *Order) { o.PayDeadline = t0.Add(time.Second) }), wantErr: payment.ErrOrderExpiring},
		{name: "an order of nothing cannot be paid",
			orderID: 10, order: with(func(o *Order) { o.Total = 0 }), wantErr: payment.ErrOrderNotPayable},
		{name: "the provider fails: unavailable, the attempt stays for the poller to close",
			orderID: 10, order: pending, setup: func(_ *memStore, c *fakeChannel) { c.prepayErr = errors.New("timeout") },
			wantErr: ErrProviderUnavailable, prepaid: true, stored: 1},
		{name: "the live attempt on this channel is answered again, without a second trade",
			orderID: 10, order: pending,
			setup: func(s *memStore, _ *fakeChannel) {
				p := attempt(payment.StatusWaiting)
				p.QRCode = "qr://PS1"
				s.payments[p.ID] = *p
			},
			wantID: 1, wantQR: "qr://PS1", stored: 1},
		{name: "a live attempt whose prepay failed is prepaid again",
			orderID: 10, order: pending,
			setup:   func(s *memStore, _ *fakeChannel) { s.payments[1] = *attempt(payment.StatusWaiting) },
			prepaid: true, wantID: 1, wantQR: "qr://PS1", subject: "Gopher mug", stored: 1},
		{name: "a closed attempt does not stop a new one",
			orderID: 10, order: pending,
			setup:   func(s *memStore, _ *fakeChannel) { s.payments[1] = *attempt(payment.StatusClosed) },
			prepaid: true, wantID: 101, wantQR: "qr://PS101", subject: "Gopher mug", stored: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore()
			alipay := &fakeChannel{}
			if tc.setup != nil {
				tc.setup(store, alipay)
			}
			orders := &fakeOrders{order: tc.order}
			ch := tc.channel
			if ch == "" {
				ch = payment.ChannelAlipayQR
			}
			a := newTestApp(store, orders, alipay)

			p, _, err := a.CreatePayment(context.Background(), tc.who, tc.orderID, ch, payment.Payer{})

			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got := len(store.payments); got != tc.stored {
				t.Fatalf("%d attempts stored, want %d", got, tc.stored)
			}
			if (len(alipay.prepays) == 1) != tc.prepaid || len(alipay.prepays) > 1 {
				t.Fatalf("%d prepays, want prepaid=%v", len(alipay.prepays), tc.prepaid)
			}
			if tc.prepaid {
				req := alipay.prepays[0]
				if req.Amount != tc.order.Total || req.Subject != tc.subject && tc.subject != "" || !req.ExpireAt.Before(tc.order.PayDeadline) {
					t.Fatalf("prepay %+v: want the order's %d fen, subject %q, expiring before the order", req, tc.order.Total, tc.subject)
				}
			}
			if tc.wantErr != nil {
				if p != nil {
					t.Fatalf("a refused create answered %+v", p)
				}
				if left := store.payment(101); tc.stored > 0 && (left.Status != payment.StatusWaiting || left.QRCode != "" || store.tasksOf(TaskPollTrade, 101) != 1) {
					t.Fatalf("the attempt left by a failed prepay is %+v with %d poll tasks; want WAITING, no QR, polled", left, store.tasksOf(TaskPollTrade, 101))
				}
				return
			}
			if p.ID != tc.wantID || p.QRCode != tc.wantQR || p.Status != payment.StatusWaiting || p.Amount != tc.order.Total {
				t.Fatalf("answered %+v, want attempt %d with QR %q for %d fen", p, tc.wantID, tc.wantQR, tc.order.Total)
			}
			if stored := store.payment(p.ID); stored.QRCode != tc.wantQR {
				t.Fatalf("stored QR %q, want %q", stored.QRCode, tc.wantQR)
			}
			if p.ID == 101 && (store.tasksOf(TaskPollTrade, 101) != 1 || p.OutTradeNo != "PS101") {
				t.Fatalf("new attempt: %d poll tasks, out_trade_no %s", store.tasksOf(TaskPollTrade, 101), p.OutTradeNo)
			}
		})
	}
}
