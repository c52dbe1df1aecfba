package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// In-memory ports for the use-case tests: what the MariaDB adapter promises, kept in maps.

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// errStorage stands for a database that did not answer.
var errStorage = errors.New("storage unavailable")

// memStore implements Payments, Refunds and NotifyLog. Rows are copied in and out, as a
// database would: a use case sees its own changes only through the store.
type memStore struct {
	mu        sync.Mutex
	payments  map[int64]payment.Payment
	refunds   map[int64]payment.Refund
	notifies  []NotifyRecord
	dedupe    map[string]bool
	tasks     []Task
	events    []Event
	anomalies map[string]payment.Anomaly // by Ref

	failLookup  error           // GetPaymentByOutTradeNo fails
	failMark    error           // MarkSucceeded fails
	afterLookup func()          // runs after GetPaymentByOutTradeNo read: a concurrent writer
	rivalRefund *payment.Refund // committed by "another instance" when UpdatePayment adds a refund
}

func newStore(ps ...*payment.Payment) *memStore {
	s := &memStore{payments: map[int64]payment.Payment{}, refunds: map[int64]payment.Refund{}, dedupe: map[string]bool{},
		anomalies: map[string]payment.Anomaly{}}
	for _, p := range ps {
		s.payments[p.ID] = *p
	}
	return s
}

func (s *memStore) payment(id int64) payment.Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.payments[id]
}

func (s *memStore) setStatus(id int64, st payment.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.payments[id]
	p.Status = st
	s.payments[id] = p
}

func (s *memStore) CreatePayment(_ context.Context, p *payment.Payment, ch Changes) (*payment.Payment, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, live := range s.payments {
		if live.LiveKey() != "" && live.LiveKey() == p.LiveKey() {
			return &live, false, nil
		}
	}
	s.payments[p.ID] = *p
	s.apply(ch)
	stored := *p
	return &stored, true, nil
}

func (s *memStore) SetQRCode(_ context.Context, id int64, qr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.payments[id]
	p.QRCode = qr
	s.payments[id] = p
	return nil
}

func (s *memStore) GetPayment(_ context.Context, id int64) (*payment.Payment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok {
		return nil, fmt.Errorf("payment %d: %w", id, payment.ErrNotFound)
	}
	return &p, nil
}

func (s *memStore) GetPaymentByOutTradeNo(_ context.Context, no string) (*payment.Payment, error) {
	if s.failLookup != nil {
		return nil, s.failLookup
	}
	s.mu.Lock()
	var found *payment.Payment
	for _, p := range s.payments {
		if p.OutTradeNo == no {
			found = &p
		}
	}
	s.mu.Unlock()
	if s.afterLookup != nil {
		s.afterLookup()
	}
	if found == nil {
		return nil, fmt.Errorf("payment %s: %w", no, payment.ErrNotFound)
	}
	return found, nil
}

func (s *memStore) ListOrderPayments(_ context.Context, orderID int64) ([]*payment.Payment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*payment.Payment
	for _, p := range s.payments {
		if p.OrderID == orderID {
			out = append(out, &p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *memStore) UpdatePayment(_ context.Context, id int64, fn func(*payment.Payment, *Changes) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok {
		return fmt.Errorf("payment %d: %w", id, payment.ErrNotFound)
	}
	var ch Changes
	if err := fn(&p, &ch); err != nil {
		return err
	}
	if ch.NewRefund != nil && s.rivalRefund != nil {
		// The unique (payment, request id) index: another instance's refund committed first.
		s.refunds[s.rivalRefund.ID] = *s.rivalRefund
		s.rivalRefund = nil
		return errors.New("Error 1062: Duplicate entry for key 'payment_request'")
	}
	s.payments[id] = p
	s.apply(ch)
	return nil
}

// MarkSucceeded is the conditional WAITING/CLOSED → SUCCEEDED.
func (s *memStore) MarkSucceeded(_ context.Context, p *payment.Payment, ch Changes) (bool, error) {
	if s.failMark != nil {
		return false, s.failMark
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch.Notify != nil && s.dedupe[ch.Notify.DedupeKey] {
		return false, ErrDuplicateNotify
	}
	if st := s.payments[p.ID].Status; st != payment.StatusWaiting && st != payment.StatusClosed {
		return false, nil
	}
	s.payments[p.ID] = *p
	s.apply(ch)
	return true, nil
}

func (s *memStore) UpdateRefund(_ context.Context, id int64, fn func(*payment.Payment, *payment.Refund, *Changes) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[id]
	if !ok {
		return fmt.Errorf("refund %d: %w", id, payment.ErrNotFound)
	}
	p := s.payments[r.PaymentID]
	var ch Changes
	if err := fn(&p, &r, &ch); err != nil {
		return err
	}
	s.payments[p.ID], s.refunds[id] = p, r
	s.apply(ch)
	return nil
}

func (s *memStore) GetRefund(_ context.Context, id int64) (*payment.Refund, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[id]
	if !ok {
		return nil, fmt.Errorf("refund %d: %w", id, payment.ErrNotFound)
	}
	return &r, nil
}

func (s *memStore) FindRefund(_ context.Context, paymentID int64, requestID string) (*payment.Refund, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.refunds {
		if r.PaymentID == paymentID && r.RequestID == requestID {
			return &r, nil
		}
	}
	return nil, payment.ErrNotFound
}

func (s *memStore) GetRefundByOutRefundNo(_ context.Context, no string) (*payment.Refund, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.refunds {
		if r.OutRefundNo == no {
			return &r, nil
		}
	}
	return nil, payment.ErrNotFound
}

func (s *memStore) refundsOf(paymentID int64) []payment.Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []payment.Refund
	for _, r := range s.refunds {
		if r.PaymentID == paymentID {
			out = append(out, r)
		}
	}
	return out
}

func (s *memStore) LogNotify(_ context.Context, rec NotifyRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifies = append(s.notifies, rec)
	return nil
}

// lastNotify is the notify log's newest row.
func (s *memStore) lastNotify(t *testing.T) NotifyRecord {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notifies) != 1 {
		t.Fatalf("notify log has %d rows, want the one of this notify", len(s.notifies))
	}
	return s.notifies[0]
}

func (s *memStore) tasksOf(kind TaskKind, ref int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tasks {
		if t.Kind == kind && t.RefID == ref {
			n++
		}
	}
	return n
}

func (s *memStore) eventTypes() []EventType {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []EventType
	for _, e := range s.events {
		out = append(out, e.Type)
	}
	return out
}

// apply writes what a transaction carries beside the payment row; called with mu held.
func (s *memStore) apply(ch Changes) {
	if ch.Notify != nil {
		s.notifies = append(s.notifies, *ch.Notify)
		s.dedupe[ch.Notify.DedupeKey] = true
	}
	if ch.NewRefund != nil {
		s.refunds[ch.NewRefund.ID] = *ch.NewRefund
	}
	if ch.Refund != nil {
		s.refunds[ch.Refund.ID] = *ch.Refund
	}
	s.tasks = append(s.tasks, ch.Tasks...)
	s.events = append(s.events, ch.Events...)
	for _, a := range ch.Anomalies {
		s.anomalies[a.Ref()] = a
	}
	if r := ch.Resolve; r != nil {
		for k, a := range s.anomalies {
			if a.State == payment.AnomalyOpen && ((r.RefundID != 0 && a.RefundID == r.RefundID) || (r.RefundID == 0 && a.PaymentID == r.PaymentID && a.RefundID == 0)) {
				a.State, a.ResolvedAt = payment.AnomalyResolved, r.At
				s.anomalies[k] = a
			}
		}
	}
}

// anomalyStates is kind → state of every anomaly.
func (s *memStore) anomalyStates() map[payment.AnomalyKind]payment.AnomalyState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[payment.AnomalyKind]payment.AnomalyState{}
	for _, a := range s.anomalies {
		out[a.Kind] = a.State
	}
	return out
}

func (s *memStore) ListAnomalies(_ context.Context, f AnomalyFilter) ([]payment.Anomaly, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []payment.Anomaly
	for _, a := range s.anomalies {
		if (f.State == "" || a.State == f.State) && (f.Kind == "" || a.Kind == f.Kind) {
			out = append(out, a)
		}
	}
	return out, nil
}

// fakeOrders is the order service.
type fakeOrders struct {
	order     Order
	getErr    error
	markErr   error
	marked    []int64 // payment ids reported paid
	getCalled int
}

func (o *fakeOrders) GetOrder(_ context.Context, id int64) (Order, error) {
	o.getCalled++
	if o.getErr != nil {
		return Order{}, o.getErr
	}
	if id != o.order.ID {
		return Order{}, payment.ErrOrderNotFound
	}
	return o.order, nil
}

func (o *fakeOrders) MarkOrderPaid(_ context.Context, _, paymentID int64, _ money.Fen, _ time.Time) error {
	o.marked = append(o.marked, paymentID)
	return o.markErr
}

func (o *fakeOrders) BeginRefund(context.Context, int64, int64, int64, money.Fen) error { return nil }

func (o *fakeOrders) FinishRefund(context.Context, int64, int64, int64, money.Fen, time.Time) error {
	return nil
}

// fakeChannel is a provider whose answers each test sets.
type fakeChannel struct {
	notify    Notify
	parseErr  error
	prepayErr error
	prepays   []PrepayRequest

	refundState, queryState RefundState // what the refund call and the refund query answer
	refundErr, queryErr     error
	refunds, refundQueries  int // calls made
}

// Prepay answers a QR code naming the trade, so a test sees which attempt was prepaid.
func (c *fakeChannel) Prepay(_ context.Context, req PrepayRequest) (Checkout, error) {
	c.prepays = append(c.prepays, req)
	if c.prepayErr != nil {
		return Checkout{}, c.prepayErr
	}
	return Checkout{QRCode: "qr://" + req.OutTradeNo}, nil
}

func (c *fakeChannel) VerifyReturn(string) (ReturnClaim, error) {
	return ReturnClaim{}, ErrNoSignedReturn
}

func (c *fakeChannel) Query(context.Context, string) (Trade, error) { return Trade{}, nil }
func (c *fakeChannel) Close(context.Context, string) error          { return nil }
func (c *fakeChannel) Refund(context.Context, RefundRequest) (RefundState, error) {
	c.refunds++
	return c.refundState, c.refundErr
}
func (c *fakeChannel) QueryRefund(context.Context, string, string) (RefundState, error) {
	c.refundQueries++
	return c.queryState, c.queryErr
}
func (c *fakeChannel) ParseNotify(NotifyMessage) (Notify, error) { return c.notify, c.parseErr }

// newTestApp wires the use cases on fakes, with the clock at t0 and ids counting from 100.
func newTestApp(store *memStore, orders *fakeOrders, alipay *fakeChannel) *App {
	next := int64(100)
	a := New(Config{ProviderTradeTimeout: 25 * time.Minute}, Deps{
		Payments: store, Refunds: store, Notifies: store, Orders: orders, Anomalies: store,
		Channels: map[payment.Channel]Channel{payment.ChannelAlipayQR: alipay},
		NewID:    func() int64 { next++; return next },
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.now = func() time.Time { return t0 }
	return a
}

// attempt is a payment attempt of order 10 for 9900 fen on Alipay, in status st.
func attempt(st payment.Status) *payment.Payment {
	p, err := payment.New(1, 10, "u1", payment.ChannelAlipayQR, "PS1", 9900, t0.Add(25*time.Minute), t0.Add(-time.Minute), nil)
	if err != nil {
		panic(err)
	}
	p.Status = st
	if st == payment.StatusSucceeded || st == payment.StatusRefunded {
		p.ProviderTradeNo, p.PaidAt = "T1", t0.Add(-time.Second)
	}
	return p
}
