package mysql

import (
	"fmt"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// The fees of a run stream through the bounded chunk queue into LOAD DATA: more rows than the
// queue holds arrive whole on Commit (a rerun overwrites), an aborted run leaves nothing, and
// odd characters in a trade number survive the escaping.
func TestFeesStreamCommitAndAbort(t *testing.T) {
	e := newBatchEnv(t)
	day := recon.DayOf(time.Now()).Prev()
	count := func(where string, args ...any) int {
		var n int
		if err := e.repo.gdb.Raw("SELECT COUNT(*) FROM recon_fees WHERE "+where, args...).Row().Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const n = 60_000 // about 30 chunks: the parser waits on the queue more than once
	write := func(fee money.Fen, commit bool) {
		w, err := e.repo.WriteFees(e.ctx, payment.ChannelWechatNative, day)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := w.Add(recon.Fee{OutTradeNo: fmt.Sprintf("PSFEE%08d", i), GrossFen: 1000, FeeFen: fee}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Add(recon.Fee{OutTradeNo: "PS\tODD\\1\n", OutRefundNo: "R\\1", GrossFen: -5, FeeFen: -fee}); err != nil {
			t.Fatal(err)
		}
		if !commit {
			w.Abort()
			return
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	write(6, false)
	if got := count("channel = ?", "WECHAT_NATIVE"); got != 0 {
		t.Fatalf("an aborted run left %d fees", got)
	}
	write(6, true)
	write(7, true) // a rerun overwrites
	if got := count("channel = ? AND bill_date = ? AND fee_fen = 7", "WECHAT_NATIVE", day.String()); got != n {
		t.Fatalf("%d fees of the rerun stored, want %d", got, n)
	}
	if got := count("out_trade_no = ? AND out_refund_no = ? AND fee_fen = -7 AND gross_fen = -5", "PS\tODD\\1\n", "R\\1"); got != 1 {
		t.Fatalf("the escaped row stored %d times", got)
	}
}
