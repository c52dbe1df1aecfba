package service

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/boot"
	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/tlsx"
	"github.com/paysuite/paysuite/services/payment/internal/adapters/channel"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

// AlipayConfig are the ALIPAY_* settings.
type AlipayConfig struct {
	AppID         string // ALIPAY_APP_ID
	AppPrivateKey string // ALIPAY_APP_PRIVATE_KEY (PEM)
	PublicKey     string // ALIPAY_PUBLIC_KEY: Alipay's public key (PEM)
	BaseURL       string // ALIPAY_BASE_URL: empty = the real gateway
	CashierURL    string // ALIPAY_CASHIER_BASE_URL: where buyers' browsers open page/WAP pay; empty = BaseURL
}

// WechatConfig are the WECHAT_* settings.
type WechatConfig struct {
	MchID       string // WECHAT_MCH_ID
	AppID       string // WECHAT_APP_ID
	SerialNo    string // WECHAT_SERIAL_NO: merchant certificate serial
	PrivateKey  string // WECHAT_PRIVATE_KEY (PEM)
	APIv3Key    string // WECHAT_API_V3_KEY
	PublicKeyID string // WECHAT_PUBLIC_KEY_ID (PUB_KEY_ID_…)
	PublicKey   string // WECHAT_PUBLIC_KEY: WeChat Pay public key (PEM)
	BaseURL     string // WECHAT_BASE_URL: empty = the real API
	// VerifyMode is WECHAT_VERIFY_MODE: publicKey (default), certificate (platform certificates
	// from /v3/certificates) or both (a merchant migrating from certificates to the public key).
	VerifyMode string
}

// Config is every setting of the payment service.
type Config struct {
	GRPCAddr   string     // PAYMENT_GRPC_ADDR
	HTTPAddr   string     // PAYMENT_HTTP_ADDR: provider notify endpoints
	OpsAddr    string     // PAYMENT_OPS_ADDR: /healthz, /readyz, /metrics; empty serves none
	Reflection bool       // GRPC_REFLECTION
	TLS        tlsx.Files // TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE: the payment identity
	MySQLDSN   string     // PAYMENT_MYSQL_DSN, else MYSQL_DSN
	AMQPURL    string     // PAYMENT_AMQP_URL, else AMQP_URL
	QueueType  string     // AMQP_QUEUE_TYPE: classic or quorum
	// OrderBrokerUser is the broker user whose payment refusals are believed (ORDER_BROKER_USER,
	// default amqpx.OrderBrokerUser): anything else on the refusals queue is parked.
	OrderBrokerUser      string
	OrderTarget          string        // ORDER_TARGET
	SnowflakeNode        int64         // SNOWFLAKE_NODE
	OrderPayTimeout      time.Duration // ORDER_PAY_TIMEOUT (the order service's; read to check the next one)
	ProviderTradeTimeout time.Duration // PROVIDER_TRADE_TIMEOUT: must be < ORDER_PAY_TIMEOUT
	NotifyBaseURL        string        // PAYMENT_NOTIFY_BASE_URL: where providers reach /notify/…
	PollScale            float64       // PAYMENT_POLL_SCALE: multiplies the poll backoff schedule
	MerchantFile         string        // PAYMENT_MERCHANT_FILE: sandbox merchant.json filling unset ALIPAY_*/WECHAT_*
	ReturnURLAllowlist   string        // PAYMENT_RETURN_URL_ALLOWLIST: comma-separated http(s)://host[:port][/path] a returnUrl must be under
	Alipay               AlipayConfig
	Wechat               WechatConfig
	TaskWorkers          int           // concurrent durable tasks (default 8)
	MerchantFileWait     time.Duration // how long Run waits for MerchantFile to appear (default 30s)
	// PAYMENT_RECON_READY_AFTER: how long after a provider day (Asia/Shanghai) ends the daily
	// reconciliation fetches its bills (default 10h30m; tests: -24h, as SANDBOX_BILL_READY_DELAY).
	ReconReadyAfter time.Duration
	ReconEvery      time.Duration // PAYMENT_RECON_EVERY: how often the daily run looks for due days (default 10m)
}

// ConfigFromEnv reads the configuration; the caller checks env.Err().
func ConfigFromEnv(env *config.Env) Config {
	cfg := Config{
		GRPCAddr:             env.String("PAYMENT_GRPC_ADDR", ":9002"),
		HTTPAddr:             env.String("PAYMENT_HTTP_ADDR", ":8082"),
		OpsAddr:              boot.OpsAddrFromEnv(env, Name),
		Reflection:           boot.ReflectionFromEnv(env),
		TLS:                  tlsx.FilesFromEnv(env),
		MySQLDSN:             boot.MySQLDSNFromEnv(env, Name),
		AMQPURL:              boot.AMQPURLFromEnv(env, Name),
		QueueType:            boot.QueueTypeFromEnv(env),
		OrderBrokerUser:      env.String("ORDER_BROKER_USER", amqpx.OrderBrokerUser),
		OrderTarget:          env.String("ORDER_TARGET", "127.0.0.1:9001"),
		SnowflakeNode:        ids.NodeIDFromEnv(env),
		OrderPayTimeout:      env.Duration("ORDER_PAY_TIMEOUT", 30*time.Minute),
		ProviderTradeTimeout: env.Duration("PROVIDER_TRADE_TIMEOUT", 25*time.Minute),
		NotifyBaseURL:        env.String("PAYMENT_NOTIFY_BASE_URL", "http://127.0.0.1:8082"),
		PollScale:            env.Float("PAYMENT_POLL_SCALE", 1),
		MerchantFile:         env.String("PAYMENT_MERCHANT_FILE", ""),
		ReturnURLAllowlist:   env.String("PAYMENT_RETURN_URL_ALLOWLIST", ""),
		ReconReadyAfter:      env.Duration("PAYMENT_RECON_READY_AFTER", 10*time.Hour+30*time.Minute),
		ReconEvery:           env.Duration("PAYMENT_RECON_EVERY", 10*time.Minute),
		Alipay: AlipayConfig{
			AppID:         env.String("ALIPAY_APP_ID", ""),
			AppPrivateKey: env.String("ALIPAY_APP_PRIVATE_KEY", ""),
			PublicKey:     env.String("ALIPAY_PUBLIC_KEY", ""),
			BaseURL:       env.String("ALIPAY_BASE_URL", ""),
			CashierURL:    env.String("ALIPAY_CASHIER_BASE_URL", ""),
		},
		Wechat: WechatConfig{
			MchID:       env.String("WECHAT_MCH_ID", ""),
			AppID:       env.String("WECHAT_APP_ID", ""),
			SerialNo:    env.String("WECHAT_SERIAL_NO", ""),
			PrivateKey:  env.String("WECHAT_PRIVATE_KEY", ""),
			APIv3Key:    env.String("WECHAT_API_V3_KEY", ""),
			PublicKeyID: env.String("WECHAT_PUBLIC_KEY_ID", ""),
			PublicKey:   env.String("WECHAT_PUBLIC_KEY", ""),
			BaseURL:     env.String("WECHAT_BASE_URL", ""),
			VerifyMode:  env.String("WECHAT_VERIFY_MODE", channel.VerifyPublicKey),
		},
	}
	env.Check(cfg.ProviderTradeTimeout > 0 && cfg.ProviderTradeTimeout < cfg.OrderPayTimeout,
		"PROVIDER_TRADE_TIMEOUT=%s must be positive and shorter than ORDER_PAY_TIMEOUT=%s", cfg.ProviderTradeTimeout, cfg.OrderPayTimeout)
	env.Check(cfg.PollScale > 0, "PAYMENT_POLL_SCALE=%g: want > 0", cfg.PollScale)
	env.Check(channel.ValidVerifyMode(cfg.Wechat.VerifyMode), "WECHAT_VERIFY_MODE=%q: want publicKey, certificate or both", cfg.Wechat.VerifyMode)
	return cfg
}

func (c Config) validate() error {
	var errs []error
	if c.ProviderTradeTimeout <= 0 || c.ProviderTradeTimeout >= c.OrderPayTimeout {
		errs = append(errs, fmt.Errorf("PROVIDER_TRADE_TIMEOUT=%s must be positive and shorter than ORDER_PAY_TIMEOUT=%s",
			c.ProviderTradeTimeout, c.OrderPayTimeout))
	}
	if c.PollScale <= 0 {
		errs = append(errs, fmt.Errorf("PAYMENT_POLL_SCALE=%g: want > 0", c.PollScale))
	}
	if c.NotifyBaseURL == "" {
		errs = append(errs, errors.New("PAYMENT_NOTIFY_BASE_URL is required"))
	}
	if _, err := payment.ParseReturnURLAllowlist(c.ReturnURLAllowlist); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// withMerchantFile fills every unset ALIPAY_*/WECHAT_* credential from the sandbox's
// merchant.json, waiting a little for a sandbox that is still generating it.
func (c Config) withMerchantFile() (Config, error) {
	if c.MerchantFile == "" {
		return c, nil
	}
	wait := c.MerchantFileWait
	if wait == 0 {
		wait = 30 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		if _, err := os.Stat(c.MerchantFile); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	m, err := emulator.LoadMerchantFile(c.MerchantFile)
	if err != nil {
		return c, fmt.Errorf("PAYMENT_MERCHANT_FILE: %w", err)
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&c.Alipay.AppID, m.Alipay.AppID)
	fill(&c.Alipay.AppPrivateKey, m.Alipay.AppPrivateKey)
	fill(&c.Alipay.PublicKey, m.Alipay.AlipayPublicKey)
	fill(&c.Wechat.MchID, m.Wechat.MchID)
	fill(&c.Wechat.AppID, m.Wechat.AppID)
	fill(&c.Wechat.SerialNo, m.Wechat.MerchantSerialNo)
	fill(&c.Wechat.PrivateKey, m.Wechat.MerchantPrivateKey)
	fill(&c.Wechat.APIv3Key, m.Wechat.APIv3Key)
	fill(&c.Wechat.PublicKeyID, m.Wechat.WechatPayPublicKeyID)
	fill(&c.Wechat.PublicKey, m.Wechat.WechatPayPublicKey)
	return c, nil
}
