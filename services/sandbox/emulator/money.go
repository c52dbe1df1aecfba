package emulator

import (
	"time"

	"github.com/paysuite/paysuite/pkg/money"
)

// cst is China Standard Time; a fixed zone needs no tzdata in the container (China has no DST).
var cst = time.FixedZone("CST", 8*3600)

const alipayTimeLayout = "2006-01-02 15:04:05"

// parseYuan turns Alipay's "12.34" into fen exactly; signs are refused, as by the gateway.
func parseYuan(s string) (int64, bool) {
	f, err := money.ParseYuan(s)
	if err != nil || f < 0 || len(s) > 0 && s[0] == '-' {
		return 0, false
	}
	return int64(f), true
}

func yuan(fen int64) string { return money.Fen(fen).Yuan() }
