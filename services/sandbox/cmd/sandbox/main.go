// Command sandbox serves the Alipay / WeChat Pay emulator on SANDBOX_ADDR (default :8090).
package main

import (
	"context"
	"log/slog"

	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/httpserver"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

func main() { run.Main("sandbox", serve) }

func serve(ctx context.Context, log *slog.Logger) error {
	env := config.New()
	run.CheckLogLevel(env)
	addr := env.String("SANDBOX_ADDR", ":8090")
	keysDir := env.String("SANDBOX_KEYS_DIR", ".sandbox")
	publicURL := env.String("SANDBOX_PUBLIC_URL", "http://127.0.0.1:8090")
	scale := env.Float("SANDBOX_TIME_SCALE", 1)
	mode := env.String("SANDBOX_WECHAT_MODE", emulator.WechatModePublicKey)
	billDelay := env.Duration("SANDBOX_BILL_READY_DELAY", emulator.DefaultBillReadyDelay)
	env.Check(scale > 0, "SANDBOX_TIME_SCALE must be > 0")
	env.Check(emulator.ValidWechatMode(mode), "SANDBOX_WECHAT_MODE %q: want publicKey, certificate or both", mode)
	env.Check(billDelay != 0, "SANDBOX_BILL_READY_DELAY must not be 0 (use 1s for \"as soon as the day ends\")")
	if err := env.Err(); err != nil {
		return err
	}
	emu, err := emulator.New(emulator.Config{KeysDir: keysDir, PublicURL: publicURL, TimeScale: scale, Logger: log,
		WechatMode: mode, BillReadyDelay: billDelay})
	if err != nil {
		return err
	}
	log.Info("sandbox ready", "addr", addr, "merchant_file", keysDir+"/merchant.json", "public_url", publicURL,
		"wechat_mode", mode, "bill_ready_delay", billDelay)
	serveErr := httpserver.Serve(ctx, addr, emu.Handler(), log)
	if err := emu.Close(); err != nil && serveErr == nil {
		return err
	}
	return serveErr
}
