package run

import (
	"context"
	"io"
	"log/slog"
	"strings"
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

func TestABadLogLevelStopsTheServiceLikeAnyBadValue(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	served := false
	serve := func(context.Context, int, *slog.Logger) error { served = true; return nil }
	for _, level := range []string{"debug", "INFO", "warn", "error", ""} {
		t.Setenv("LOG_LEVEL", level)
		if err := configured(func(*config.Env) int { return 1 }, serve)(context.Background(), log); err != nil || !served {
			t.Fatalf("LOG_LEVEL=%q: err %v, served %v; want it accepted", level, err, served)
		}
		served = false
	}
	t.Setenv("LOG_LEVEL", "loud")
	bad := configured(func(env *config.Env) int { env.Check(false, "PORT=-1: want a port"); return -1 }, serve)
	err := bad(context.Background(), log)
	if err == nil || served || !strings.Contains(err.Error(), `LOG_LEVEL="loud"`) || !strings.Contains(err.Error(), "PORT=-1") {
		t.Fatalf("LOG_LEVEL=loud with another bad value: err %v, served %v; want both named and nothing served", err, served)
	}
}
