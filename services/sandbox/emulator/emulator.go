// Package emulator is a local stand-in for the Alipay classic openapi gateway and WeChat Pay API
// v3, faithful enough that the unmodified gopay clients work against it: same paths, parameters,
// signatures, error codes and async notifies. By default it behaves as the real providers do,
// taking the harder side where their behaviour is disputed (services/sandbox/README.md): closing
// an Alipay trade nobody has scanned (or logged in to) answers ACQ.TRADE_NOT_EXIST and closes
// nothing, so its QR stays payable until time_expire. Other modules' tests run it in-process with
// httptest.NewServer(e.Handler()) (or emulatortest.Start).
//
// Faults (GET/POST/DELETE /sandbox/faults, see Faults) inject misbehaviours for tests and demos.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultBillReadyDelay is when a day's bills appear after the day ends (Asia/Shanghai): Alipay
// has them before 09:00, WeChat builds them from 09:00 and says to fetch after 10:00.
const DefaultBillReadyDelay = 10 * time.Hour

// Config configures an Emulator.
type Config struct {
	KeysDir      string       // keys, merchant.json and trades.json live here
	PublicURL    string       // base URL the QR codes and cashier pages point to, e.g. http://127.0.0.1:8090
	TimeScale    float64      // multiplies notify retry delays and refund settling (1 = real time)
	Logger       *slog.Logger // optional
	NotifyClient *http.Client // optional; sends async notifies
	// WechatMode is how WeChat answers and notifies are signed: WechatModePublicKey (default),
	// WechatModeCertificate or WechatModeBoth.
	WechatMode string
	// BillReadyDelay is how long after a day ends its bills can be fetched; zero means
	// DefaultBillReadyDelay. Negative values make a day's bill available before the day is over
	// (-24h: today's bill, with the rows so far), for tests.
	BillReadyDelay time.Duration
}

// Emulator is the provider sandbox. It is safe for concurrent use.
type Emulator struct {
	cfg    Config
	log    *slog.Logger
	keys   *keyring
	client *http.Client
	skew   atomic.Int64 // tests move the provider's clock (ns); see now
	coin   func() bool  // picks the key of a notify in WechatModeBoth

	mu       sync.Mutex
	st       *store
	changed  map[string]struct{} // trade keys changed since the last write of trades.json
	faults   Faults
	bills    map[string]*billFile // download token → bill, valid 30 s
	watching map[string]bool      // trade keys with an expiry watcher running
	closed   bool

	p *persister

	ctx    context.Context // cancelled by Close; stops notify workers and the writer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New loads (or generates at first start) the keys in cfg.KeysDir, loads persisted trades and
// resumes the notifies that were never acknowledged. Trades are saved in the background (see
// persist.go); call Close to save the last changes.
func New(cfg Config) (*Emulator, error) { return newEmulator(cfg, defaultFlushEvery) }

func newEmulator(cfg Config, flushEvery time.Duration) (*Emulator, error) {
	if cfg.KeysDir == "" {
		return nil, errors.New("emulator: KeysDir is required")
	}
	if cfg.TimeScale <= 0 {
		return nil, errors.New("emulator: TimeScale must be > 0")
	}
	if cfg.PublicURL == "" {
		return nil, errors.New("emulator: PublicURL is required")
	}
	if cfg.WechatMode == "" {
		cfg.WechatMode = WechatModePublicKey
	}
	if !ValidWechatMode(cfg.WechatMode) {
		return nil, fmt.Errorf("emulator: WechatMode %q is not publicKey, certificate or both", cfg.WechatMode)
	}
	if cfg.BillReadyDelay == 0 {
		cfg.BillReadyDelay = DefaultBillReadyDelay
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	keys, err := loadOrCreateKeys(cfg.KeysDir)
	if err != nil {
		return nil, fmt.Errorf("emulator keys: %w", err)
	}
	path := filepath.Join(cfg.KeysDir, "trades.json")
	st, err := openStore(path)
	if err != nil {
		return nil, fmt.Errorf("emulator trades: %w", err)
	}
	p, err := newPersister(path, flushEvery, st.trades)
	if err != nil {
		return nil, fmt.Errorf("emulator trades: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.NotifyClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second} // each attempt has its provider's own deadline
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Emulator{cfg: cfg, log: log, keys: keys, client: client, coin: fairCoin, st: st,
		changed: map[string]struct{}{}, bills: map[string]*billFile{}, watching: map[string]bool{},
		p: p, ctx: ctx, cancel: cancel}
	e.wg.Add(1)
	go e.persistLoop()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pruneLocked(e.now())
	e.resumeNotifiesLocked()
	return e, nil
}

// Credentials returns what merchant.json holds.
func (e *Emulator) Credentials() MerchantCredentials { return e.keys.creds }

// WechatPlatformCertSerial is the serial of the WeChat Pay platform certificate (certificate mode).
func (e *Emulator) WechatPlatformCertSerial() string { return e.keys.wechatCert.serial }

// Handler serves both providers' APIs, the buyer pages and the /sandbox control endpoints.
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gateway.do", e.alipayGateway)
	mux.HandleFunc("GET /gateway.do", e.alipayGateway) // page/WAP pay: the buyer's browser, params in the query
	mux.HandleFunc("GET /downloadBillFile.resource", e.alipayBillDownload)
	e.wechatRoutes(mux)
	mux.HandleFunc("GET /qr/{token}", e.qrPage)
	mux.HandleFunc("GET /cashier/alipay/{token}", e.alipayCashierPage)
	mux.HandleFunc("POST /cashier/alipay/{token}/login", e.alipayCashierLogin)
	mux.HandleFunc("POST /cashier/alipay/{token}/pay", e.alipayCashierPay)
	mux.HandleFunc("GET /h5/checkmweb", e.wechatH5Page)
	mux.HandleFunc("POST /h5/pay", e.wechatH5Pay)
	mux.HandleFunc("POST /sandbox/pay", e.pay)
	mux.HandleFunc("POST /sandbox/console/refund", e.consoleRefund)
	mux.HandleFunc("POST /sandbox/console/trade", e.consoleTrade)
	mux.HandleFunc("GET /sandbox/faults", e.getFaults)
	mux.HandleFunc("POST /sandbox/faults", e.setFaults)
	mux.HandleFunc("DELETE /sandbox/faults", e.resetFaults)
	mux.HandleFunc("GET /sandbox/trades", e.listTrades)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// Close stops the notify workers and the background writer, then writes trades.json with every
// change so far before returning. Unacknowledged notifies resume at the next New.
func (e *Emulator) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	return e.flush()
}

func (e *Emulator) listTrades(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	now := e.now()
	for _, t := range e.st.trades {
		e.expireLocked(t)
	}
	list := e.st.list(now)
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

// expireLocked closes t if its time is up, and sends the TRADE_CLOSED notify an Alipay WAP trade
// owes for it (only once the buyer had logged in: before that the trade never existed).
func (e *Emulator) expireLocked(t *Trade) bool {
	if !t.expireIfDue(e.now()) {
		return false
	}
	e.changedLocked(t)
	e.closeNotifyLocked(t)
	return true
}

// watchExpiryLocked makes sure an Alipay WAP trade the buyer logged in to sends its TRADE_CLOSED
// notify when it expires, even if nobody asks about it.
func (e *Emulator) watchExpiryLocked(t *Trade) {
	key := tradeKey(t.Provider, t.OutTradeNo)
	if e.closed || e.watching[key] || t.product() != ProductWap || !t.Scanned || t.State != StateNotPaid {
		return
	}
	e.watching[key] = true
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.mu.Lock()
		wait := t.ExpiresAt.Sub(e.now())
		e.mu.Unlock()
		ok := e.sleep(wait)
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.watching, key)
		if ok && e.st.trades[key] == t {
			e.expireLocked(t)
		}
	}()
}

// now is the providers' clock: the wall clock, moved by tests that need a link to expire or a
// day to end (export_test.go).
func (e *Emulator) now() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }

// scaled multiplies a provider delay by the configured time scale.
func (e *Emulator) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * e.cfg.TimeScale)
}
