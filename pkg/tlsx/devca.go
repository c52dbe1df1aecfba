package tlsx

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Lifetimes of the development certificates. EnsureDevCA renews a certificate with less than
// renewBefore left, so a long-lived checkout never runs into an expired one.
const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	leafLifetime = 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
	clockSkew    = 5 * time.Minute
)

// CA is a certificate authority that issues paysuite identities: the development CA of
// `make run` and docker-compose, and the throw-away CAs of tests.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// NewCA makes a CA (ECDSA P-256) valid from now for ten years.
func NewCA(commonName string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"paysuite"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// CertPEM is the CA's certificate, what peers put in TLS_CA_FILE.
func (ca *CA) CertPEM() []byte { return ca.pem }

// Issue returns a certificate for name (PEM) and its private key (PKCS #8 PEM), valid from
// notBefore to notAfter: URI SAN spiffe://paysuite/<name>, DNS SANs localhost and <name>, IP SANs
// 127.0.0.1 and ::1, usable as a server and as a client certificate.
func (ca *CA) Issue(name string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"paysuite"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{ID(name)},
		DNSNames:     []string{"localhost", name},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), nil
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// DevFiles returns the files of name in a development CA directory made by EnsureDevCA.
func DevFiles(dir, name string) Files {
	return Files{
		CA:   filepath.Join(dir, "ca.pem"),
		Cert: filepath.Join(dir, name+".pem"),
		Key:  filepath.Join(dir, name+"-key.pem"),
	}
}

// EnsureDevCA keeps a development CA in dir (ca.pem, ca-key.pem) and a certificate for each of
// names (<name>.pem, <name>-key.pem): what exists and is still good is reused, the rest is made.
// Private keys are written 0600 in a 0700 directory, every file by rename so a process reloading
// its files never reads half of one. It reports what it made.
func EnsureDevCA(dir string, names []string, now time.Time) (made []string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, fresh, err := loadOrMakeCA(dir, now)
	if err != nil {
		return nil, err
	}
	if fresh {
		made = append(made, "ca.pem")
	}
	for _, name := range names {
		files := DevFiles(dir, name)
		if !fresh && leafStillGood(ca, files, name, now) {
			continue
		}
		certPEM, keyPEM, err := ca.Issue(name, now.Add(-clockSkew), now.Add(leafLifetime))
		if err != nil {
			return made, err
		}
		// The key first: a reader that sees the new certificate with the old key keeps its
		// previous material (Source) and picks the pair up at the next handshake.
		if err := writeFile(files.Key, keyPEM, 0o600); err != nil {
			return made, err
		}
		if err := writeFile(files.Cert, certPEM, 0o644); err != nil {
			return made, err
		}
		made = append(made, name+".pem")
	}
	return made, nil
}

func loadOrMakeCA(dir string, now time.Time) (*CA, bool, error) {
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	certPEM, errCert := os.ReadFile(certPath)
	keyPEM, errKey := os.ReadFile(keyPath)
	if errCert == nil && errKey == nil {
		ca, err := ParseCA(certPEM, keyPEM)
		if err != nil {
			return nil, false, fmt.Errorf("development CA in %s: %w (remove the directory to start over)", dir, err)
		}
		if now.Add(renewBefore).Before(ca.cert.NotAfter) {
			return ca, false, nil
		}
	} else if !errors.Is(errCert, os.ErrNotExist) && errCert != nil || !errors.Is(errKey, os.ErrNotExist) && errKey != nil {
		return nil, false, fmt.Errorf("development CA in %s: %w", dir, errors.Join(errCert, errKey))
	}
	ca, err := NewCA("paysuite development CA", now)
	if err != nil {
		return nil, false, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, false, err
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		return nil, false, err
	}
	if err := writeFile(certPath, ca.pem, 0o644); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// ParseCA reads a CA certificate and its private key (PEM), as EnsureDevCA wrote them.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !pair.Leaf.IsCA {
		return nil, errors.New("not an ECDSA CA certificate and key")
	}
	return &CA{cert: pair.Leaf, key: key, pem: certPEM}, nil
}

// leafStillGood reports whether name's files hold a matching pair issued by ca for name that is
// valid for longer than renewBefore.
func leafStillGood(ca *CA, files Files, name string, now time.Time) bool {
	pair, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		return false
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	_, err = pair.Leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now.Add(renewBefore),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	got, ok := NameOf(pair.Leaf)
	return err == nil && ok && got == name
}

// writeFile replaces path with data atomically (a temporary file in the same directory, renamed).
func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
