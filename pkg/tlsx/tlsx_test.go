package tlsx_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/tlsx"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func devCA(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := tlsx.EnsureDevCA(dir, tlsx.Names(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func load(t *testing.T, files tlsx.Files) *tlsx.Source {
	t.Helper()
	s, err := tlsx.Load(files, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEnsureDevCAMakesOnceAndReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	made, err := tlsx.EnsureDevCA(dir, tlsx.Names(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != 1+len(tlsx.Names()) {
		t.Fatalf("first run made %v", made)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "order.pem"))
	for _, f := range []string{"ca-key.pem", "order-key.pem", "admin-key.pem"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, st.Mode().Perm())
		}
	}
	again, err := tlsx.EnsureDevCA(dir, tlsx.Names(), time.Now())
	if err != nil || len(again) != 0 {
		t.Fatalf("second run made %v (%v); want nothing", again, err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "order.pem"))
	if !bytes.Equal(before, after) {
		t.Fatal("a good certificate was replaced")
	}
	// A year on, the certificates are renewed under the same CA.
	renewed, err := tlsx.EnsureDevCA(dir, tlsx.Names(), time.Now().Add(340*24*time.Hour))
	if err != nil || len(renewed) != len(tlsx.Names()) {
		t.Fatalf("near expiry: made %v (%v); want every leaf, not the CA", renewed, err)
	}

	leaf := load(t, tlsx.DevFiles(dir, "order"))
	if leaf.Name() != "order" {
		t.Fatalf("name %q", leaf.Name())
	}
	pair, _ := tls.LoadX509KeyPair(filepath.Join(dir, "order.pem"), filepath.Join(dir, "order-key.pem"))
	if got := pair.Leaf.URIs[0].String(); got != "spiffe://paysuite/order" {
		t.Errorf("URI SAN %s", got)
	}
	if strings.Join(pair.Leaf.DNSNames, ",") != "localhost,order" {
		t.Errorf("DNS SANs %v", pair.Leaf.DNSNames)
	}
}

func TestNameOfWantsExactlyOnePaysuiteID(t *testing.T) {
	ca, err := tlsx.NewCA("t", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, _ := ca.Issue("course", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	pair, _ := tls.X509KeyPair(certPEM, keyPEM)
	if name, ok := tlsx.NameOf(pair.Leaf); !ok || name != "course" {
		t.Fatalf("NameOf = %q %v", name, ok)
	}
	for _, raw := range []string{"spiffe://other/course", "https://paysuite/course", "spiffe://paysuite/a/b", "spiffe://paysuite/"} {
		c := *pair.Leaf
		u, _ := pair.Leaf.URIs[0].Parse(raw)
		c.URIs = []*url.URL{u}
		if name, ok := tlsx.NameOf(&c); ok {
			t.Errorf("NameOf(%s) = %q, want refused", raw, name)
		}
	}
}

// server accepts TLS connections with cfg and answers each with its own certificate's serial.
func server(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				if tc.Handshake() != nil {
					return
				}
				_, _ = io.Copy(c, c) // echo until the client closes
			}()
		}
	}()
	return ln.Addr().String()
}

// dial completes a handshake and one echo round trip, returning the server's leaf.
func dial(addr string, cfg *tls.Config) (*x509.Certificate, *tls.Conn, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, nil, err
	}
	// In TLS 1.3 the server refuses a client certificate after the client's handshake is done:
	// the refusal arrives with the first read.
	if _, err := c.Write([]byte("x")); err != nil {
		c.Close()
		return nil, nil, err
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c, buf); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c.ConnectionState().PeerCertificates[0], c, nil
}

func TestMutualTLSAcceptsOnlyTheSuitesIdentities(t *testing.T) {
	dir := devCA(t)
	addr := server(t, load(t, tlsx.DevFiles(dir, "order")).ServerConfig())
	payment := load(t, tlsx.DevFiles(dir, "payment"))

	if _, c, err := dial(addr, payment.ClientConfig("order")); err != nil {
		t.Fatalf("payment -> order: %v", err)
	} else {
		c.Close()
	}
	if _, _, err := dial(addr, payment.ClientConfig("course")); err == nil || !strings.Contains(err.Error(), "want spiffe://paysuite/course") {
		t.Errorf("a client expecting course accepted order's server: %v", err)
	}

	// No client certificate.
	noCert := payment.ClientConfig("order")
	noCert.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }
	if _, _, err := dial(addr, noCert); err == nil {
		t.Error("a client without a certificate got through")
	}

	// A certificate of another CA, with the right name.
	foreign := load(t, tlsx.DevFiles(devCA(t), "payment"))
	foreignCfg := foreign.ClientConfig("order")
	foreignCfg.VerifyConnection = nil // trust any server: only the server's check is under test
	if _, _, err := dial(addr, foreignCfg); err == nil {
		t.Error("a certificate from a foreign CA got through")
	}

	// An expired certificate of the right CA.
	expired := filepath.Join(t.TempDir(), "expired")
	writeIssued(t, dir, expired, "payment", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if _, _, err := dial(addr, load(t, tlsx.Files{CA: filepath.Join(dir, "ca.pem"), Cert: expired + ".pem", Key: expired + "-key.pem"}).ClientConfig("order")); err == nil {
		t.Error("an expired certificate got through")
	}

	// TLS 1.2 is refused.
	old := payment.ClientConfig("order")
	old.MinVersion, old.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if _, _, err := dial(addr, old); err == nil {
		t.Error("a TLS 1.2 client got through")
	}
}

// writeIssued issues a certificate for name from the CA in caDir into base.pem and base-key.pem.
func writeIssued(t *testing.T, caDir, base, name string, notBefore, notAfter time.Time) {
	t.Helper()
	ca := loadCA(t, caDir)
	certPEM, keyPEM, err := ca.Issue(name, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".pem", certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+"-key.pem", keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

func loadCA(t *testing.T, dir string) *tlsx.CA {
	t.Helper()
	certPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	ca, err := tlsx.ParseCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestRotatedFilesServeNewConnections(t *testing.T) {
	dir := devCA(t)
	files := tlsx.DevFiles(dir, "order")
	addr := server(t, load(t, files).ServerConfig())
	client := load(t, tlsx.DevFiles(dir, "payment")).ClientConfig("order")

	first, held, err := dial(addr, client)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	// cert-manager writes the renewed pair in place.
	writeIssued(t, dir, strings.TrimSuffix(files.Cert, ".pem"), "order", time.Now().Add(-time.Minute), time.Now().Add(48*time.Hour))
	second, c, err := dial(addr, client)
	if err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	c.Close()
	if first.SerialNumber.Cmp(second.SerialNumber) == 0 {
		t.Fatal("a new connection still got the old certificate")
	}
	// The connection made before the rotation still works.
	if _, err := held.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(held, make([]byte, 1)); err != nil {
		t.Fatalf("the old connection broke: %v", err)
	}

	// A half-written rotation (a certificate without its key) keeps the last good pair.
	if err := os.WriteFile(files.Key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	third, c, err := dial(addr, client)
	if err != nil {
		t.Fatalf("during a half-written rotation: %v", err)
	}
	c.Close()
	if third.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Fatal("the last good certificate was not kept")
	}
}
