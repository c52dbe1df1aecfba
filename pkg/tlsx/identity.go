// Package tlsx is paysuite's mutual TLS between services: TLS 1.3 server and client configs
// built from the files in TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE and reloaded when those
// files change (cert-manager and SPIRE rotate them in place), the caller's name taken from its
// certificate's SPIFFE ID (URI SAN spiffe://paysuite/<name>), and the development CA that
// `make run`, docker-compose and the tests make.
package tlsx

import (
	"crypto/x509"
	"net/url"
	"strings"
)

// TrustDomain is the SPIFFE trust domain of every paysuite identity.
const TrustDomain = "paysuite"

// The identities of the suite: one per service, and admin for operators, grpcurl and tests.
const (
	Order        = "order"
	Payment      = "payment"
	Notification = "notification"
	Course       = "course"
	Gateway      = "gateway"
	Admin        = "admin"
)

// Names returns every identity the development CA issues a certificate for.
func Names() []string { return []string{Order, Payment, Notification, Course, Gateway, Admin} }

// ID returns the SPIFFE ID of name: spiffe://paysuite/<name>.
func ID(name string) *url.URL {
	return &url.URL{Scheme: "spiffe", Host: TrustDomain, Path: "/" + name}
}

// NameOf returns the paysuite name in cert's SPIFFE ID, or false when cert has no URI SAN of
// the form spiffe://paysuite/<name> (exactly one, as SPIFFE requires).
func NameOf(cert *x509.Certificate) (string, bool) {
	if cert == nil || len(cert.URIs) != 1 {
		return "", false
	}
	u := cert.URIs[0]
	name := strings.TrimPrefix(u.Path, "/")
	if u.Scheme != "spiffe" || u.Host != TrustDomain || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}
