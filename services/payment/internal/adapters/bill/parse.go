// Package bill reads the providers' daily trade bills as they serve them: Alipay's zip of GBK
// CSV files and WeChat Pay's CSV with backtick-prefixed cells. Both stream row by row (a real
// CSV reader over a real GBK decoder) and check the totals each file states about itself
// against the rows read; a file whose totals do not hold is refused (*recon.BadBillError).
package bill

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

const timeLayout = "2006-01-02 15:04:05"

func bad(format string, a ...any) error {
	return &recon.BadBillError{Reason: fmt.Sprintf(format, a...)}
}

// commentTap passes a text stream through minus its comment lines ('#' first), which it hands
// to onComment: the CSV reader sees only records, the caller still reads the totals lines.
type commentTap struct {
	r         *bufio.Reader
	onComment func(string)
	pending   []byte
}

func newCommentTap(r io.Reader, onComment func(string)) *commentTap {
	return &commentTap{r: bufio.NewReaderSize(r, 64<<10), onComment: onComment}
}

func (t *commentTap) Read(p []byte) (int, error) {
	for len(t.pending) == 0 {
		line, err := t.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull { // a very long record line: pass it through in pieces
			t.pending = append(t.pending[:0], line...)
			break
		}
		if len(line) > 0 && line[0] == '#' {
			t.onComment(strings.TrimRight(string(line), "\r\n"))
		} else if len(line) > 0 {
			t.pending = append(t.pending[:0], line...)
		}
		if err != nil {
			if len(t.pending) == 0 {
				return 0, err
			}
			break
		}
	}
	n := copy(p, t.pending)
	t.pending = t.pending[n:]
	return n, nil
}

// columns finds the named columns in a header row; every name must be there.
type columns map[string]int

func newColumns(header []string, clean func(string) string, want ...string) (columns, error) {
	c := columns{}
	for i, h := range header {
		c[clean(h)] = i
	}
	for _, w := range want {
		if _, ok := c[w]; !ok {
			return nil, bad("header has no column %q", w)
		}
	}
	return c, nil
}

// get returns the named cell, cleaned; "" when the record is short.
func (c columns) get(rec []string, name string, clean func(string) string) string {
	i := c[name]
	if i >= len(rec) {
		return ""
	}
	return clean(rec[i])
}

// yuanFen reads an amount in yuan with at most two decimals.
func yuanFen(s, what string) (money.Fen, error) {
	f, err := money.ParseYuan(s)
	if err != nil {
		return 0, bad("%s %q is not an amount", what, s)
	}
	return f, nil
}

// micro is an amount in 1/100000 yuan (WeChat's fee column has five decimals).
type micro int64

func parseMicro(s, what string) (micro, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if whole == "" || len(frac) > 5 {
		return 0, bad("%s %q is not an amount", what, s)
	}
	frac += strings.Repeat("0", 5-len(frac))
	w, err1 := strconv.ParseUint(whole, 10, 40)
	f, err2 := strconv.ParseUint(frac, 10, 20)
	if err1 != nil || err2 != nil {
		return 0, bad("%s %q is not an amount", what, s)
	}
	v := micro(w*100000 + f)
	if neg {
		v = -v
	}
	return v, nil
}

// fen rounds to the fen, half away from zero.
func (m micro) fen() money.Fen {
	if m < 0 {
		return -(-m).fen()
	}
	return money.Fen((m + 500) / 1000)
}

func parseTime(s, what string) (time.Time, error) {
	t, err := time.ParseInLocation(timeLayout, s, recon.Shanghai)
	if err != nil {
		return time.Time{}, bad("%s %q is not a time", what, s)
	}
	return t, nil
}

// stripBOM drops a UTF-8 byte order mark.
func stripBOM(s string) string { return strings.TrimPrefix(s, "\uFEFF") }
