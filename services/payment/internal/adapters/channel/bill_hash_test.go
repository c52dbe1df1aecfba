package channel

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// WeChat's download is unsigned: only the SHA1 in the signed tradebill answer vouches for it.
func TestWechatBillHashChecked(t *testing.T) {
	plain := []byte("交易时间,商户订单号\r\n`2024-05-01 10:00:00,`PS0001\r\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(plain)
	_ = zw.Close()
	sum := sha1.Sum(plain)
	if err := checkSHA1(gz.Bytes(), hex.EncodeToString(sum[:])); err != nil {
		t.Fatalf("the right hash: %v", err)
	}
	sum[0] ^= 1
	var bad *recon.BadBillError
	if err := checkSHA1(gz.Bytes(), hex.EncodeToString(sum[:])); !errors.As(err, &bad) {
		t.Fatalf("a file whose SHA1 is not hash_value = %v, want BadBillError", err)
	}
	if err := checkSHA1(plain, hex.EncodeToString(sum[:])); !errors.As(err, &bad) {
		t.Fatalf("not gzip = %v, want BadBillError", err)
	}
}
