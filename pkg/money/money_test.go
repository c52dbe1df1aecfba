package money

import (
	"errors"
	"testing"
)

func TestYuan(t *testing.T) {
	cases := map[Fen]string{0: "0.00", 1: "0.01", 10: "0.10", 1234: "12.34", 100000: "1000.00", -5: "-0.05"}
	for fen, want := range cases {
		if got := fen.Yuan(); got != want {
			t.Errorf("Fen(%d).Yuan() = %q, want %q", fen, got, want)
		}
	}
}

func TestParseYuan(t *testing.T) {
	good := map[string]Fen{"12.34": 1234, "0.01": 1, "12": 1200, "12.3": 1230, "0.10": 10}
	for in, want := range good {
		got, err := ParseYuan(in)
		if err != nil || got != want {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.234", "abc", "1.", ".5", "1e3", "12,34", "0x10"} {
		if _, err := ParseYuan(in); !errors.Is(err, ErrBadYuan) {
			t.Errorf("ParseYuan(%q) error = %v, want ErrBadYuan", in, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for f := Fen(0); f < 20000; f += 7 {
		back, err := ParseYuan(f.Yuan())
		if err != nil || back != f {
			t.Fatalf("round trip %d -> %q -> %d, %v", f, f.Yuan(), back, err)
		}
	}
}
