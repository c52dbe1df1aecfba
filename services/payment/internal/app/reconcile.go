package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paysuite/paysuite/pkg/principal"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// ReconConfig tunes reconciliation.
type ReconConfig struct {
	// ReadyAfter: how long after a provider day ends the daily run fetches its bills (Alipay's
	// are ready before 09:00, WeChat's after 10:00 the next day). Negative in tests, as the
	// sandbox's SANDBOX_BILL_READY_DELAY.
	ReadyAfter time.Duration
	Every      time.Duration // how often the daily runner looks for due days
	LookBack   int           // how many due days the runner keeps trying until one succeeds
}

func (c *ReconConfig) defaults() {
	if c.ReadyAfter == 0 {
		c.ReadyAfter = 10*time.Hour + 30*time.Minute
	}
	if c.Every <= 0 {
		c.Every = 10 * time.Minute
	}
	if c.LookBack <= 0 {
		c.LookBack = 3
	}
}

// billSource is the bill of the provider account of a channel, and the name its
// reconciliations go by (payment.Channel.BillChannel), or ErrBadChannel.
func (a *App) billSource(ch payment.Channel) (BillSource, payment.Channel, error) {
	bc := ch.BillChannel()
	src, ok := a.bills[bc]
	if !ch.Valid() || !ok {
		return nil, "", recon.ErrBadChannel
	}
	return src, bc, nil
}

// RunReconciliation reconciles one provider account's bill of one provider day now
// ("YYYY-MM-DD", Asia/Shanghai). Any channel of the account names it: the run compares the
// trades of all of them and goes by the account's QR/Native channel (ALIPAY_PAGE → ALIPAY_QR).
// A rerun of a day updates the same reconciliation and repairs nothing twice.
func (a *App) RunReconciliation(ctx context.Context, who principal.Caller, ch payment.Channel, date string) (*recon.Reconciliation, error) {
	if !who.IsMerchant() {
		return nil, recon.ErrMerchantOnly
	}
	src, ch, err := a.billSource(ch)
	if err != nil {
		return nil, err
	}
	day, err := recon.ParseDay(date)
	if err != nil {
		return nil, err
	}
	if day.Start.After(a.now()) {
		return nil, recon.ErrFutureDate
	}
	first, err := a.recons.FirstPaymentAt(ctx)
	if err != nil {
		return nil, err
	}
	if first.IsZero() || !day.End().After(first) {
		return nil, fmt.Errorf("%s: %w", day, recon.ErrBeforeTrading)
	}
	return a.reconcile(ctx, ch, src, day)
}

// GetReconciliation returns one run with its discrepancies.
func (a *App) GetReconciliation(ctx context.Context, who principal.Caller, id int64) (*recon.Reconciliation, error) {
	if !who.IsMerchant() {
		return nil, recon.ErrMerchantOnly
	}
	if id <= 0 {
		return nil, recon.ErrMissingID
	}
	return a.recons.GetReconciliation(ctx, id)
}

// ListReconciliations returns the newest runs first, of one provider account (any of its
// channels names it) or all ("").
func (a *App) ListReconciliations(ctx context.Context, who principal.Caller, ch payment.Channel, limit int) ([]*recon.Reconciliation, error) {
	if !who.IsMerchant() {
		return nil, recon.ErrMerchantOnly
	}
	if ch != "" && !ch.Valid() {
		return nil, recon.ErrBadChannel
	}
	ch = ch.BillChannel()
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	return a.recons.ListReconciliations(ctx, ch, limit)
}

// reconcile fetches, verifies and compares the bill of a provider account (ch names it: the
// provider's QR/Native channel; every channel of the account is compared), repairs through the
// doors the rules name, hands the rest to a person, and stores the run. A bill that cannot be
// trusted fails the run before anything is changed.
//
// The work is pipelined over the machine's cores: the day's ledger is read into a compact index
// while the bill is parsed; the parser streams every row's fee to the database (its own
// connection and goroutine) and hands the rows, in batches, to the comparison, which starts once
// the index is complete. Only a bounded number of batches is ever in flight, so the file is
// never held whole, parsed or not.
func (a *App) reconcile(ctx context.Context, ch payment.Channel, src BillSource, day recon.Day) (_ *recon.Reconciliation, err error) {
	var saved bool
	var found []recon.Discrepancy // what the saved run added
	defer func() { a.observeRun(ctx, ch, saved, found, err) }()
	unlock := a.lockRecon(ch, day)
	defer unlock()
	now := a.now()
	r := &recon.Reconciliation{Channel: string(ch), Day: day, CreatedAt: now, UpdatedAt: now, Runs: 1}
	stored := map[string]bool{} // trades with a discrepancy from an earlier run: never "matched" again
	prevRows := 0               // the index's size hint
	prev, err := a.recons.ReconciliationOf(ctx, ch, day)
	switch {
	case err == nil:
		r.ID, r.CreatedAt, r.Runs, prevRows = prev.ID, prev.CreatedAt, prev.Runs+1, prev.BillRows
		for _, d := range prev.Discrepancies {
			stored[tradeKey(d.OutTradeNo, d.OutRefundNo)] = true
		}
	case errors.Is(err, payment.ErrNotFound):
		r.ID = a.newID()
	default:
		return nil, err
	}
	raw, err := src.FetchBill(ctx, day)
	if errors.Is(err, recon.ErrBadBill) {
		return nil, a.failRun(ctx, r, raw, err)
	}
	if err != nil {
		return nil, err // not ready (FailedPrecondition with when), or the provider is unreachable
	}
	t0 := time.Now()
	chs := ch.AccountChannels()
	fees, err := a.recons.WriteFees(ctx, ch, day, r.ID, raw)
	if err != nil {
		return nil, err
	}
	defer fees.Abort() // unless committed; before failRun, which stores the raw file itself
	// Sized by the last run of the day, else by the file (a compressed bill row is 15-20 bytes).
	c := &comparer{idx: NewLedgerIndex(min(max(64, prevRows, len(raw.Body)/24), 4<<20)), stored: stored, day: day}
	var tLedger, tCompared time.Duration
	ledgerDone := make(chan error, 1)
	go func() {
		err := a.recons.LedgerDay(ctx, chs, day.Start, day.End(), c.idx)
		tLedger = time.Since(t0)
		ledgerDone <- err
	}()
	// The comparison: waits for the index, then takes the parser's batches.
	const batchRows, inFlight = 1024, 16
	batches, free := make(chan []recon.Row, inFlight), make(chan []recon.Row, inFlight+1)
	for range inFlight + 1 {
		free <- make([]recon.Row, 0, batchRows)
	}
	var failed atomic.Bool
	compared := make(chan error, 1)
	go func() {
		err := <-ledgerDone
		if err != nil {
			failed.Store(true) // the parser stops at its next batch; the batches are drained
		}
		for b := range batches {
			if err == nil {
				for i := range b {
					c.row(b[i])
				}
			}
			free <- b[:0]
		}
		tCompared = time.Since(t0)
		compared <- err
	}()
	batch := <-free
	_, perr := src.ParseBill(raw, func(row recon.Row) error {
		gross := row.Amount
		if row.Kind == recon.RowRefund {
			gross = -row.Amount
		}
		if err := fees.Add(recon.Fee{OutTradeNo: row.OutTradeNo, OutRefundNo: row.OutRefundNo, GrossFen: gross, FeeFen: row.Fee}); err != nil {
			return err
		}
		if batch = append(batch, row); len(batch) == batchRows {
			if failed.Load() {
				return errLedgerFailed
			}
			batches <- batch
			batch = <-free
		}
		return nil
	})
	batches <- batch
	close(batches)
	tParse := time.Since(t0)
	cerr := <-compared
	if perr == nil {
		perr = cerr
	}
	if errors.Is(perr, errLedgerFailed) {
		perr = cerr
	}
	if perr != nil {
		fees.Abort()
		if errors.Is(perr, recon.ErrBadBill) {
			return nil, a.failRun(ctx, r, raw, perr)
		}
		return nil, perr
	}
	if err := c.resolveDeferred(ctx, a.recons, chs); err != nil {
		return nil, err
	}
	c.leftovers()
	if err := a.repair(ctx, c); err != nil {
		fees.Abort()
		return nil, a.failRun(ctx, r, raw, err)
	}
	r.Status = recon.StatusSucceeded
	r.BillRows, r.Matched, r.Discrepancies = c.rows, c.matched, c.found
	r.GrossFen, r.RefundFen, r.FeeFen = c.tot.PaidFen, c.tot.RefundedFen, c.tot.FeeFen
	r.NetFen = r.GrossFen - r.RefundFen - r.FeeFen
	for i := range c.found {
		if err := a.anomalyOf(ctx, ch, day, c.found[i]); err != nil {
			return nil, err
		}
	}
	tRepaired := time.Since(t0)
	// The whole file was read and its totals hold: its fees are facts now, stored with the run.
	if err := fees.Commit(r); err != nil {
		return nil, err
	}
	saved, found = true, c.found
	a.log.Info("reconciled", "channel", ch, "bill_date", day.String(), "run", r.Runs, "rows", c.rows, "matched", c.matched,
		"discrepancies", len(c.found), "fee_fen", int64(c.tot.FeeFen), "ledger_payments", c.idx.Len(),
		"ledger_read", tLedger, "parsed", tParse, "compared", tCompared, "repaired", tRepaired,
		"saved", time.Since(t0))
	return a.recons.GetReconciliation(ctx, r.ID)
}

// observeRun tells the observer how a run ended: stored with what it found (even if reading it
// back then failed: its discrepancies are stored and a rerun will not report them again), or
// failed (a bill that cannot be trusted, the provider or the database not answering). A bill
// that is not ready yet, or a run cut short by shutdown, is no run.
func (a *App) observeRun(ctx context.Context, ch payment.Channel, saved bool, found []recon.Discrepancy, err error) {
	switch {
	case a.reconObs == nil:
	case saved:
		a.reconObs.ReconRun(ch, false, found)
	case errors.Is(err, recon.ErrBillNotReady) || ctx.Err() != nil:
	default:
		a.reconObs.ReconRun(ch, true, nil)
	}
}

var errLedgerFailed = errors.New("the ledger read failed")

// failRun stores the run as FAILED with the reason (nothing else changes) and returns err.
func (a *App) failRun(ctx context.Context, r *recon.Reconciliation, raw RawBill, err error) error {
	r.Status, r.FailReason, r.Discrepancies = recon.StatusFailed, err.Error(), nil
	a.log.Error("reconciliation failed", "channel", r.Channel, "bill_date", r.Day.String(), "err", err)
	if serr := a.recons.SaveReconciliation(ctx, r, raw); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// anomalyOf hands a discrepancy that needs a person to the service's anomalies (its kind is
// the discrepancy's; one case per payment or refund and kind). A trade that is not ours is
// listed and left untouched, and is a case too: a bill row nobody knows.
func (a *App) anomalyOf(ctx context.Context, ch payment.Channel, day recon.Day, d recon.Discrepancy) error {
	if d.Action != recon.ActionAnomaly && d.Kind != recon.UnknownTrade || a.anomalies == nil {
		return nil
	}
	now := a.now().UTC().Truncate(time.Microsecond)
	return a.anomalies.RecordAnomaly(ctx, payment.Anomaly{Kind: payment.AnomalyKind(d.Kind), State: payment.AnomalyOpen,
		PaymentID: d.PaymentID, RefundID: d.RefundID, Channel: ch, OutTradeNo: d.OutTradeNo, OutRefundNo: d.OutRefundNo,
		AmountFen: d.LedgerFen, ProviderAmountFen: d.ProviderFen, Detail: d.Detail,
		Tried: "found by the reconciliation of " + day.String() + "; nothing changed", CreatedAt: now, UpdatedAt: now})
}

func tradeKey(outTradeNo, outRefundNo string) string { return outTradeNo + "|" + outRefundNo }

// lockRecon runs one reconciliation of a channel and day at a time in this process (the daily
// runner and a manual run); across replicas every step is idempotent.
func (a *App) lockRecon(ch payment.Channel, day recon.Day) func() {
	key := string(ch) + day.String()
	a.reconMu.Lock()
	l, ok := a.reconLocks[key]
	if !ok {
		l = make(chan struct{}, 1)
		a.reconLocks[key] = l
	}
	a.reconMu.Unlock()
	l <- struct{}{}
	return func() { <-l }
}

// comparer holds one run's comparison while the bill streams through it.
type comparer struct {
	idx      *LedgerIndex
	stored   map[string]bool
	day      recon.Day
	deferred []recon.Row // rows whose trade or refund is not in the day's ledger: looked up in batches
	found    []recon.Discrepancy
	repairs  []repair
	rows     int
	matched  int
	tot      recon.Totals
}

// repair is a discrepancy the run fixes, with what it needs.
type repair struct {
	index     int // in found; -1 when an earlier run reported it
	kind      recon.Kind
	row       recon.Row
	paymentID int64
	refundID  int64
}

// keep copies a row's strings: the CSV reader's share one allocation per line, which a kept
// row must not pin.
func keep(r recon.Row) recon.Row {
	r.OutTradeNo, r.OutRefundNo, r.ProviderTradeNo = strings.Clone(r.OutTradeNo), strings.Clone(r.OutRefundNo), strings.Clone(r.ProviderTradeNo)
	return r
}

func (c *comparer) row(r recon.Row) {
	c.rows++
	c.tot.Add(r)
	i := c.idx.lookup(r.OutTradeNo)
	if i < 0 || r.Kind == recon.RowRefund && c.idx.refund(i, r.OutRefundNo) == nil {
		c.deferred = append(c.deferred, keep(r)) // a refund of an older payment or settled another day, a trade we never saw succeed
		return
	}
	c.compare(i, r)
}

// add records a discrepancy and its repair. A trade an earlier run of the day already reported
// keeps that report (the rerun's answer is the same); its repair is still retried until the
// ledger agrees (each door is idempotent).
func (c *comparer) add(d recon.Discrepancy, fix *repair) {
	d.OutTradeNo, d.OutRefundNo = strings.Clone(d.OutTradeNo), strings.Clone(d.OutRefundNo)
	reported := c.stored[tradeKey(d.OutTradeNo, d.OutRefundNo)]
	if fix != nil {
		fix.index, fix.kind, fix.row = -1, d.Kind, keep(fix.row)
		if !reported {
			fix.index = len(c.found)
		}
		c.repairs = append(c.repairs, *fix)
	}
	if !reported {
		c.found = append(c.found, d)
	}
}

// compare one bill row with the ledger's payment i of its trade.
func (c *comparer) compare(i int32, r recon.Row) {
	lp := &c.idx.pays[i]
	status := c.idx.status(i)
	switch r.Kind {
	case recon.RowPayment:
		lp.flags |= paySeen
		switch {
		case r.Amount != lp.amount:
			c.add(recon.Discrepancy{Kind: recon.AmountDiffers, Action: recon.ActionAnomaly, OutTradeNo: r.OutTradeNo,
				ProviderFen: r.Amount, LedgerFen: lp.amount, PaymentID: lp.id,
				Detail: fmt.Sprintf("the provider settled %s yuan, our trade is %s yuan; nothing changed", r.Amount.Yuan(), lp.amount.Yuan())}, nil)
		case status == payment.StatusSucceeded || status == payment.StatusRefunded:
			c.match(r)
		default:
			c.add(recon.Discrepancy{Kind: recon.PaidNotRecorded, Action: recon.ActionRecordedPayment, OutTradeNo: r.OutTradeNo,
				ProviderFen: r.Amount, LedgerFen: lp.amount, PaymentID: lp.id,
				Detail: "paid at the provider, " + string(status) + " here: recorded as a verified notify would"}, &repair{row: r, paymentID: lp.id})
		}
	case recon.RowRefund:
		d := recon.Discrepancy{OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo, ProviderFen: r.Amount, PaymentID: lp.id}
		lr := c.idx.refund(i, r.OutRefundNo)
		if lr == nil {
			d.Kind, d.Action = recon.ConsoleRefund, recon.ActionRecordedRefund
			d.Detail = "refunded at the provider, unknown here: recorded as a refund, the order follows"
			c.add(d, &repair{row: r, paymentID: lp.id})
			return
		}
		lr.seen = true
		d.LedgerFen, d.RefundID = lr.amount, lr.id
		switch {
		case r.Amount != lr.amount:
			d.Kind, d.Action = recon.AmountDiffers, recon.ActionAnomaly
			d.Detail = fmt.Sprintf("the provider refunded %s yuan, our refund is %s yuan; nothing changed", r.Amount.Yuan(), lr.amount.Yuan())
			c.add(d, nil)
		case lr.status == payment.RefundSucceeded:
			c.match(r)
		case lr.status == payment.RefundProcessing:
			d.Kind, d.Action = recon.RefundNotSettled, recon.ActionRefundSettling
			d.Detail = "refunded at the provider, still processing here: the refund queries the provider now"
			c.add(d, &repair{row: r, paymentID: lp.id, refundID: lr.id})
		default:
			d.Kind, d.Action = recon.StatusDiffers, recon.ActionAnomaly
			d.Detail = "refunded at the provider, " + string(lr.status) + " here"
			c.add(d, nil)
		}
	}
}

func (c *comparer) match(r recon.Row) {
	if len(c.stored) == 0 || !c.stored[tradeKey(r.OutTradeNo, r.OutRefundNo)] {
		c.matched++
	}
}

// resolveDeferred looks up the trades the day's ledger did not hold (a refund of an older
// payment, a payment we never saw succeed) in batches; what is still unknown is not ours.
func (c *comparer) resolveDeferred(ctx context.Context, store Reconciliations, chs []payment.Channel) error {
	const batch = 500
	for start := 0; start < len(c.deferred); start += batch {
		rows := c.deferred[start:min(start+batch, len(c.deferred))]
		nos := make([]string, 0, len(rows))
		for _, r := range rows {
			nos = append(nos, r.OutTradeNo)
		}
		if err := store.LedgerTrades(ctx, chs, nos, c.idx); err != nil {
			return err
		}
		for _, r := range rows {
			if i := c.idx.lookup(r.OutTradeNo); i >= 0 {
				c.compare(i, r)
				continue
			}
			c.add(recon.Discrepancy{Kind: recon.UnknownTrade, OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo,
				ProviderFen: r.Amount, Action: recon.ActionListed, Detail: "not a paysuite trade (another system on the merchant account?)"}, nil)
		}
	}
	c.deferred = nil
	return nil
}

// leftovers: what the ledger moved within the day that the bill does not list.
func (c *comparer) leftovers() {
	x := c.idx
	for i := range x.pays {
		lp := &x.pays[i]
		if lp.flags&(payInDay|paySeen|payOutside) != payInDay {
			continue
		}
		if st := x.status(int32(i)); st == payment.StatusSucceeded || st == payment.StatusRefunded {
			c.add(recon.Discrepancy{Kind: recon.MissingInBill, OutTradeNo: string(x.noOf(int32(i))), LedgerFen: lp.amount,
				Action: recon.ActionAnomaly, Detail: "SUCCEEDED here, absent from the provider's bill", PaymentID: lp.id}, nil)
		}
	}
	for rno, lr := range x.refunds {
		if !lr.seen && lr.settledInDay && lr.status == payment.RefundSucceeded {
			c.add(recon.Discrepancy{Kind: recon.MissingInBill, OutTradeNo: string(x.noOf(lr.pay)), OutRefundNo: rno, LedgerFen: lr.amount,
				Action: recon.ActionAnomaly, Detail: "refund SUCCEEDED here, absent from the provider's bill",
				PaymentID: x.pays[lr.pay].id, RefundID: lr.id}, nil)
		}
	}
}
