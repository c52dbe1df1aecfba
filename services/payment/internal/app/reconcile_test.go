package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// memRecons reads the ledger from a memStore and keeps runs, fees and anomalies in memory.
type memRecons struct {
	store     *memStore
	mu        sync.Mutex
	runs      map[int64]*recon.Reconciliation
	fees      map[string]recon.Fee
	anomalies map[string]payment.Anomaly
	first     time.Time
	ledgerErr error // LedgerDay fails with it
}

func newRecons(s *memStore) *memRecons {
	return &memRecons{store: s, runs: map[int64]*recon.Reconciliation{}, fees: map[string]recon.Fee{},
		anomalies: map[string]payment.Anomaly{}, first: t0.Add(-48 * time.Hour)}
}

func inChannels(ch payment.Channel, chs []payment.Channel) bool {
	for _, c := range chs {
		if c == ch {
			return true
		}
	}
	return false
}

// LedgerDay: the payments paid within the day, then the refunds settled within it with their
// payments, as the MariaDB adapter reads them.
func (m *memRecons) LedgerDay(_ context.Context, chs []payment.Channel, from, to time.Time, into *LedgerIndex) error {
	if m.ledgerErr != nil {
		return m.ledgerErr
	}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	for _, p := range m.store.payments {
		if inChannels(p.Channel, chs) && in(p.PaidAt) {
			into.AddPayment([]byte(p.OutTradeNo), p.ID, []byte(p.Status), p.Amount, true)
		}
	}
	for _, p := range m.store.payments {
		if !inChannels(p.Channel, chs) {
			continue
		}
		for _, r := range m.store.refundsOf(p.ID) {
			if in(r.SucceededAt) {
				into.AddPayment([]byte(p.OutTradeNo), p.ID, []byte(p.Status), p.Amount, false)
				into.AddRefund([]byte(p.OutTradeNo), r.OutRefundNo, r.ID, r.Status, r.Amount, true)
			}
		}
	}
	return nil
}

func (m *memRecons) LedgerTrades(_ context.Context, chs []payment.Channel, nos []string, into *LedgerIndex) error {
	want := map[string]bool{}
	for _, n := range nos {
		want[n] = true
	}
	for _, p := range m.store.payments {
		if !inChannels(p.Channel, chs) || !want[p.OutTradeNo] {
			continue
		}
		into.AddOutside([]byte(p.OutTradeNo), p.ID, []byte(p.Status), p.Amount)
		for _, r := range m.store.refundsOf(p.ID) {
			into.AddRefund([]byte(p.OutTradeNo), r.OutRefundNo, r.ID, r.Status, r.Amount, false)
		}
	}
	return nil
}

func (m *memRecons) FirstPaymentAt(context.Context) (time.Time, error) { return m.first, nil }

func (m *memRecons) ReconciliationOf(_ context.Context, ch payment.Channel, day recon.Day) (*recon.Reconciliation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.runs {
		if r.Channel == string(ch) && r.Day == day {
			c := *r
			return &c, nil
		}
	}
	return nil, payment.ErrNotFound
}

func (m *memRecons) GetReconciliation(_ context.Context, id int64) (*recon.Reconciliation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[id]
	if !ok {
		return nil, payment.ErrNotFound
	}
	c := *r
	return &c, nil
}

func (m *memRecons) ListReconciliations(context.Context, payment.Channel, int) ([]*recon.Reconciliation, error) {
	return nil, nil
}

// memFees are the fees of one run, visible in memRecons.fees once committed with the run.
type memFees struct {
	m    *memRecons
	fees []recon.Fee
}

func (f *memFees) Add(fee recon.Fee) error { f.fees = append(f.fees, fee); return nil }
func (f *memFees) Abort()                  { f.fees = nil }
func (f *memFees) Commit(r *recon.Reconciliation) error {
	if err := f.m.SaveReconciliation(context.Background(), r, RawBill{}); err != nil {
		return err
	}
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	for _, fee := range f.fees {
		f.m.fees[fee.OutTradeNo+"|"+fee.OutRefundNo] = fee
	}
	f.fees = nil
	return nil
}

func (m *memRecons) WriteFees(context.Context, payment.Channel, recon.Day, int64, RawBill) (FeeWriter, error) {
	return &memFees{m: m}, nil
}

func (m *memRecons) SaveReconciliation(_ context.Context, r *recon.Reconciliation, _ RawBill) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *r
	if old, ok := m.runs[r.ID]; ok {
		have := map[string]bool{}
		for _, d := range old.Discrepancies {
			have[d.Key()] = true
		}
		c.Discrepancies = append([]recon.Discrepancy(nil), old.Discrepancies...)
		for _, d := range r.Discrepancies {
			if !have[d.Key()] {
				c.Discrepancies = append(c.Discrepancies, d)
			}
		}
		if r.Status == recon.StatusFailed {
			c.Matched, c.BillRows = old.Matched, old.BillRows
		}
	}
	m.runs[r.ID] = &c
	return nil
}

func (m *memRecons) RecordAnomaly(_ context.Context, a payment.Anomaly) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.anomalies[a.Ref()] = a
	return nil
}

// fakeBill serves rows; parseErr is returned after them (a file found corrupt at its end).
type fakeBill struct {
	rows     []recon.Row
	fetchErr error
	parseErr error
	fetches  int
}

func (b *fakeBill) FetchBill(context.Context, recon.Day) (RawBill, error) {
	b.fetches++
	return RawBill{Name: "bill"}, b.fetchErr
}

func (b *fakeBill) ParseBill(_ RawBill, fn func(recon.Row) error) (recon.Totals, error) {
	for _, r := range b.rows {
		if err := fn(r); err != nil {
			return recon.Totals{}, err
		}
	}
	return recon.Totals{}, b.parseErr
}

var day = recon.DayOf(t0)

func paidAttempt(id int64, no string, amount money.Fen, st payment.Status) *payment.Payment {
	p, err := payment.New(id, id*10, "u1", payment.ChannelAlipayQR, no, amount, t0.Add(time.Hour), t0.Add(-time.Hour), nil)
	if err != nil {
		panic(err)
	}
	p.Status = st
	if st == payment.StatusSucceeded {
		p.ProviderTradeNo, p.PaidAt = "T"+no, t0.Add(-time.Minute)
	}
	return p
}

func reconApp(store *memStore, recons *memRecons, bill *fakeBill) *App {
	next := int64(1000)
	a := New(Config{ProviderTradeTimeout: 25 * time.Minute}, Deps{
		Payments: store, Refunds: store, Notifies: store, Orders: &fakeOrders{order: Order{Status: OrderPaid}},
		Channels: map[payment.Channel]Channel{payment.ChannelAlipayQR: &fakeChannel{}},
		NewID:    func() int64 { next++; return next },
		Bills:    map[payment.Channel]BillSource{payment.ChannelAlipayQR: bill}, Recons: recons, AnomalyRecorder: recons,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.now = func() time.Time { return t0.Add(time.Hour) }
	return a
}

func kinds(r *recon.Reconciliation) []string {
	var out []string
	for _, d := range r.Discrepancies {
		out = append(out, fmt.Sprintf("%s %s %s %s", d.Kind, d.OutTradeNo, d.OutRefundNo, d.Action))
	}
	sort.Strings(out)
	return out
}

func mixedDay() (*memStore, *fakeBill) {
	store := newStore(
		paidAttempt(1, "PS1", 9900, payment.StatusSucceeded), // matched
		paidAttempt(2, "PS2", 4500, payment.StatusWaiting),   // paid at the provider, notifies lost
		paidAttempt(3, "PS3", 9900, payment.StatusSucceeded), // refunded in the console
		paidAttempt(4, "PS4", 990, payment.StatusSucceeded),  // absent from the bill
		paidAttempt(5, "PS5", 990, payment.StatusSucceeded),  // settled differently
	)
	at := t0.Add(-time.Minute)
	bill := &fakeBill{rows: []recon.Row{
		{Kind: recon.RowPayment, OutTradeNo: "PS1", Amount: 9900, Fee: 59, At: at},
		{Kind: recon.RowPayment, OutTradeNo: "PS2", ProviderTradeNo: "T2", Amount: 4500, Fee: 27, At: at},
		{Kind: recon.RowPayment, OutTradeNo: "PS3", Amount: 9900, Fee: 59, At: at},
		{Kind: recon.RowRefund, OutTradeNo: "PS3", OutRefundNo: "C1", Amount: 9900, Fee: -59, At: at},
		{Kind: recon.RowPayment, OutTradeNo: "PS5", Amount: 991, Fee: 6, At: at},
		{Kind: recon.RowPayment, OutTradeNo: "EXT1", Amount: 777, Fee: 5, At: at},
	}}
	return store, bill
}

var merchant = principal.Caller{User: &principal.Principal{UserID: "staff", Roles: []string{principal.RoleMerchant}}}

func TestReconcileFindsEachKindAndRepairsOnce(t *testing.T) {
	store, bill := mixedDay()
	recons := newRecons(store)
	a := reconApp(store, recons, bill)
	ctx := context.Background()
	r, err := a.RunReconciliation(ctx, merchant, payment.ChannelAlipayQR, day.String())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"AMOUNT_DIFFERS PS5  ANOMALY",
		"CONSOLE_REFUND PS3 C1 RECORDED_REFUND",
		"MISSING_IN_BILL PS4  ANOMALY",
		"PAID_NOT_RECORDED PS2  RECORDED_PAYMENT",
		"UNKNOWN_TRADE EXT1  LISTED",
	}
	if got := kinds(r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("discrepancies\n got %q\nwant %q", got, want)
	}
	if r.BillRows != 6 || r.Matched != 2 || r.GrossFen != 9900+4500+9900+991+777 || r.RefundFen != 9900 ||
		r.FeeFen != 59+27+59-59+6+5 || r.NetFen != r.GrossFen-r.RefundFen-r.FeeFen {
		t.Fatalf("report = %+v", r)
	}
	// The lost payment went through the notify door: SUCCEEDED, the order is told by its event.
	if p := store.payment(2); p.Status != payment.StatusSucceeded || p.ProviderTradeNo != "T2" || !slices.Contains(store.eventTypes(), EventSucceeded) {
		t.Fatalf("lost payment = %+v, events %v", p, store.eventTypes())
	}
	// The console refund is a refund of ours now: submitted (only queried), not automatic.
	rs := store.refundsOf(3)
	if len(rs) != 1 || rs[0].OutRefundNo != "C1" || rs[0].Reason != payment.ReasonProviderConsole || !rs[0].Submitted || rs[0].Auto ||
		rs[0].Amount != 9900 {
		t.Fatalf("console refund recorded as %+v", rs)
	}
	if p := store.payment(3); p.RefundingFen != 9900 {
		t.Fatalf("the console refund is not reserved against its payment: %+v", p)
	}
	// Nothing changed for the amount that differs; a person is told.
	if p := store.payment(5); p.Amount != 990 || p.Status != payment.StatusSucceeded {
		t.Fatalf("payment with the differing amount changed: %+v", p)
	}
	if len(recons.anomalies) != 3 || recons.anomalies["UNKNOWN_TRADE:trade:ALIPAY_QR:EXT1:"].OutTradeNo != "EXT1" {
		t.Fatalf("anomalies = %v, want the amount, the missing payment and the trade nobody knows", recons.anomalies)
	}
	if len(recons.fees) != 6 || recons.fees["PS3|C1"].FeeFen != -59 || recons.fees["PS2|"].FeeFen != 27 {
		t.Fatalf("fees = %v", recons.fees)
	}

	// A rerun: the same report, no second repair.
	again, err := a.RunReconciliation(ctx, merchant, payment.ChannelAlipayQR, day.String())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(kinds(again)) != fmt.Sprint(want) || again.Matched != r.Matched || again.ID != r.ID || again.Runs != 2 {
		t.Fatalf("rerun = %+v, want the same report", again)
	}
	if rs := store.refundsOf(3); len(rs) != 1 {
		t.Fatalf("the rerun recorded the console refund again: %+v", rs)
	}
}

// A bill found corrupt (here at its end, after its rows streamed) fails the run and changes
// nothing: repairs wait until the whole file has been read and checked.
func TestReconcileCorruptBillChangesNothing(t *testing.T) {
	store, bill := mixedDay()
	bill.parseErr = &recon.BadBillError{Reason: "summary does not add up"}
	recons := newRecons(store)
	a := reconApp(store, recons, bill)
	_, err := a.RunReconciliation(context.Background(), merchant, payment.ChannelAlipayQR, day.String())
	if !errors.Is(err, recon.ErrBadBill) {
		t.Fatalf("err = %v, want ErrBadBill", err)
	}
	if p := store.payment(2); p.Status != payment.StatusWaiting {
		t.Fatalf("a corrupt bill recorded a payment: %+v", p)
	}
	if rs := store.refundsOf(3); len(rs) != 0 || len(recons.anomalies) != 0 || len(recons.fees) != 0 {
		t.Fatalf("a corrupt bill changed things: refunds %v anomalies %v fees %v", rs, recons.anomalies, recons.fees)
	}
	r, err := recons.ReconciliationOf(context.Background(), payment.ChannelAlipayQR, day)
	if err != nil || r.Status != recon.StatusFailed || r.FailReason == "" {
		t.Fatalf("stored run = %+v, %v; want FAILED with the reason", r, err)
	}
}

func TestReconcileRefusesBadInput(t *testing.T) {
	store, bill := mixedDay()
	a := reconApp(store, newRecons(store), bill)
	ctx := context.Background()
	customer := principal.Caller{User: &principal.Principal{UserID: "u1"}}
	for _, tc := range []struct {
		name string
		who  principal.Caller
		ch   payment.Channel
		date string
		want error
	}{
		{"a customer", customer, payment.ChannelAlipayQR, day.String(), recon.ErrMerchantOnly},
		{"a channel without bills", merchant, payment.ChannelWechatNative, day.String(), recon.ErrBadChannel},
		{"a day not begun", merchant, payment.ChannelAlipayQR, day.Next().Next().String(), recon.ErrFutureDate},
		{"before the first trade", merchant, payment.ChannelAlipayQR, day.Prev().Prev().Prev().String(), recon.ErrBeforeTrading},
		{"not a date", merchant, payment.ChannelAlipayQR, "03/04/2026", recon.ErrBadDate},
	} {
		if _, err := a.RunReconciliation(ctx, tc.who, tc.ch, tc.date); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if bill.fetches != 0 {
		t.Fatalf("bad requests fetched the bill %d times", bill.fetches)
	}
}

type fakeLeader struct{ held bool }

func (l *fakeLeader) Hold(context.Context) (bool, error) { return l.held, nil }

// Only the replica holding the lock runs the daily reconciliation.
func TestDailyRunOnlyOnTheLeader(t *testing.T) {
	store, bill := mixedDay()
	recons := newRecons(store)
	a := reconApp(store, recons, bill)
	a.cfg.Recon.Every = time.Millisecond
	a.cfg.Recon.ReadyAfter = -24 * time.Hour
	run := func(l Leader) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = a.RunDailyReconciliation(ctx, l)
	}
	run(&fakeLeader{held: false})
	if bill.fetches != 0 || len(recons.runs) != 0 {
		t.Fatalf("a replica without the lock reconciled (%d fetches)", bill.fetches)
	}
	run(&fakeLeader{held: true})
	if _, err := recons.ReconciliationOf(context.Background(), payment.ChannelAlipayQR, day); err != nil {
		t.Fatalf("the leader did not reconcile today: %v", err)
	}
	if bill.fetches == 0 || len(recons.runs) != 3 { // today and the two days before (LookBack 3)
		t.Fatalf("leader ran %d days with %d fetches", len(recons.runs), bill.fetches)
	}
}

// The refund side: a refund still processing here, one FAILED here, one of another amount, one
// settled here the bill does not list, and a console refund larger than what is left to refund.
func TestReconcileRefundKinds(t *testing.T) {
	older := paidAttempt(6, "PS6", 9900, payment.StatusSucceeded)
	older.PaidAt = t0.Add(-30 * time.Hour) // paid on an earlier day
	small := paidAttempt(7, "PS7", 990, payment.StatusSucceeded)
	small.PaidAt = older.PaidAt
	store := newStore(older, small)
	in := t0.Add(-time.Minute)
	for i, r := range []payment.Refund{
		{Status: payment.RefundProcessing, Amount: 100},
		{Status: payment.RefundFailed, Amount: 100},
		{Status: payment.RefundSucceeded, Amount: 100, SucceededAt: in},
		{Status: payment.RefundSucceeded, Amount: 100, SucceededAt: in},
	} {
		r.ID, r.PaymentID, r.OrderID, r.OutRefundNo, r.RequestID = int64(60+i), 6, 60, fmt.Sprintf("R%d", i+1), fmt.Sprintf("q%d", i)
		store.refunds[r.ID] = r
	}
	bill := &fakeBill{rows: []recon.Row{
		{Kind: recon.RowRefund, OutTradeNo: "PS6", OutRefundNo: "R1", Amount: 100, At: in},
		{Kind: recon.RowRefund, OutTradeNo: "PS6", OutRefundNo: "R2", Amount: 100, At: in},
		{Kind: recon.RowRefund, OutTradeNo: "PS6", OutRefundNo: "R3", Amount: 90, At: in},
		{Kind: recon.RowRefund, OutTradeNo: "PS7", OutRefundNo: "C9", Amount: 5000, At: in},
	}}
	recons := newRecons(store)
	a := reconApp(store, recons, bill)
	r, err := a.RunReconciliation(context.Background(), merchant, payment.ChannelAlipayQR, day.String())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"AMOUNT_DIFFERS PS6 R3 ANOMALY",
		"CONSOLE_REFUND PS7 C9 ANOMALY",
		"MISSING_IN_BILL PS6 R4 ANOMALY",
		"REFUND_NOT_SETTLED PS6 R1 REFUND_SETTLING",
		"STATUS_DIFFERS PS6 R2 ANOMALY",
	}
	if got := kinds(r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("discrepancies\n got %q\nwant %q", got, want)
	}
	if rs := store.refundsOf(7); len(rs) != 0 {
		t.Fatalf("a console refund over what is left was recorded: %+v", rs)
	}
	for _, ref := range []string{"AMOUNT_DIFFERS:refund:62", "STATUS_DIFFERS:refund:61", "MISSING_IN_BILL:refund:63", "CONSOLE_REFUND:payment:7"} {
		if _, ok := recons.anomalies[ref]; !ok {
			t.Errorf("no anomaly %s; have %v", ref, recons.anomalies)
		}
	}
}

// One provider account's bill lists the trades of all its channels: a run named by any of them
// is the account's (under its QR name), compares the page and WAP trades too, finds the refund
// of a day's payment that settled here on the next day, and is refused for a channel of no
// configured account.
func TestReconcileCoversTheAccountsChannels(t *testing.T) {
	page := paidAttempt(1, "PS1", 9900, payment.StatusSucceeded)
	page.Channel = payment.ChannelAlipayPage
	wap := paidAttempt(2, "PS2", 4500, payment.StatusSucceeded)
	wap.Channel = payment.ChannelAlipayWap
	lostWap := paidAttempt(3, "PS3", 990, payment.StatusWaiting)
	lostWap.Channel = payment.ChannelAlipayWap
	store := newStore(page, wap, lostWap)
	store.refunds[70] = payment.Refund{ID: 70, PaymentID: 1, OrderID: 10, OutRefundNo: "R70", RequestID: "q70",
		Status: payment.RefundSucceeded, Amount: 100, SucceededAt: day.End().Add(time.Second)} // our clock: the next day
	at := t0.Add(-time.Minute)
	bill := &fakeBill{rows: []recon.Row{
		{Kind: recon.RowPayment, OutTradeNo: "PS1", Amount: 9900, Fee: 59, At: at},
		{Kind: recon.RowRefund, OutTradeNo: "PS1", OutRefundNo: "R70", Amount: 100, At: at},
		{Kind: recon.RowPayment, OutTradeNo: "PS3", ProviderTradeNo: "T3", Amount: 990, Fee: 6, At: at},
	}}
	recons := newRecons(store)
	a := reconApp(store, recons, bill)
	r, err := a.RunReconciliation(context.Background(), merchant, payment.ChannelAlipayWap, day.String())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"MISSING_IN_BILL PS2  ANOMALY", "PAID_NOT_RECORDED PS3  RECORDED_PAYMENT"}
	if got := kinds(r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("discrepancies\n got %q\nwant %q", got, want)
	}
	if r.Channel != string(payment.ChannelAlipayQR) || r.BillRows != 3 || r.Matched != 2 {
		t.Fatalf("report = %+v, want the Alipay account's (ALIPAY_QR), 2 of 3 rows matched", r)
	}
	if p := store.payment(3); p.Status != payment.StatusSucceeded {
		t.Fatalf("the WAP trade paid at the provider is %s here", p.Status)
	}
	again, err := a.RunReconciliation(context.Background(), merchant, payment.ChannelAlipayQR, day.String())
	if err != nil || again.ID != r.ID || again.Runs != 2 {
		t.Fatalf("the QR name's run = %+v, %v; want the same reconciliation", again, err)
	}
	if _, err := a.RunReconciliation(context.Background(), merchant, payment.ChannelWechatJSAPI, day.String()); !errors.Is(err, recon.ErrBadChannel) {
		t.Fatalf("a channel of no configured account: %v", err)
	}
}

// A ledger read that fails while the bill streams fails the run: no fee is kept, no run stored,
// nothing repaired.
func TestReconcileLedgerFailureChangesNothing(t *testing.T) {
	store, bill := mixedDay()
	for i := range 5000 { // several batches
		bill.rows = append(bill.rows, recon.Row{Kind: recon.RowPayment, OutTradeNo: fmt.Sprintf("EXTRA%d", i), Amount: 100, Fee: 1, At: t0.Add(-time.Minute)})
	}
	recons := newRecons(store)
	recons.ledgerErr = errors.New("connection reset")
	a := reconApp(store, recons, bill)
	if _, err := a.RunReconciliation(context.Background(), merchant, payment.ChannelAlipayQR, day.String()); !errors.Is(err, recons.ledgerErr) {
		t.Fatalf("RunReconciliation = %v, want the ledger's error", err)
	}
	if len(recons.fees) != 0 || len(recons.runs) != 0 || len(recons.anomalies) != 0 {
		t.Fatalf("a failed ledger read kept %d fees, %d runs, %d anomalies", len(recons.fees), len(recons.runs), len(recons.anomalies))
	}
	if p := store.payment(2); p.Status != payment.StatusWaiting {
		t.Fatalf("the lost payment was repaired (%s) by a run without a ledger", p.Status)
	}
}
