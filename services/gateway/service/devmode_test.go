package service_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/pkg/tlsx"
	"github.com/paysuite/paysuite/services/gateway/service"
)

// TestOutsideDevModeThereIsNoDevIssuer: without dev mode /dev/* and the sandbox pay shortcut do
// not exist, and without an identity provider's keys either the gateway refuses to start.
func TestOutsideDevModeThereIsNoDevIssuer(t *testing.T) {
	err := service.Run(context.Background(), service.Config{HTTPAddr: testkit.FreeAddr(t)}, testkit.Logger(t))
	if !errors.Is(err, service.ErrNoTokenKeys) {
		t.Fatalf("no keys, no dev mode: Run = %v, want ErrNoTokenKeys", err)
	}
	env := config.FromMap(map[string]string{})
	if cfg := service.ConfigFromEnv(env); env.Err() == nil || cfg.DevMode {
		t.Fatalf("an empty environment: dev mode %v, err %v; want dev mode off and a refusal", cfg.DevMode, env.Err())
	}

	tokens := testkit.NewTokens(t)
	cfg := service.Config{HTTPAddr: testkit.FreeAddr(t), TLS: testkit.NewStack(t).TLS(tlsx.Gateway),
		OrderTarget: "127.0.0.1:1", PaymentTarget: "127.0.0.1:1",
		NotificationTarget: "127.0.0.1:1", CourseTarget: "127.0.0.1:1",
		Auth: service.AuthConfig{JWKSFile: tokens.JWKSFile, Issuer: testkit.TestIssuer, Audience: testkit.TestAudience}}
	testkit.Go(t, func(ctx context.Context) error { return service.Run(ctx, cfg, testkit.Logger(t)) })
	s := &stack{baseURL: "http://" + cfg.HTTPAddr, client: &http.Client{Timeout: 10 * time.Second}, tokens: tokens}
	testkit.Eventually(t, 10*time.Second, func() bool {
		resp, err := s.client.Get(s.baseURL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}, "gateway never answered")
	for _, r := range []struct{ method, path string }{
		{"POST", "/dev/token"}, {"GET", "/dev/jwks.json"}, {"POST", "/dev/sandbox/pay"},
	} {
		if got := s.do(t, r.method, r.path, map[string]any{"userId": "x"}); got.Status != http.StatusNotFound {
			t.Errorf("%s %s outside dev mode: HTTP %d, want 404", r.method, r.path, got.Status)
		}
	}
	if r := s.do(t, "GET", "/ui/config.json", nil); r.JSON["devMode"] != false {
		t.Errorf("page config outside dev mode: %s", r.Raw)
	}
	if r := s.do(t, "GET", "/v1/users/x/orders", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("no token: HTTP %d", r.Status)
	}
}
