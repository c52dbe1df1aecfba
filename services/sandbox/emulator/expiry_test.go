package emulator

import (
	"testing"
	"time"
)

func TestAlipayExpiry(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, cst)
	for _, tc := range []struct {
		timeExpire, timeout string
		want                time.Time
		ok                  bool
	}{
		{"", "", now.Add(2 * time.Hour), true},
		{"", "25m", now.Add(25 * time.Minute), true},
		{"", "2h", now.Add(2 * time.Hour), true},
		{"", "1d", now.Add(24 * time.Hour), true},
		{"", "1c", time.Date(2025, 3, 2, 0, 0, 0, 0, cst), true},
		{"", "16d", time.Time{}, false},
		{"", "0m", time.Time{}, false},
		{"", "25", time.Time{}, false},
		{"2025-03-01 10:30:00", "5m", now.Add(30 * time.Minute), true}, // time_expire wins
		{"2025-03-01 09:59:59", "", time.Time{}, false},                // already past
		{"2025-03-01T10:30:00+08:00", "", time.Time{}, false},          // not Alipay's layout
	} {
		got, ok := alipayExpiry(now, tc.timeExpire, tc.timeout)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("alipayExpiry(%q, %q) = %v %v, want %v %v", tc.timeExpire, tc.timeout, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseYuan(t *testing.T) {
	for in, want := range map[string]int64{"12.34": 1234, "0.01": 1, "10": 1000, "10.5": 1050} {
		if got, ok := parseYuan(in); !ok || got != want {
			t.Errorf("parseYuan(%q) = %d %v, want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1.00", "1.234", "1e3", "abc", "1."} {
		if _, ok := parseYuan(in); ok {
			t.Errorf("parseYuan(%q) accepted", in)
		}
	}
}
