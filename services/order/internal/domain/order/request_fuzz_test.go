package order

import (
	"errors"
	"strings"
	"testing"
)

// decodeLines turns fuzz bytes into request lines: each line takes 2 bytes, a sku from a small
// alphabet (so repeats and padding happen) and a quantity that may be out of range.
func decodeLines(b []byte) []Line {
	skus := []string{"a", "b", " a", "a ", "", "c", strings.Repeat("x", 65), "\t"}
	var lines []Line
	for i := 0; i+1 < len(b); i += 2 {
		lines = append(lines, Line{SkuID: skus[int(b[i])%len(skus)], Quantity: int32(int8(b[i+1]))})
	}
	return lines
}

// NewRequest accepts exactly the requests the rules allow, and what it returns is normalised:
// trimmed ids, one line per sku in sku order, each quantity the sum asked for, within 1..99.
func FuzzNewRequest(f *testing.F) {
	f.Add("u1", "r1", []byte{0, 1})
	f.Add(" u1 ", "r1", []byte{0, 50, 2, 49})         // " a" and "a" merge to 99
	f.Add("u1", "r1", []byte{0, 50, 3, 50})           // merged 100: too many
	f.Add("u1", "", []byte{0, 1})                     // no request id
	f.Add("", "r", []byte{0, 1})                      // no user
	f.Add("u", "r", []byte{})                         // no lines
	f.Add("u", "r", []byte{4, 1})                     // empty sku
	f.Add("u", "r", []byte{6, 1})                     // sku too long
	f.Add("u", "r", []byte{0, 0})                     // quantity 0
	f.Add("u", "r", []byte{0, 0xff})                  // quantity -1
	f.Add(strings.Repeat("u", 65), "r", []byte{0, 1}) // user id too long
	f.Fuzz(func(t *testing.T, user, request string, raw []byte) {
		lines := decodeLines(raw)
		req, err := NewRequest(user, request, lines)

		// The rules, independently.
		u, r := strings.TrimSpace(user), strings.TrimSpace(request)
		want := map[string]int32{}
		valid := u != "" && r != "" && len(u) <= MaxIDLength && len(r) <= MaxIDLength && len(lines) >= 1 && len(lines) <= MaxItems
		for _, l := range lines {
			id := strings.TrimSpace(l.SkuID)
			if id == "" || len(id) > MaxIDLength || l.Quantity < 1 || l.Quantity > MaxQuantity {
				valid = false
				break
			}
			want[id] += l.Quantity
			if want[id] > MaxQuantity {
				valid = false
				break
			}
		}
		if !valid {
			if err == nil {
				t.Fatalf("accepted an invalid request: %q %q %+v -> %+v", user, request, lines, req)
			}
			for _, known := range []error{ErrMissingUserID, ErrMissingRequestID, ErrIDTooLong, ErrItemCount, ErrMissingSkuID, ErrInvalidQuantity} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("refused with an unnamed error %v", err)
		}
		if err != nil {
			t.Fatalf("refused a valid request %q %q %+v: %v", user, request, lines, err)
		}
		if req.UserID != u || req.RequestID != r || len(req.Lines) != len(want) {
			t.Fatalf("not normalised: %+v (want user %q request %q, %d skus)", req, u, r, len(want))
		}
		for i, l := range req.Lines {
			if i > 0 && req.Lines[i-1].SkuID >= l.SkuID {
				t.Fatalf("lines not sorted and unique: %+v", req.Lines)
			}
			if want[l.SkuID] != l.Quantity {
				t.Fatalf("sku %q quantity %d, asked %d", l.SkuID, l.Quantity, want[l.SkuID])
			}
		}
	})
}
