package service

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/paysuite/paysuite/pkg/jwtauth"
)

// AuthConfig says whose tokens the gateway believes.
type AuthConfig struct {
	JWKSURL  string // AUTH_JWKS_URL: the identity provider's key set
	JWKSFile string // AUTH_JWKS_FILE: the same, from a file
	Issuer   string // AUTH_ISSUER: its "iss"; required with a key set
	Audience string // AUTH_AUDIENCE: this API's name in "aud" (default paysuite)
}

// ErrNoTokenKeys: neither an identity provider's keys nor dev mode; the gateway could accept
// no token at all, so it refuses to start.
var ErrNoTokenKeys = errors.New("gateway: no token keys: set AUTH_JWKS_URL or AUTH_JWKS_FILE (with AUTH_ISSUER), or GATEWAY_DEV_MODE=true")

// verifier builds the token verifier: the identity provider's keys, and in dev mode the dev
// issuer (returned for its routes).
func verifier(ctx context.Context, cfg Config, log *slog.Logger) (*jwtauth.Verifier, *jwtauth.Issuer, error) {
	audience := cfg.Auth.Audience
	if audience == "" {
		audience = "paysuite"
	}
	var trusted []jwtauth.TrustedIssuer
	if cfg.Auth.JWKSURL != "" || cfg.Auth.JWKSFile != "" {
		if cfg.Auth.Issuer == "" {
			return nil, nil, errors.New("gateway: AUTH_ISSUER is required with a key set")
		}
		keys := jwtauth.JWKSFromFile(cfg.Auth.JWKSFile)
		if cfg.Auth.JWKSURL != "" {
			keys = jwtauth.JWKSFromURL(cfg.Auth.JWKSURL, nil)
		}
		// A provider that is down now may be up for the first token: only a bad file stops us.
		if err := keys.Load(ctx); err != nil {
			if cfg.Auth.JWKSURL == "" {
				return nil, nil, err
			}
			log.Warn("identity provider keys not readable yet; retried on the first token", "err", err)
		}
		trusted = append(trusted, jwtauth.TrustedIssuer{Issuer: cfg.Auth.Issuer, Keys: keys})
	}
	var dev *jwtauth.Issuer
	if cfg.DevMode {
		var key *ecdsa.PrivateKey
		if cfg.DevKeyFile != "" {
			var err error
			if key, err = jwtauth.LoadOrCreateKey(cfg.DevKeyFile); err != nil {
				return nil, nil, fmt.Errorf("gateway: dev issuer key: %w", err)
			}
		}
		var err error
		if dev, err = jwtauth.NewIssuer(DevIssuerName, audience, key); err != nil {
			return nil, nil, err
		}
		keys, err := jwtauth.StaticJWKS(dev.JWKS())
		if err != nil {
			return nil, nil, err
		}
		trusted = append(trusted, jwtauth.TrustedIssuer{Issuer: DevIssuerName, Keys: keys})
	}
	if len(trusted) == 0 {
		return nil, nil, ErrNoTokenKeys
	}
	v, err := jwtauth.NewVerifier(audience, trusted...)
	if err != nil {
		return nil, nil, err
	}
	// A client sends the same token with every request: one signature check per token, not per
	// request (never past the token's exp, nor its key's rotation: jwtauth.WithCache).
	return v.WithCache(tokenCacheSize, tokenCacheMaxAge), dev, nil
}

// The verified-token cache: ~200 bytes an entry.
const (
	tokenCacheSize   = 20_000
	tokenCacheMaxAge = 5 * time.Minute
)
