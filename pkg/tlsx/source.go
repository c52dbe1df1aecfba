package tlsx

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Source is a process's TLS material, read from its Files again at every handshake: when
// cert-manager or SPIRE replace the files, the next connection uses the new certificate and CA
// bundle, without a restart, while established connections carry on. A set of files that does
// not parse (a rotation caught half-written) keeps the last good material and is logged.
type Source struct {
	files Files
	log   *slog.Logger

	mu  sync.Mutex
	raw [3][]byte // CA, cert, key as last parsed
	mat *material
}

type material struct {
	cert tls.Certificate
	leaf *x509.Certificate
	pool *x509.CertPool
}

// Load reads files once (failing when they are missing or do not match) and returns a Source
// that rereads them at every handshake.
func Load(files Files, log *slog.Logger) (*Source, error) {
	if !files.Set() {
		return nil, errors.New("TLS: TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE are required")
	}
	s := &Source{files: files, log: log.With("component", "tls")}
	raw, err := s.read()
	if err != nil {
		return nil, err
	}
	if s.mat, err = parse(raw); err != nil {
		return nil, fmt.Errorf("TLS %s: %w", files.Cert, err)
	}
	s.raw = raw
	name, _ := NameOf(s.mat.leaf)
	s.log.Info("TLS identity loaded", "name", name, "not_after", s.mat.leaf.NotAfter.UTC().Format(time.RFC3339))
	return s, nil
}

// Name is the paysuite name of this process's certificate ("" when it has none).
func (s *Source) Name() string {
	name, _ := NameOf(s.current().leaf)
	return name
}

func (s *Source) read() ([3][]byte, error) {
	var raw [3][]byte
	for i, path := range []string{s.files.CA, s.files.Cert, s.files.Key} {
		b, err := os.ReadFile(path)
		if err != nil {
			return raw, fmt.Errorf("TLS: %w", err)
		}
		raw[i] = b
	}
	return raw, nil
}

func parse(raw [3][]byte) (*material, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw[0]) {
		return nil, errors.New("CA file holds no PEM certificate")
	}
	cert, err := tls.X509KeyPair(raw[1], raw[2])
	if err != nil {
		return nil, err
	}
	return &material{cert: cert, leaf: cert.Leaf, pool: pool}, nil
}

// current returns the material of the files as they are now, or the last good material.
func (s *Source) current() *material {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, err := s.read()
	if err == nil && bytes.Equal(raw[0], s.raw[0]) && bytes.Equal(raw[1], s.raw[1]) && bytes.Equal(raw[2], s.raw[2]) {
		return s.mat
	}
	var m *material
	if err == nil {
		m, err = parse(raw)
	}
	if err != nil {
		s.log.Warn("TLS files unreadable or mismatched; keeping the previous certificate", "err", err)
		return s.mat
	}
	s.raw, s.mat = raw, m
	name, _ := NameOf(m.leaf)
	s.log.Info("TLS material reloaded", "name", name, "not_after", m.leaf.NotAfter.UTC().Format(time.RFC3339))
	return m
}

// ServerConfig requires every client to present a certificate that chains to the CA bundle and
// carries a paysuite SPIFFE ID; TLS 1.3 only.
func (s *Source) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := s.current()
			return &tls.Config{
				MinVersion:       tls.VersionTLS13,
				Certificates:     []tls.Certificate{m.cert},
				ClientAuth:       tls.RequireAndVerifyClientCert,
				ClientCAs:        m.pool,
				VerifyConnection: requireIdentity,
			}, nil
		},
	}
}

// requireIdentity refuses a verified client certificate without a paysuite SPIFFE ID.
func requireIdentity(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tlsx: no client certificate")
	}
	if _, ok := NameOf(cs.PeerCertificates[0]); !ok {
		return fmt.Errorf("tlsx: client certificate %q has no %s SPIFFE ID", cs.PeerCertificates[0].Subject, TrustDomain)
	}
	return nil
}

// ClientConfig presents this process's certificate and accepts only a server whose certificate
// chains to the CA bundle and names server (SPIFFE ID spiffe://paysuite/<server>); TLS 1.3 only.
// The server is checked by its SPIFFE ID rather than by the dialled host name, so a target given
// as an IP address or a Kubernetes service name works, and so do SPIRE's SVIDs, which carry no
// DNS names.
func (s *Source) ClientConfig(server string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			m := s.current()
			return &m.cert, nil
		},
		// Go's own check would compare the dialled host with DNS names; VerifyConnection below
		// does the whole verification (chain, expiry, usage, SPIFFE ID) instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return s.verifyServer(cs, server)
		},
	}
}

func (s *Source) verifyServer(cs tls.ConnectionState, server string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tlsx: the server sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: s.current().pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return fmt.Errorf("tlsx: server certificate: %w", err)
	}
	if name, ok := NameOf(leaf); !ok || name != server {
		return fmt.Errorf("tlsx: server is %q (%v), want %s", name, leaf.URIs, ID(server))
	}
	return nil
}
