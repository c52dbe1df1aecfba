// Package emulatortest runs the sandbox emulator on a local listener for other modules' tests,
// the way `make run` runs the sandbox for the payment service.
package emulatortest

import (
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

// Sandbox is a running emulator; it is closed at test cleanup.
type Sandbox struct {
	*emulator.Emulator
	URL     string // base URL: the providers' API and the buyer endpoints
	KeysDir string
}

// MerchantFile is the credentials file a payment service reads (PAYMENT_MERCHANT_FILE).
func (s *Sandbox) MerchantFile() string { return filepath.Join(s.KeysDir, "merchant.json") }

// Option changes the emulator's configuration before it starts, e.g.
// func(c *emulator.Config) { c.WechatMode = emulator.WechatModeBoth; c.BillReadyDelay = -24 * time.Hour }.
type Option func(*emulator.Config)

// Start runs a fresh emulator (new keys in a temp dir) whose notify retry schedule is scaled by
// timeScale.
func Start(t testing.TB, timeScale float64, log *slog.Logger, opts ...Option) *Sandbox {
	t.Helper()
	keys := t.TempDir()
	srv := httptest.NewUnstartedServer(nil)
	cfg := emulator.Config{KeysDir: keys, PublicURL: "http://" + srv.Listener.Addr().String(), TimeScale: timeScale, Logger: log}
	for _, o := range opts {
		o(&cfg)
	}
	emu, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = emu.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = emu.Close() })
	return &Sandbox{Emulator: emu, URL: srv.URL, KeysDir: keys}
}
