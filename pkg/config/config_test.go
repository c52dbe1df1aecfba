package config

import (
	"strings"
	"testing"
	"time"
)

func TestEnvCollectsEveryBadValue(t *testing.T) {
	env := FromMap(map[string]string{"A": "x", "B": "soon", "C": "7", "D": "2s"})
	_ = env.Int("A", 1)
	_ = env.Duration("B", time.Second)
	if got := env.Int("C", 1); got != 7 {
		t.Fatalf("C = %d, want 7", got)
	}
	if got := env.Duration("D", time.Second); got != 2*time.Second {
		t.Fatalf("D = %v, want 2s", got)
	}
	if got := env.String("UNSET", "def"); got != "def" {
		t.Fatalf("UNSET = %q, want def", got)
	}
	_ = env.Required("MISSING")
	env.Check(false, "C must be above 10")
	err := env.Err()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"A=", "B=", "MISSING", "C must be above 10"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestEnvValidIsNil(t *testing.T) {
	env := FromMap(map[string]string{"X": "true"})
	if !env.Bool("X", false) || env.Err() != nil {
		t.Fatalf("want X=true and no error, got %v", env.Err())
	}
}
