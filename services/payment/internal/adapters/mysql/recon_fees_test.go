package mysql

import (
	"fmt"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// The fees of a run stream through the bounded chunk queue into recon_fee_chunks, in the
// transaction that stores the run and its raw file: read through the view recon_fees they are
// one row per payment and refund with the old table's columns; an aborted run (a corrupt bill)
// leaves nothing and keeps the earlier run's fees and file; a rerun replaces the day's fees
// (none twice) with its report; a first run that lost the insert to a concurrent one ends
// under the winner's id with its file; odd characters survive the JSON.
func TestFeesStoredInChunksWithTheRun(t *testing.T) {
	e := newBatchEnv(t)
	day := recon.DayOf(time.Now()).Prev()
	const ch = payment.ChannelWechatNative
	count := func(where string, args ...any) int {
		t.Helper()
		var n int
		if err := e.repo.gdb.Raw("SELECT COUNT(*) FROM recon_fees WHERE "+where, args...).Row().Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	query := func(q string, args ...any) string {
		t.Helper()
		var s string
		if err := e.repo.gdb.Raw(q, args...).Row().Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	const n = 9*feeChunkRows + 7 // more chunks than the queue holds: the parser waits on it
	const odd, oddRefund = "PS\tODD\\1\n\"中", "R\\1\x01"
	write := func(id int64, runs int, fee money.Fen, body string, commit bool) *recon.Reconciliation {
		t.Helper()
		w, err := e.repo.WriteFees(e.ctx, ch, day, id, app.RawBill{Name: "bill.csv.gz", Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort() // after a failure (after Commit: nothing)
		for i := range n {
			if err := w.Add(recon.Fee{OutTradeNo: fmt.Sprintf("PSFEE%08d", i), GrossFen: 1000, FeeFen: fee}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Add(recon.Fee{OutTradeNo: odd, OutRefundNo: oddRefund, GrossFen: -5, FeeFen: -fee}); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		rc := &recon.Reconciliation{ID: id, Channel: string(ch), Day: day, Status: recon.StatusSucceeded, BillRows: n + 1,
			FeeFen: fee * (n - 1), Runs: runs, CreatedAt: now, UpdatedAt: now}
		if !commit {
			w.Abort()
			return rc
		}
		if err := w.Commit(rc); err != nil {
			t.Fatal(err)
		}
		return rc
	}
	write(101, 1, 6, "aborted", false)
	if got := count("channel = ?", string(ch)); got != 0 {
		t.Fatalf("an aborted run left %d fees", got)
	}
	if got := query("SELECT COUNT(*) FROM recon_files"); got != "0" {
		t.Fatalf("an aborted run left %s raw files", got)
	}
	write(101, 1, 6, "first", true)
	write(101, 2, 7, "second", true) // a rerun replaces
	check := func(when string) {
		t.Helper()
		if got := count("channel = ? AND bill_date = ?", string(ch), day.String()); got != n+1 {
			t.Fatalf("%s: %d fees of the day, want %d (one per bill row)", when, got, n+1)
		}
		if got := count("channel = ? AND bill_date = ? AND out_refund_no = '' AND fee_fen = 7 AND gross_fen = 1000", string(ch), day.String()); got != n {
			t.Fatalf("%s: %d payment fees of the rerun, want %d", when, got, n)
		}
		if got := query("SELECT SUM(fee_fen) FROM recon_fees WHERE channel = ? AND bill_date = ?", string(ch), day.String()); got != fmt.Sprint(7*(n-1)) {
			t.Fatalf("%s: the day's fees add up to %s, want %d", when, got, 7*(n-1))
		}
		if got := query("SELECT CONCAT(fee_fen, ' ', out_refund_no) FROM recon_fees WHERE channel = ? AND out_trade_no = ?", string(ch), odd); got != "-7 "+oddRefund {
			t.Fatalf("%s: the odd refund reads %q", when, got)
		}
		if got := query("SELECT CONCAT(r.id, ' ', r.runs, ' ', r.fee_fen, ' ', f.body) FROM reconciliations r JOIN recon_files f ON f.recon_id = r.id"); got != fmt.Sprintf("101 2 %d second", 7*(n-1)) {
			t.Fatalf("%s: the run and its file read %q", when, got)
		}
	}
	check("after the rerun")
	write(101, 3, 8, "corrupt", false) // a bill found corrupt at its end
	check("after an aborted rerun")

	// A first run of another day that lost the insert to a concurrent one: the winner's id.
	other := day.Prev()
	now := time.Now().UTC()
	if err := e.repo.SaveReconciliation(e.ctx, &recon.Reconciliation{ID: 201, Channel: string(ch), Day: other, Status: recon.StatusSucceeded,
		Runs: 1, CreatedAt: now, UpdatedAt: now}, app.RawBill{Name: "w", Body: []byte("winner")}); err != nil {
		t.Fatal(err)
	}
	w, err := e.repo.WriteFees(e.ctx, ch, other, 202, app.RawBill{Name: "l", Body: []byte("loser")})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Add(recon.Fee{OutTradeNo: "PSOTHER", GrossFen: 10, FeeFen: 1}); err != nil {
		t.Fatal(err)
	}
	rc := &recon.Reconciliation{ID: 202, Channel: string(ch), Day: other, Status: recon.StatusSucceeded, Runs: 1, CreatedAt: now, UpdatedAt: now}
	if err := w.Commit(rc); err != nil {
		t.Fatal(err)
	}
	if rc.ID != 201 {
		t.Fatalf("the losing first run saved as %d, want the winner's 201", rc.ID)
	}
	if got := query("SELECT GROUP_CONCAT(CONCAT(recon_id, ' ', body) ORDER BY recon_id) FROM recon_files"); got != "101 second,201 loser" {
		t.Fatalf("raw files %q, want the rerun's under 101 and the last run's under 201", got)
	}
	if got := count("channel = ? AND bill_date = ? AND out_trade_no = 'PSOTHER' AND fee_fen = 1", string(ch), other.String()); got != 1 {
		t.Fatalf("the other day's fee stored %d times", got)
	}
}

// Two first runs of the same day at once (a manual run on another replica than the daily
// one's): the second waits at its first statement for the first to commit, then replaces its
// fees, report and file; neither deadlocks nor fails.
func TestFeesOfConcurrentFirstRunsOfADay(t *testing.T) {
	e := newBatchEnv(t)
	day := recon.DayOf(time.Now()).Prev()
	const ch = payment.ChannelAlipayQR
	// waitFor polls this database's transactions (without timing anything) until cond holds;
	// InnoDB refreshes what INNODB_TRX shows only when it was not read for 0.1 s.
	waitFor := func(what, cond string) {
		t.Helper()
		for i := 0; ; i++ {
			var n int
			if err := e.repo.gdb.Raw("SELECT COUNT(*) FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p " +
				"ON p.ID = t.trx_mysql_thread_id WHERE p.DB = DATABASE() AND " + cond).Row().Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				return
			}
			if i == 250 {
				var dump string
				_ = e.repo.gdb.Raw("SELECT GROUP_CONCAT(CONCAT_WS(' ', p.DB, t.trx_state, t.trx_rows_modified, t.trx_query) SEPARATOR '; ') FROM information_schema.INNODB_TRX t LEFT JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id").Row().Scan(&dump)
				t.Fatalf("never saw %s: %s", what, dump)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	now := time.Now().UTC()
	start := func(id int64, body string) app.FeeWriter {
		t.Helper()
		w, err := e.repo.WriteFees(e.ctx, ch, day, id, app.RawBill{Name: "bill.zip", Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Abort)
		return w
	}
	finish := func(w app.FeeWriter, id int64, prefix string) error {
		for i := range 2*feeChunkRows + 3 {
			if err := w.Add(recon.Fee{OutTradeNo: fmt.Sprintf("%s%08d", prefix, i), GrossFen: 100, FeeFen: 1}); err != nil {
				return err
			}
		}
		return w.Commit(&recon.Reconciliation{ID: id, Channel: string(ch), Day: day, Status: recon.StatusSucceeded,
			BillRows: 2*feeChunkRows + 3, Runs: 1, CreatedAt: now, UpdatedAt: now})
	}
	a := start(301, "A")
	waitFor("the first run's raw file stored", "t.trx_rows_modified > 0")
	b := start(302, "B")
	bDone := make(chan error, 1)
	go func() { bDone <- finish(b, 302, "PSB") }()
	waitFor("the second run waiting", "t.trx_state = 'LOCK WAIT'")
	if err := finish(a, 301, "PSA"); err != nil {
		t.Fatalf("the first run: %v", err)
	}
	if err := <-bDone; err != nil {
		t.Fatalf("the second run: %v", err)
	}
	var got string
	if err := e.repo.gdb.Raw("SELECT CONCAT((SELECT COUNT(*) FROM recon_fees WHERE channel = ? AND bill_date = ? AND out_trade_no LIKE 'PSB%'), ' ', "+
		"(SELECT COUNT(*) FROM recon_fees), ' ', (SELECT GROUP_CONCAT(CONCAT(recon_id, body)) FROM recon_files), ' ', "+
		"(SELECT GROUP_CONCAT(id) FROM reconciliations))", string(ch), day.String()).Row().Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d %d 301B 301", 2*feeChunkRows+3, 2*feeChunkRows+3); got != want {
		t.Fatalf("after both runs: %q, want %q (the second run's fees and file under the first's id)", got, want)
	}
}
