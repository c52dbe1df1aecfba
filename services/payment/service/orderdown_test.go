package service_test

import (
	"testing"

	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
)

// A payment that succeeds while the order service is down is not lost: the durable
// mark-order-paid task keeps trying and the order becomes PAID once it is back.
func TestOrderServiceDownWhenPaid(t *testing.T) {
	e := start(t)
	o := e.order("goods-sticker-pack", 1)
	p := e.pay(o, paymentv1.Channel_WECHAT_NATIVE)
	e.stopOrd()
	e.buyerPays(p.GetQrCode())
	e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
	testkit.Eventually(t, wait, func() bool {
		return e.count("SELECT COUNT(*) FROM tasks WHERE kind = 'mark-order-paid' AND attempt >= 1") == 1
	}, "the mark-order-paid task never tried")
	e.startOrders()
	e.stack.Dial(tlsx.Order, e.orderCfg.GRPCAddr)
	e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
	testkit.Eventually(t, wait, func() bool {
		return e.count("SELECT COUNT(*) FROM tasks WHERE kind = 'mark-order-paid'") == 0
	}, "the mark-order-paid task is still there after the order was paid")
}
