package testkit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/jwtauth"
)

// Test identity provider names: the gateway under test trusts TestIssuer for TestAudience.
const (
	TestIssuer   = "https://idp.test.paysuite"
	TestAudience = "paysuite"
)

// Tokens is a stand-in identity provider: real ES256 tokens from a throw-away key, its JWKS in
// a file the gateway under test reads (AUTH_JWKS_FILE), and the forgeries a gateway must refuse.
type Tokens struct {
	t        testing.TB
	issuer   *jwtauth.Issuer
	foreign  *jwtauth.Issuer // same name and key id, another key
	JWKSFile string
}

// NewTokens makes the provider's key and writes its JWKS under the test's temporary directory.
func NewTokens(t testing.TB) *Tokens {
	t.Helper()
	is, err := jwtauth.NewIssuer(TestIssuer, TestAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := jwtauth.NewIssuer(TestIssuer, TestAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, is.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	return &Tokens{t: t, issuer: is, foreign: foreign, JWKSFile: path}
}

// Issuer is the provider's signer.
func (k *Tokens) Issuer() *jwtauth.Issuer { return k.issuer }

// For is a valid token for user with roles (one hour).
func (k *Tokens) For(user string, roles ...string) string {
	return k.sign(k.issuer, user, roles, nil)
}

// Merchant is a valid merchant token for user.
func (k *Tokens) Merchant(user string) string { return k.For(user, "merchant") }

// Expired is a token for user that expired ten minutes ago (well past any clock skew).
func (k *Tokens) Expired(user string) string {
	past := time.Now().Add(-2 * time.Hour)
	return k.sign(k.issuer, user, nil, map[string]any{"iat": past.Unix(), "nbf": past.Unix(), "exp": time.Now().Add(-10 * time.Minute).Unix()})
}

// WrongIssuer is signed by the real key but names another issuer.
func (k *Tokens) WrongIssuer(user string) string {
	return k.sign(k.issuer, user, nil, map[string]any{"iss": "https://evil.example"})
}

// WrongAudience is signed by the real key for another audience.
func (k *Tokens) WrongAudience(user string) string {
	return k.sign(k.issuer, user, nil, map[string]any{"aud": []string{"another-api"}})
}

// ForeignKey names the real key id but is signed by another key.
func (k *Tokens) ForeignKey(user string) string { return k.sign(k.foreign, user, nil, nil) }

// AlgNone is an unsigned token ("alg": "none") with the real key id.
func (k *Tokens) AlgNone(user string) string {
	return k.compact(map[string]any{"alg": "none", "typ": "JWT", "kid": k.issuer.KeyID()}, k.claims(user, nil), nil)
}

// HS256WithPublicKey is the classic confusion: HMAC-signed with the public JWKS as the secret.
func (k *Tokens) HS256WithPublicKey(user string) string {
	return k.compact(map[string]any{"alg": "HS256", "typ": "JWT", "kid": k.issuer.KeyID()}, k.claims(user, nil), k.issuer.JWKS())
}

func (k *Tokens) sign(is *jwtauth.Issuer, user string, roles []string, extra map[string]any) string {
	k.t.Helper()
	tok, err := is.SignClaims(user, roles, time.Hour, extra)
	if err != nil {
		k.t.Fatal(err)
	}
	return tok.Token
}

func (k *Tokens) claims(user string, roles []string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": TestIssuer, "aud": []string{TestAudience}, "sub": user, "roles": roles,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// compact builds a JWS by hand: go-jose rightly refuses to make these forgeries.
func (k *Tokens) compact(header, claims map[string]any, hmacKey []byte) string {
	k.t.Helper()
	enc := func(v any) string {
		raw, err := json.Marshal(v)
		if err != nil {
			k.t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	signing := enc(header) + "." + enc(claims)
	sig := ""
	if hmacKey != nil {
		m := hmac.New(sha256.New, hmacKey)
		m.Write([]byte(signing))
		sig = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	return strings.Join([]string{signing, sig}, ".")
}

// SecretKey is a random 32-byte key for a service that seals secrets (WEBHOOK_SECRET_KEY).
func SecretKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}
