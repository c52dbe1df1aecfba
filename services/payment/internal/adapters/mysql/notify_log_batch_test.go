package mysql

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

func note(outTradeNo, notifyID, dedupe, outcome string) app.NotifyRecord {
	return app.NotifyRecord{Channel: payment.ChannelAlipayQR, OutTradeNo: outTradeNo, NotifyID: notifyID, DedupeKey: dedupe,
		Verified: true, Outcome: outcome, Headers: "h: 1\n", Body: "body of " + notifyID, BodySHA256: "x",
		ReceivedAt: time.Now()}
}

// Concurrent notify log rows are written together (one multi-row INSERT), each exactly once,
// with its own body and dedupe key.
func TestConcurrentNotifyLogRowsAreEachWrittenOnce(t *testing.T) {
	e := newBatchEnv(t)
	prefix := fmt.Sprintf("NL%d-", e.next)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("%s%d", prefix, i)
			if err := e.repo.LogNotify(e.ctx, note(id, id, "ALIPAY_QR:"+id, app.NotifyAccepted)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := e.count("SELECT COUNT(*) FROM notify_log WHERE out_trade_no LIKE ? AND dedupe_key = CONCAT('ALIPAY_QR:', notify_id) AND body = CONCAT('body of ', notify_id)", prefix+"%"); got != n {
		t.Fatalf("%d rows with their own key and body, want %d", got, n)
	}
}

// A dedupe key another row holds already fails a batch; every row of it is still written,
// the one whose key was taken without the key and saying so.
func TestATakenDedupeKeyStillLogsTheNotify(t *testing.T) {
	e := newBatchEnv(t)
	id := fmt.Sprintf("NK%d", e.next)
	if err := e.repo.LogNotify(e.ctx, note(id, "n1", "ALIPAY_QR:n1-"+id, app.NotifyAccepted)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			key := ""
			if i == 0 {
				key = "ALIPAY_QR:n1-" + id
			}
			if err := e.repo.LogNotify(e.ctx, note(id, fmt.Sprintf("m%d", i), key, app.NotifyAccepted)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := e.count("SELECT COUNT(*) FROM notify_log WHERE out_trade_no = ?", id); got != 9 {
		t.Fatalf("%d rows, want all 9", got)
	}
	if got := e.count("SELECT COUNT(*) FROM notify_log WHERE out_trade_no = ? AND notify_id = 'm0' AND dedupe_key IS NULL AND refuse_reason LIKE 'notify id already logged%'", id); got != 1 {
		t.Fatal("the row whose key was taken is not kept without it")
	}
}
