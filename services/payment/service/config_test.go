package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/payment/service"
)

func TestProviderTimeoutMustBeShorterThanOrderTimeout(t *testing.T) {
	t.Setenv("ORDER_PAY_TIMEOUT", "30m")
	t.Setenv("PROVIDER_TRADE_TIMEOUT", "30m")
	env := config.New()
	service.ConfigFromEnv(env)
	if err := env.Err(); err == nil || !strings.Contains(err.Error(), "PROVIDER_TRADE_TIMEOUT") {
		t.Fatalf("env.Err() = %v, want PROVIDER_TRADE_TIMEOUT refused", err)
	}
	// Run refuses it too, whoever built the Config.
	cfg := service.Config{OrderPayTimeout: time.Minute, ProviderTradeTimeout: 2 * time.Minute, PollScale: 1, NotifyBaseURL: "http://x"}
	if err := service.Run(context.Background(), cfg, testkit.Logger(t)); err == nil || !strings.Contains(err.Error(), "PROVIDER_TRADE_TIMEOUT") {
		t.Fatalf("Run = %v, want PROVIDER_TRADE_TIMEOUT refused", err)
	}
}
