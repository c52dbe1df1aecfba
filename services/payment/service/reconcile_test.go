package service_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysuite/paysuite/pkg/testkit"
	orderv1 "github.com/paysuite/paysuite/proto/gen/paysuite/order/v1"
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/service"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
	"github.com/paysuite/paysuite/services/sandbox/emulatortest"
)

// billsNow makes the sandbox serve today's bill with the rows so far (SANDBOX_BILL_READY_DELAY=-24h).
func billsNow(c *emulator.Config) { c.BillReadyDelay = -24 * time.Hour }

func startRecon(t *testing.T, tweak ...func(*service.Config)) *env {
	t.Helper()
	e := newEnvOn(t, []emulatortest.Option{billsNow}, nil, tweak...)
	e.run()
	return e
}

func today() string { return time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02") }

func (e *env) reconcile(ch paymentv1.Channel) *paymentv1.Reconciliation {
	e.t.Helper()
	r, err := e.payments.RunReconciliation(context.Background(), &paymentv1.RunReconciliationRequest{Channel: ch, BillDate: today()})
	if err != nil {
		e.t.Fatalf("RunReconciliation(%s): %v", ch, err)
	}
	return r
}

// rerunChangesNothing runs r's day again (on ch): the same reconciliation and discrepancies, no
// second repair, and the day's fees through recon_fees one per bill row (the rerun doubled none),
// adding up to the report's.
func (e *env) rerunChangesNothing(t *testing.T, ch paymentv1.Channel, r *paymentv1.Reconciliation, want []string) {
	t.Helper()
	refunds := e.count("SELECT COUNT(*) FROM refunds")
	again := e.reconcile(ch)
	if again.GetReconciliationId() != r.GetReconciliationId() || again.GetRuns() != 2 || fmt.Sprint(discrepancySet(again)) != fmt.Sprint(want) {
		t.Fatalf("rerun = %+v, want the same reconciliation and discrepancies", again)
	}
	time.Sleep(200 * time.Millisecond) // let anything a rerun wrongly started show
	if n := e.count("SELECT COUNT(*) FROM refunds"); n != refunds {
		t.Fatalf("the rerun made %d more refunds", n-refunds)
	}
	// The day's fees through recon_fees: one per bill row (the rerun doubled none), adding
	// up to the report's.
	if n := e.count("SELECT COUNT(*) FROM recon_fees WHERE channel = ? AND bill_date = ?", again.GetChannel().String(), again.GetBillDate()); n != int(again.GetBillRows()) || n == 0 {
		t.Fatalf("%d fees of the day after the rerun, want one per bill row (%d)", n, again.GetBillRows())
	}
	if n := e.count("SELECT SUM(fee_fen) FROM recon_fees WHERE channel = ? AND bill_date = ?", again.GetChannel().String(), again.GetBillDate()); int64(n) != again.GetFeeFen() {
		t.Fatalf("the day's fees add up to %d, the report says %d", n, again.GetFeeFen())
	}
}

// paid is an order paid on ch with its notify.
func (e *env) paid(sku string, ch paymentv1.Channel) (*orderv1.Order, *paymentv1.Payment) {
	e.t.Helper()
	o := e.order(sku, 1)
	p := e.pay(o, ch)
	e.buyerPays(p.GetQrCode())
	e.waitOrderStatus(o.GetOrderId(), orderv1.OrderStatus_PAID)
	return o, e.waitPaymentStatus(p.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
}

func discrepancySet(r *paymentv1.Reconciliation) []string {
	var out []string
	for _, d := range r.GetDiscrepancies() {
		out = append(out, fmt.Sprintf("%s %s %s ledger=%d provider=%d %s", d.GetKind(), d.GetOutTradeNo(), d.GetOutRefundNo(),
			d.GetLedgerFen(), d.GetProviderFen(), d.GetAction()))
	}
	sort.Strings(out)
	return out
}

// One day of mixed traffic per channel with each discrepancy made on purpose — a tampered amount,
// a console refund, a payment whose notifies and queries were lost, another system's sale —
// then the reconciliation: each found with its kind and action, the ledger and the orders
// repaired exactly where the rules say, and a rerun changing nothing.
func TestReconciliationFindsAndRepairs(t *testing.T) {
	e := startRecon(t)
	ctx := t.Context()
	for _, tc := range []struct {
		ch       paymentv1.Channel
		provider string
	}{{paymentv1.Channel_ALIPAY_QR, "alipay"}, {paymentv1.Channel_WECHAT_NATIVE, "wechat"}} {
		t.Run(tc.provider, func(t *testing.T) {
			e := e.in(t)
			e.sandboxDo(http.MethodDelete, "/sandbox/faults", nil)
			// The day's first payment: its amount is tampered with in the bill.
			_, tampered := e.paid("goods-sticker-pack", tc.ch)
			// Paid, then refunded in full by merchant staff in the provider's console.
			consoleOrder, consolePaid := e.paid("course-payments-101", tc.ch)
			if code := e.sandboxDo(http.MethodPost, "/sandbox/console/refund", map[string]any{"outTradeNo": consolePaid.GetOutTradeNo(),
				"amountFen": consolePaid.GetAmountFen(), "outRefundNo": "CONSOLE-" + consolePaid.GetOutTradeNo()}); code != http.StatusOK {
				t.Fatalf("console refund: HTTP %d", code)
			}
			// Paid at the provider while every notify and query was lost.
			lostOrder := e.order("goods-gopher-mug", 1)
			lost := e.pay(lostOrder, tc.ch)
			wantLostOrder := orderv1.OrderStatus_PAID
			if tc.ch == paymentv1.Channel_ALIPAY_QR {
				// Alipay: cancelled first (the close of an unscanned QR closes nothing at the gateway),
				// then paid: the money arrived for a cancelled order.
				if _, err := e.orders.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: lostOrder.GetOrderId()}); err != nil {
					t.Fatal(err)
				}
				wantLostOrder = orderv1.OrderStatus_CANCELLED
			}
			e.faults(map[string]int{"dropNotifies": 100000, "failQueries": 100000})
			e.buyerPays(lost.GetQrCode())
			// Another system's sale on the same merchant account.
			if code := e.sandboxDo(http.MethodPost, "/sandbox/console/trade", map[string]any{"provider": tc.provider, "amountFen": 777,
				"outTradeNo": "EXT" + lost.GetOutTradeNo()}); code != http.StatusOK {
				t.Fatalf("console trade: HTTP %d", code)
			}
			e.faults(map[string]int{"dropNotifies": 100000, "failQueries": 100000, "billAmountDeltaFen": 1})
			if got := e.payment(lost.GetPaymentId()).GetStatus(); got == paymentv1.PaymentStatus_SUCCEEDED {
				t.Fatalf("the lost payment is already %s: the test made nothing to find", got)
			}

			r := e.reconcile(tc.ch)
			want := []string{
				fmt.Sprintf("AMOUNT_DIFFERS %s  ledger=%d provider=%d ANOMALY", tampered.GetOutTradeNo(), tampered.GetAmountFen(), tampered.GetAmountFen()+1),
				fmt.Sprintf("CONSOLE_REFUND %s CONSOLE-%s ledger=0 provider=%d RECORDED_REFUND", consolePaid.GetOutTradeNo(), consolePaid.GetOutTradeNo(), consolePaid.GetAmountFen()),
				fmt.Sprintf("PAID_NOT_RECORDED %s  ledger=%d provider=%d RECORDED_PAYMENT", lost.GetOutTradeNo(), lost.GetAmountFen(), lost.GetAmountFen()),
				fmt.Sprintf("UNKNOWN_TRADE EXT%s  ledger=0 provider=777 LISTED", lost.GetOutTradeNo()),
			}
			sort.Strings(want)
			if got := discrepancySet(r); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("discrepancies:\n got %q\nwant %q", got, want)
			}
			// Rows: 4 payments (one tampered) and the console refund; matched: the console-refunded
			// trade's payment row only.
			if r.GetStatus() != "SUCCEEDED" || r.GetBillRows() != 5 || r.GetMatched() != 1 || r.GetFeeFen() <= 0 ||
				r.GetNetFen() != r.GetGrossFen()-r.GetRefundFen()-r.GetFeeFen() || r.GetRefundFen() != consolePaid.GetAmountFen() {
				t.Fatalf("report = %+v", r)
			}

			// The console refund: recorded as a refund, the order follows.
			e.waitPaymentStatus(consolePaid.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
			if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND reason = 'PROVIDER_CONSOLE' AND status = 'SUCCEEDED' AND out_refund_no = ?",
				consolePaid.GetPaymentId(), "CONSOLE-"+consolePaid.GetOutTradeNo()); n != 1 {
				t.Fatalf("%d console refunds recorded, want 1", n)
			}
			o := e.waitOrderStatus(consoleOrder.GetOrderId(), orderv1.OrderStatus_REFUNDED)
			if o.GetRefundedFen() != consolePaid.GetAmountFen() {
				t.Fatalf("order refundedFen = %d, want %d", o.GetRefundedFen(), consolePaid.GetAmountFen())
			}
			// The lost payment: recorded through the notify door; a cancelled order's money goes back.
			if tc.ch == paymentv1.Channel_ALIPAY_QR {
				e.waitPaymentStatus(lost.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
				if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND auto AND reason = 'ORDER_CANCELLED'", lost.GetPaymentId()); n != 1 {
					t.Fatalf("%d automatic refunds of the cancelled order's payment, want 1", n)
				}
			} else {
				e.waitPaymentStatus(lost.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
			}
			e.waitOrderStatus(lostOrder.GetOrderId(), wantLostOrder)
			// The tampered amount: an anomaly, nothing changed.
			if got := e.payment(tampered.GetPaymentId()); got.GetAmountFen() != tampered.GetAmountFen() || got.GetStatus() != paymentv1.PaymentStatus_SUCCEEDED {
				t.Fatalf("tampered trade's payment changed: %+v", got)
			}
			if n := e.count("SELECT COUNT(*) FROM anomalies WHERE kind = 'AMOUNT_DIFFERS' AND state = 'OPEN' AND out_trade_no = ? AND payment_id = ?", tampered.GetOutTradeNo(), tampered.GetPaymentId()); n != 1 {
				t.Fatalf("%d anomalies for the tampered amount, want 1", n)
			}
			if n := e.count("SELECT COUNT(*) FROM anomalies WHERE kind = 'UNKNOWN_TRADE' AND out_trade_no = ?", "EXT"+lost.GetOutTradeNo()); n != 1 {
				t.Fatalf("%d anomalies for the trade nobody knows, want 1", n)
			}
			// Fees per payment and refund of the day, from the bill.
			if n := e.count("SELECT COUNT(*) FROM recon_fees WHERE out_trade_no IN (?, ?, ?) AND out_refund_no = '' AND fee_fen > 0",
				tampered.GetOutTradeNo(), consolePaid.GetOutTradeNo(), lost.GetOutTradeNo()); n != 3 {
				t.Fatalf("%d payment fees recorded, want 3", n)
			}
			if n := e.count("SELECT COUNT(*) FROM recon_files WHERE recon_id = ? AND LENGTH(body) > 0", r.GetReconciliationId()); n != 1 {
				t.Fatalf("raw bill kept %d times, want 1", n)
			}

			// A rerun: the same discrepancies, no second repair.
			e.rerunChangesNothing(t, tc.ch, r, want)
			got, err := e.payments.GetReconciliation(ctx, &paymentv1.GetReconciliationRequest{ReconciliationId: r.GetReconciliationId()})
			if err != nil || fmt.Sprint(discrepancySet(got)) != fmt.Sprint(want) {
				t.Fatalf("GetReconciliation = %v, %v", got, err)
			}
			e.sandboxDo(http.MethodDelete, "/sandbox/faults", nil)
		})
	}
	list, err := e.payments.ListReconciliations(ctx, &paymentv1.ListReconciliationsRequest{})
	if err != nil || len(list.GetReconciliations()) != 2 {
		t.Fatalf("ListReconciliations = %v, %v", list, err)
	}
}

// Bad input changes nothing and says what is wrong.
func TestReconciliationBadInput(t *testing.T) {
	e := start(t) // bills ready 10 h after the day, as the real providers'
	ctx := t.Context()
	run := func(ch paymentv1.Channel, date string) error {
		_, err := e.payments.RunReconciliation(ctx, &paymentv1.RunReconciliationRequest{Channel: ch, BillDate: date})
		return err
	}
	e.paid("goods-sticker-pack", paymentv1.Channel_WECHAT_NATIVE) // the first trade is today
	tomorrow := time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 0, 1).Format("2006-01-02")
	yesterday := time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 0, -1).Format("2006-01-02")
	for _, tc := range []struct {
		name string
		ch   paymentv1.Channel
		date string
		want codes.Code
	}{
		{"no channel", paymentv1.Channel_CHANNEL_UNSPECIFIED, today(), codes.InvalidArgument},
		{"not a date", paymentv1.Channel_ALIPAY_QR, "2026-02-30", codes.InvalidArgument},
		{"a day in the future", paymentv1.Channel_ALIPAY_QR, tomorrow, codes.InvalidArgument},
		{"before the first trade", paymentv1.Channel_ALIPAY_QR, yesterday, codes.InvalidArgument},
		{"the provider has no bill yet", paymentv1.Channel_WECHAT_NATIVE, today(), codes.FailedPrecondition},
	} {
		if err := run(tc.ch, tc.date); status.Code(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	if n := e.count("SELECT COUNT(*) FROM reconciliations"); n != 0 {
		t.Fatalf("bad requests stored %d reconciliations", n)
	}
	if _, err := e.payments.GetReconciliation(ctx, &paymentv1.GetReconciliationRequest{ReconciliationId: 42}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown reconciliation: %v", err)
	}
}

// The daily run reconciles each channel's due day by itself, once.
func TestDailyReconciliation(t *testing.T) {
	e := startRecon(t, func(c *service.Config) { c.ReconReadyAfter, c.ReconEvery = -24*time.Hour, 100*time.Millisecond })
	e.paid("goods-sticker-pack", paymentv1.Channel_ALIPAY_QR)
	e.paid("goods-sticker-pack", paymentv1.Channel_WECHAT_NATIVE)
	testkit.Eventually(t, wait, func() bool {
		return e.count("SELECT COUNT(*) FROM reconciliations WHERE status = 'SUCCEEDED' AND bill_date = ?", today()) == 2
	}, "the daily run never reconciled today on both channels")
	time.Sleep(500 * time.Millisecond)
	if n := e.count("SELECT MAX(runs) FROM reconciliations"); n != 1 {
		t.Fatalf("a reconciled day was run %d times by the daily run", n)
	}
}

// One provider account bills the trades of all its channels: a day with a discrepancy on a
// browser channel of each account — Alipay page pay paid after its order was cancelled with
// every notify and query lost, a WAP trade refunded in the console; WeChat JSAPI paid with every
// notify and query lost, an H5 trade refunded in the console — reconciled by naming a browser
// channel (the account's reconciliation answers, under its QR/Native name): each found,
// repaired through the same doors, none listed as another system's trade, a rerun under the
// QR/Native name the same reconciliation.
func TestReconciliationCoversEveryChannelOfTheAccount(t *testing.T) {
	e := startRecon(t, withReturnAllowlist)
	ctx := t.Context()
	for _, tc := range []struct {
		provider        string
		bill            paymentv1.Channel // the account's reconciliation
		lostCh, refCh   paymentv1.Channel // a payment whose notifies and queries are lost; one refunded in the console
		cancelLostFirst bool
	}{
		{"alipay", paymentv1.Channel_ALIPAY_QR, paymentv1.Channel_ALIPAY_PAGE, paymentv1.Channel_ALIPAY_WAP, true},
		{"wechat", paymentv1.Channel_WECHAT_NATIVE, paymentv1.Channel_WECHAT_JSAPI, paymentv1.Channel_WECHAT_H5, false},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			e := e.in(t)
			e.sandboxDo(http.MethodDelete, "/sandbox/faults", nil)
			// Paid on the browser channel, then refunded in full in the provider's console.
			refOrder := e.order("course-payments-101", 1)
			refPaid := e.payOn(refOrder, tc.refCh)
			if code, ans := e.buyerPaysCheckout(refPaid); code != http.StatusOK {
				t.Fatalf("buyer pays %s: HTTP %d %s", tc.refCh, code, ans.Error)
			}
			e.waitOrderStatus(refOrder.GetOrderId(), orderv1.OrderStatus_PAID)
			refPaid = e.waitPaymentStatus(refPaid.GetPaymentId(), paymentv1.PaymentStatus_SUCCEEDED)
			if code := e.sandboxDo(http.MethodPost, "/sandbox/console/refund", map[string]any{"outTradeNo": refPaid.GetOutTradeNo(),
				"amountFen": refPaid.GetAmountFen(), "outRefundNo": "CONSOLE-" + refPaid.GetOutTradeNo()}); code != http.StatusOK {
				t.Fatalf("console refund: HTTP %d", code)
			}
			// Paid at the provider on the other browser channel while every notify and query was lost.
			lostOrder := e.order("goods-gopher-mug", 1)
			lost := e.payOn(lostOrder, tc.lostCh)
			wantLostOrder, wantLost := orderv1.OrderStatus_PAID, paymentv1.PaymentStatus_SUCCEEDED
			if tc.cancelLostFirst {
				// Alipay page pay: the trade exists at the gateway only once the buyer logs in on the
				// cashier, so the close of the cancelled order's attempt closes nothing there; the
				// buyer then pays the payUrl: money for a cancelled order.
				if _, err := e.orders.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: lostOrder.GetOrderId()}); err != nil {
					t.Fatal(err)
				}
				e.waitPaymentStatus(lost.GetPaymentId(), paymentv1.PaymentStatus_CLOSED)
				wantLostOrder, wantLost = orderv1.OrderStatus_CANCELLED, paymentv1.PaymentStatus_REFUNDED
			}
			e.faults(map[string]int{"dropNotifies": 100000, "failQueries": 100000})
			if code, ans := e.buyerPaysCheckout(lost); code != http.StatusOK {
				t.Fatalf("buyer pays %s: HTTP %d %s", tc.lostCh, code, ans.Error)
			}
			if got := e.payment(lost.GetPaymentId()).GetStatus(); got == paymentv1.PaymentStatus_SUCCEEDED {
				t.Fatalf("the lost payment is already %s: the test made nothing to find", got)
			}

			// Named by the refunded trade's browser channel: the account's reconciliation.
			r, err := e.payments.RunReconciliation(ctx, &paymentv1.RunReconciliationRequest{Channel: tc.refCh, BillDate: today()})
			if err != nil {
				t.Fatalf("RunReconciliation(%s): %v", tc.refCh, err)
			}
			want := []string{
				fmt.Sprintf("CONSOLE_REFUND %s CONSOLE-%s ledger=0 provider=%d RECORDED_REFUND", refPaid.GetOutTradeNo(), refPaid.GetOutTradeNo(), refPaid.GetAmountFen()),
				fmt.Sprintf("PAID_NOT_RECORDED %s  ledger=%d provider=%d RECORDED_PAYMENT", lost.GetOutTradeNo(), lost.GetAmountFen(), lost.GetAmountFen()),
			}
			if got := discrepancySet(r); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("discrepancies:\n got %q\nwant %q", got, want)
			}
			// Rows: 2 payments and the console refund; matched: the refunded trade's payment row.
			if r.GetChannel() != tc.bill || r.GetStatus() != "SUCCEEDED" || r.GetBillRows() != 3 || r.GetMatched() != 1 ||
				r.GetRefundFen() != refPaid.GetAmountFen() {
				t.Fatalf("report = %+v", r)
			}
			e.sandboxDo(http.MethodDelete, "/sandbox/faults", nil)

			// The console refund: recorded as a refund, the order follows.
			e.waitPaymentStatus(refPaid.GetPaymentId(), paymentv1.PaymentStatus_REFUNDED)
			if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND reason = 'PROVIDER_CONSOLE' AND status = 'SUCCEEDED' AND out_refund_no = ?",
				refPaid.GetPaymentId(), "CONSOLE-"+refPaid.GetOutTradeNo()); n != 1 {
				t.Fatalf("%d console refunds recorded, want 1", n)
			}
			// Settled at the provider's time (seconds or milliseconds, as the provider writes it), not
			// our clock's microseconds: the refund falls on the provider's day, as its bill row.
			if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND MICROSECOND(succeeded_at) % 1000 = 0", refPaid.GetPaymentId()); n != 1 {
				t.Fatalf("the console refund's succeeded_at is not the provider's time")
			}
			if o := e.waitOrderStatus(refOrder.GetOrderId(), orderv1.OrderStatus_REFUNDED); o.GetRefundedFen() != refPaid.GetAmountFen() {
				t.Fatalf("order refundedFen = %d, want %d", o.GetRefundedFen(), refPaid.GetAmountFen())
			}
			// The lost payment: recorded through the notify door; a cancelled order's money goes back.
			e.waitPaymentStatus(lost.GetPaymentId(), wantLost)
			if tc.cancelLostFirst {
				if n := e.count("SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND auto AND reason = 'ORDER_CANCELLED'", lost.GetPaymentId()); n != 1 {
					t.Fatalf("%d automatic refunds of the cancelled order's payment, want 1", n)
				}
			}
			e.waitOrderStatus(lostOrder.GetOrderId(), wantLostOrder)
			if n := e.count("SELECT COUNT(*) FROM anomalies WHERE kind = 'UNKNOWN_TRADE'"); n != 0 {
				t.Fatalf("%d trades of this account's channels listed as another system's", n)
			}
			if n := e.count("SELECT COUNT(*) FROM recon_fees WHERE out_trade_no IN (?, ?) AND out_refund_no = '' AND fee_fen > 0",
				refPaid.GetOutTradeNo(), lost.GetOutTradeNo()); n != 2 {
				t.Fatalf("%d payment fees recorded, want 2", n)
			}

			// A rerun under the account's QR/Native name: the same reconciliation, no second repair.
			e.rerunChangesNothing(t, tc.bill, r, want)
		})
	}
	// Listing by a browser channel lists its account's reconciliations.
	list, err := e.payments.ListReconciliations(ctx, &paymentv1.ListReconciliationsRequest{Channel: paymentv1.Channel_WECHAT_JSAPI})
	if err != nil || len(list.GetReconciliations()) != 1 || list.GetReconciliations()[0].GetChannel() != paymentv1.Channel_WECHAT_NATIVE {
		t.Fatalf("ListReconciliations(WECHAT_JSAPI) = %v, %v", list, err)
	}
}
