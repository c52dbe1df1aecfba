// Package money keeps amounts as whole fen (1/100 yuan); floats never touch money.
package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Fen is an amount in fen, the unit WeChat Pay uses and the one paysuite stores.
type Fen int64

// ErrBadYuan is returned for text that is not an exact yuan amount.
var ErrBadYuan = errors.New("not a yuan amount with at most 2 decimals")

// Yuan formats the amount as Alipay expects it: "12.34", always two decimals.
func (f Fen) Yuan() string {
	sign := ""
	v := int64(f)
	if v < 0 {
		sign = "-"
		v = -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// ParseYuan parses Alipay's "12.34" (or "12", "12.3") into fen exactly.
func ParseYuan(s string) (Fen, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && (frac == "" || len(frac) > 2)) {
		return 0, fmt.Errorf("%q: %w", s, ErrBadYuan)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	if !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%q: %w", s, ErrBadYuan)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > (1<<62)/100 {
		return 0, fmt.Errorf("%q: %w", s, ErrBadYuan)
	}
	c, _ := strconv.ParseInt(frac, 10, 64)
	v := w*100 + c
	if neg {
		v = -v
	}
	return Fen(v), nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
