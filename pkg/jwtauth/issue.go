package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer signs tokens with one key (ES256): the gateway's dev issuer, and tests' stand-in for
// an identity provider.
type Issuer struct {
	name     string
	audience string
	key      *ecdsa.PrivateKey
	kid      string
	signer   jose.Signer
	now      func() time.Time
}

// NewIssuer signs tokens with iss name and aud audience using key (a new one when nil).
func NewIssuer(name, audience string, key *ecdsa.PrivateKey) (*Issuer, error) {
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	kid := base64.RawURLEncoding.EncodeToString(thumb)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	return &Issuer{name: name, audience: audience, key: key, kid: kid, signer: signer, now: time.Now}, nil
}

// Name is the issuer's "iss".
func (is *Issuer) Name() string { return is.name }

// KeyID is the "kid" of its key.
func (is *Issuer) KeyID() string { return is.kid }

// PrivateKey is the signing key (tests forge tokens with it).
func (is *Issuer) PrivateKey() *ecdsa.PrivateKey { return is.key }

// WithClock replaces the clock (tests).
func (is *Issuer) WithClock(now func() time.Time) *Issuer { is.now = now; return is }

// Token is a signed token and when it expires.
type Token struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Sign issues a token for userID with roles, valid for ttl; a user id or role the verifier
// would refuse is refused here already.
func (is *Issuer) Sign(userID string, roles []string, ttl time.Duration) (Token, error) {
	if !userIDPattern.MatchString(userID) {
		return Token{}, errors.New("a user id is 1 to 64 printable ASCII characters")
	}
	for _, r := range roles {
		if !rolePattern.MatchString(r) {
			return Token{}, fmt.Errorf("role %q: want letters, digits and _.:-", r)
		}
	}
	return is.SignClaims(userID, roles, ttl, nil)
}

// SignClaims is Sign with claims overridden by extra (e.g. "iss", "aud", "exp" for tests).
func (is *Issuer) SignClaims(userID string, roles []string, ttl time.Duration, extra map[string]any) (Token, error) {
	if userID == "" || ttl <= 0 {
		return Token{}, errors.New("jwtauth: a user id and a positive ttl are required")
	}
	now := is.now()
	exp := now.Add(ttl)
	c := claims{Claims: jwt.Claims{
		Issuer: is.name, Subject: userID, Audience: jwt.Audience{is.audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(exp),
	}, Roles: roles}
	b := jwt.Signed(is.signer).Claims(c)
	if extra != nil {
		b = b.Claims(extra)
	}
	raw, err := b.Serialize()
	if err != nil {
		return Token{}, err
	}
	return Token{Token: raw, ExpiresAt: exp.UTC().Truncate(time.Second)}, nil
}

// JWKS is the issuer's public key as a JWK set, as an identity provider publishes it.
func (is *Issuer) JWKS() []byte {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: is.kid, Algorithm: string(jose.ES256), Use: "sig"}}}
	raw, _ := json.Marshal(set)
	return raw
}

// LoadOrCreateKey reads a PEM (PKCS #8) EC private key from path, or makes one and writes it
// there (0600, directories 0700), so dev tokens outlive a restart.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		block, _ := pem.Decode(raw)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM block", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%s: want a P-256 EC key", path)
		}
		return ec, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return key, nil
}
