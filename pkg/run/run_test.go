package run

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/paysuite/paysuite/pkg/config"
)

func TestServiceRunsOnlyWithAValidConfiguration(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var served []int
	serve := func(_ context.Context, port int, _ *slog.Logger) error { served = append(served, port); return nil }
	bad := configured(func(env *config.Env) int { env.Check(false, "PORT=-1: want a port"); return -1 }, serve)
	if err := bad(context.Background(), log); err == nil || len(served) != 0 {
		t.Fatalf("a bad configuration: err %v, served %v; want an error and nothing served", err, served)
	}
	good := configured(func(*config.Env) int { return 8080 }, serve)
	if err := good(context.Background(), log); err != nil || len(served) != 1 || served[0] != 8080 {
		t.Fatalf("a good configuration: err %v, served %v", err, served)
	}
}
