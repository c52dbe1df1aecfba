// Package jwtauth verifies the bearer tokens end users bring to the gateway (JWTs signed by an
// identity provider whose keys are published as a JWKS) and issues the dev-mode tokens the
// cashier page and scripts use. Verification is go-jose's: the allowed algorithms are a
// required argument of its parser, so alg "none" or an HMAC token made with a public key is
// refused before any key is looked at.
package jwtauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/paysuite/paysuite/pkg/principal"
)

// Algorithms are the only signature algorithms accepted: asymmetric, widely issued by identity
// providers. Never "none", never HS* (whose key would be the public key everyone can read).
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// ErrInvalidToken matches every refusal; the wrapped text says why (for logs and the 401 body).
var ErrInvalidToken = errors.New("invalid token")

// KeySource finds the public key a token names.
type KeySource interface {
	// Key returns the verification key with id kid, or an error when there is none.
	Key(ctx context.Context, kid string) (*jose.JSONWebKey, error)
}

// TrustedIssuer is one identity provider: its "iss" and where its keys are.
type TrustedIssuer struct {
	Issuer string
	Keys   KeySource
}

// Verifier checks bearer tokens against the trusted issuers.
type Verifier struct {
	issuers  []TrustedIssuer
	audience string
	leeway   time.Duration
	now      func() time.Time
	cache    *tokenCache // nil: every token is checked in full (WithCache)
}

// NewVerifier accepts tokens of any of issuers whose "aud" contains audience.
func NewVerifier(audience string, issuers ...TrustedIssuer) (*Verifier, error) {
	if audience == "" {
		return nil, errors.New("jwtauth: an audience is required")
	}
	if len(issuers) == 0 {
		return nil, errors.New("jwtauth: no trusted issuer")
	}
	for _, is := range issuers {
		if is.Issuer == "" || is.Keys == nil {
			return nil, errors.New("jwtauth: a trusted issuer needs its iss and its keys")
		}
	}
	return &Verifier{issuers: issuers, audience: audience, leeway: DefaultLeeway, now: time.Now}, nil
}

// WithClock replaces the clock (tests).
func (v *Verifier) WithClock(now func() time.Time) *Verifier { v.now = now; return v }

// claims are the registered claims plus the roles claim.
type claims struct {
	jwt.Claims
	Roles []string `json:"roles"`
}

// userIDPattern keeps a sub usable as a user id everywhere it goes: gRPC metadata (printable
// ASCII) and the services' 64-character columns.
var (
	userIDPattern = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)
	rolePattern   = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
)

// Verify checks raw (the token of "Authorization: Bearer <raw>") and returns who it names.
// Every refusal matches ErrInvalidToken.
func (v *Verifier) Verify(ctx context.Context, raw string) (principal.Principal, error) {
	if v.cache == nil {
		p, _, err := v.verify(ctx, raw)
		return p, err
	}
	hash := sha256.Sum256([]byte(raw))
	if e, ok := v.cache.lookup(hash); ok {
		if v.now().Before(e.until) {
			if key, err := v.issuers[e.issuer].Keys.Key(ctx, e.kid); err == nil && sameKey(key.Key, e.key) {
				return clonePrincipal(e.p), nil
			}
		}
		v.cache.remove(hash) // expired, or its key rotated out: checked in full below
	}
	p, e, err := v.verify(ctx, raw)
	if err != nil {
		return p, err
	}
	e.hash, e.p = hash, clonePrincipal(p)
	if limit := v.now().Add(v.cache.maxAge); limit.Before(e.until) {
		e.until = limit
	}
	v.cache.add(e)
	return p, nil
}

// verify checks raw in full; the entry says what a cache needs to accept it again.
func (v *Verifier) verify(ctx context.Context, raw string) (_ principal.Principal, e cachedToken, _ error) {
	tok, err := jwt.ParseSigned(raw, Algorithms)
	if err != nil {
		return principal.Principal{}, e, invalid("malformed token or algorithm not allowed: %v", err)
	}
	if len(tok.Headers) != 1 {
		return principal.Principal{}, e, invalid("want exactly one signature")
	}
	h := tok.Headers[0]
	if h.KeyID == "" {
		return principal.Principal{}, e, invalid("token has no key id (kid)")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return principal.Principal{}, e, invalid("claims are not JSON: %v", err)
	}
	// The issuer only picks whose keys to try; nothing else is believed before the signature.
	i := slices.IndexFunc(v.issuers, func(is TrustedIssuer) bool { return is.Issuer == unverified.Issuer })
	if i < 0 {
		return principal.Principal{}, e, invalid("issuer %q is not trusted", unverified.Issuer)
	}
	key, err := v.issuers[i].Keys.Key(ctx, h.KeyID)
	if err != nil {
		return principal.Principal{}, e, invalid("%v", err)
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return principal.Principal{}, e, invalid("key %q is for %s, token says %s", h.KeyID, key.Algorithm, h.Algorithm)
	}
	var c claims
	if err := tok.Claims(key.Key, &c); err != nil {
		return principal.Principal{}, e, invalid("bad signature: %v", err)
	}
	if c.Expiry == nil {
		return principal.Principal{}, e, invalid("token has no expiry (exp)")
	}
	err = c.ValidateWithLeeway(jwt.Expected{Issuer: v.issuers[i].Issuer, AnyAudience: jwt.Audience{v.audience}, Time: v.now()}, v.leeway)
	if err != nil {
		return principal.Principal{}, e, invalid("%v", err)
	}
	if !userIDPattern.MatchString(c.Subject) {
		return principal.Principal{}, e, invalid("sub must be 1 to 64 printable ASCII characters")
	}
	for _, r := range c.Roles {
		if !rolePattern.MatchString(r) {
			return principal.Principal{}, e, invalid("role %q is not a role name", r)
		}
	}
	e.issuer, e.kid, e.key, e.until = i, h.KeyID, key.Key, c.Expiry.Time()
	return principal.Principal{UserID: c.Subject, Roles: c.Roles}, e, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}
