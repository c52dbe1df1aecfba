package emulator_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pay/gopay/alipay"
	"github.com/go-pay/gopay/pkg/xhttp"
	wechat "github.com/go-pay/gopay/wechat/v3"
	"github.com/paysuite/paysuite/pkg/testkit"
	"github.com/paysuite/paysuite/services/sandbox/emulator"
)

const waitLong = 15 * time.Second

// template holds one generated key set; most tests copy it instead of generating four RSA keys.
var template struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if template.dir != "" {
		_ = os.RemoveAll(template.dir)
	}
	os.Exit(code)
}

// keysDir is a fresh keys directory holding a copy of the template keys (no trades).
func keysDir(t *testing.T) string {
	t.Helper()
	template.once.Do(func() {
		if template.dir, template.err = os.MkdirTemp("", "sandbox-keys-"); template.err != nil {
			return
		}
		var e *emulator.Emulator
		e, template.err = emulator.New(emulator.Config{KeysDir: template.dir, PublicURL: "http://127.0.0.1", TimeScale: 1})
		if template.err == nil {
			template.err = e.Close()
		}
	})
	if template.err != nil {
		t.Fatal(template.err)
	}
	dir := t.TempDir()
	for _, name := range []string{"merchant.json", "sandbox.json"} {
		b, err := os.ReadFile(filepath.Join(template.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sandbox is an emulator served by an httptest server, keys in dir.
type sandbox struct {
	emu   *emulator.Emulator
	srv   *httptest.Server
	creds emulator.MerchantCredentials
}

func startSandbox(t *testing.T, dir string, opts ...func(*emulator.Config)) *sandbox {
	t.Helper()
	return startSandboxFlushEvery(t, dir, 0, opts...)
}

// startSandboxFlushEvery starts a sandbox whose trades.json writes coalesce over every (0: the default).
func startSandboxFlushEvery(t *testing.T, dir string, every time.Duration, opts ...func(*emulator.Config)) *sandbox {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	cfg := emulator.Config{
		KeysDir: dir, PublicURL: "http://" + srv.Listener.Addr().String(), TimeScale: 0.001, Logger: testkit.Logger(t),
	}
	for _, o := range opts {
		o(&cfg)
	}
	newEmu := emulator.New
	if every > 0 {
		newEmu = func(cfg emulator.Config) (*emulator.Emulator, error) { return emulator.NewWithFlushEvery(cfg, every) }
	}
	emu, err := newEmu(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = emu.Handler()
	srv.Start()
	s := &sandbox{emu: emu, srv: srv, creds: emu.Credentials()}
	t.Cleanup(s.stop)
	return s
}

func (s *sandbox) stop() {
	s.srv.Close()
	_ = s.emu.Close()
}

// do sends a JSON request to a /sandbox endpoint and decodes the answer into out (may be nil).
func (s *sandbox) do(t *testing.T, method, path string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (s *sandbox) pay(t *testing.T, qr string) int {
	t.Helper()
	return s.do(t, http.MethodPost, "/sandbox/pay", map[string]string{"qrCode": qr}, nil)
}

// faults sets sandbox faults and fails the test if they are refused.
func (s *sandbox) faults(t *testing.T, f map[string]any) {
	t.Helper()
	if code := s.do(t, http.MethodPost, "/sandbox/faults", f, nil); code != http.StatusOK {
		t.Fatalf("set faults %v: HTTP %d", f, code)
	}
}

// scan opens a QR code's page, as a buyer's scan does.
func scan(t *testing.T, qr string) {
	t.Helper()
	resp, err := http.Get(qr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// onSandbox points a URL that gopay built for a provider host at the sandbox, as the payment
// service does with ALIPAY_BASE_URL.
func (s *sandbox) onSandbox(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(s.srv.URL)
	u.Scheme, u.Host = base.Scheme, base.Host
	return u.String()
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (s *sandbox) trade(t *testing.T, outTradeNo string) emulator.Trade {
	t.Helper()
	var list []emulator.Trade
	s.do(t, http.MethodGet, "/sandbox/trades", nil, &list)
	for _, tr := range list {
		if tr.OutTradeNo == outTradeNo {
			return tr
		}
	}
	t.Fatalf("trade %s not listed", outTradeNo)
	return emulator.Trade{}
}

// rewrite sends the Alipay client's requests (to the fixed openapi host) to the sandbox.
type rewrite struct{ target *url.URL }

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rw.target.Scheme, rw.target.Host, ""
	return http.DefaultTransport.RoundTrip(r)
}

// pemBody strips the PEM armor: gopay's alipay.NewClient and alipay.VerifySign add their own.
func pemBody(p string) string {
	var b strings.Builder
	for _, line := range strings.Split(p, "\n") {
		if !strings.HasPrefix(line, "-----") {
			b.WriteString(strings.TrimSpace(line))
		}
	}
	return b.String()
}

func (s *sandbox) alipayClient(t *testing.T, appPrivateKey, alipayPublicKey string) *alipay.Client {
	t.Helper()
	c, err := alipay.NewClient(s.creds.Alipay.AppID, pemBody(appPrivateKey), false)
	if err != nil {
		t.Fatal(err)
	}
	c.AutoVerifySign([]byte(alipayPublicKey))
	u, _ := url.Parse(s.srv.URL)
	c.SetHttpClient(xhttp.NewClient().SetTransport(rewrite{u}))
	return c
}

func (s *sandbox) wechatClient(t *testing.T, merchantKey, payPublicKey string) *wechat.ClientV3 {
	t.Helper()
	w := s.creds.Wechat
	c, err := wechat.NewClientV3(w.MchID, w.MerchantSerialNo, w.APIv3Key, merchantKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AutoVerifySignByPublicKey([]byte(payPublicKey), w.WechatPayPublicKeyID); err != nil {
		t.Fatal(err)
	}
	c.SetProxyHost(s.srv.URL)
	return c
}

func otherKeyPair(t *testing.T) (privatePEM, publicPEM string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

// receiver is a merchant notify endpoint that records every request and answers via reply.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []*http.Request // bodies buffered in bodies
	bodies [][]byte
	reply  func(n int) (status int, body string)
}

func newReceiver(t *testing.T, reply func(n int) (int, string)) *receiver {
	t.Helper()
	rc := &receiver{reply: reply}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		clone := r.Clone(context.Background())
		clone.Body = io.NopCloser(bytes.NewReader(b))
		rc.mu.Lock()
		rc.got = append(rc.got, clone)
		rc.bodies = append(rc.bodies, b)
		n := len(rc.got)
		rc.mu.Unlock()
		status, body := rc.reply(n)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// request is the i-th request, with a body that can be read again at every call.
func (rc *receiver) request(i int) *http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r := rc.got[i].Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(rc.bodies[i]))
	return r
}

func alipayOK(int) (int, string) { return http.StatusOK, "success" }
func wechatOK(int) (int, string) { return http.StatusNoContent, "" }

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
