package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// Random identifiers in the providers' formats. crypto/rand never fails on supported platforms.

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randFrom(alphabet string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randDigits(n int) string { return randFrom("0123456789", n) }
func randAlnum(n int) string  { return randFrom(alnum, n) }

func randHex(nBytes int) string {
	b := make([]byte, nBytes)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randUpperHex(nBytes int) string { return strings.ToUpper(randHex(nBytes)) }

// alipayTradeNo looks like 2024061722001400001234567890 (date + 20 digits).
func alipayTradeNo(now time.Time) string { return now.In(cst).Format("20060102") + randDigits(20) }

// wechatTransactionID looks like 4200002345202406171234567890 (32 digits).
func wechatTransactionID() string { return "4200" + randDigits(28) }

func wechatRefundID() string { return "50" + randDigits(30) }

// wechatPrepayID looks like wx201410272009395522657a690389285100 ("wx" + time + 20 characters).
func wechatPrepayID(now time.Time) string {
	return "wx" + now.In(cst).Format("20060102150405") + strings.ToLower(randHex(10))
}
