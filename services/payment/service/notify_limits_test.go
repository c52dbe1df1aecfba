package service_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
)

// TestNotifyBodyLimits: a body over 64 KiB answers 413 in each provider's format, and every
// refused notify keeps at most 4 KiB of its body with the SHA-256 that identifies it.
func TestNotifyBodyLimits(t *testing.T) {
	e := start(t)
	form := "application/x-www-form-urlencoded"

	huge := []byte("out_trade_no=PSHUGE&pad=" + strings.Repeat("x", 64<<10))
	if code, body := e.postNotify("/notify/alipay", form, huge, nil); code != http.StatusRequestEntityTooLarge || body != "failure" {
		t.Fatalf("alipay, body over 64 KiB: %d %q, want 413 failure", code, body)
	}
	if code, body := e.postNotify("/notify/wechat", "application/json", huge, nil); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"FAIL"`) {
		t.Fatalf("wechat, body over 64 KiB: %d %q, want 413 FAIL", code, body)
	}

	// Just under the limit: read whole, refused for its signature, logged with 4 KiB of it.
	big := []byte("out_trade_no=PSBIG&trade_status=TRADE_SUCCESS&pad=" + strings.Repeat("y", 60<<10))
	if code, body := e.postNotify("/notify/alipay", form, big, nil); code != http.StatusOK || body != "failure" {
		t.Fatalf("alipay, unsigned 60 KiB notify: %d %q, want 200 failure", code, body)
	}
	sum := sha256.Sum256(big)
	var kept int
	var hash string
	if err := e.db.QueryRow(`SELECT LENGTH(body), body_sha256 FROM notify_log WHERE outcome = 'REFUSED' AND body LIKE 'out_trade_no=PSBIG&%'`).Scan(&kept, &hash); err != nil {
		t.Fatalf("the refused notify was not logged: %v", err)
	}
	if kept != 4096 || hash != hex.EncodeToString(sum[:]) {
		t.Fatalf("refused notify kept %d bytes with hash %s; want 4096 and %x", kept, hash, sum)
	}
	if n := e.count(`SELECT COUNT(*) FROM notify_log WHERE outcome = 'REFUSED' AND LENGTH(body) <= 4096 AND refuse_reason LIKE 'body over 65536 bytes%'`); n != 2 {
		t.Fatalf("%d oversize notifies logged (4 KiB each), want 2", n)
	}
}
