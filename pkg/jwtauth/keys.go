package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// JWKS fetching defaults.
const (
	DefaultRefresh    = 10 * time.Minute // a known key set is re-read this often (rotations)
	DefaultMinRefetch = 30 * time.Second // at most one read per this interval, whatever tokens arrive
	maxJWKSBytes      = 1 << 20
	fetchTimeout      = 5 * time.Second
)

// JWKS is a cached key set read from a URL or a file. An unknown key id makes it read the set
// again (the provider rotated its keys), but never more often than MinRefetch, so a stream of
// tokens with made-up key ids cannot turn the gateway into a load generator against the
// identity provider.
type JWKS struct {
	read       func(ctx context.Context) ([]byte, error)
	what       string // for errors: the URL or path
	refresh    time.Duration
	minRefetch time.Duration
	now        func() time.Time

	mu        sync.Mutex
	keys      map[string]jose.JSONWebKey
	fetchedAt time.Time // last successful read
	triedAt   time.Time // last attempt, successful or not
	lastErr   error
}

// JWKSOption tunes a JWKS.
type JWKSOption func(*JWKS)

// WithRefetchBounds sets how often a known set is re-read and the least time between reads.
func WithRefetchBounds(refresh, minRefetch time.Duration) JWKSOption {
	return func(k *JWKS) { k.refresh, k.minRefetch = refresh, minRefetch }
}

// WithJWKSClock replaces the clock (tests).
func WithJWKSClock(now func() time.Time) JWKSOption { return func(k *JWKS) { k.now = now } }

// JWKSFromURL reads the set from url (an identity provider's jwks_uri) with client
// (http.DefaultClient's settings and a 5 s timeout when nil).
func JWKSFromURL(url string, client *http.Client, opts ...JWKSOption) *JWKS {
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	read := func(ctx context.Context) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("HTTP %s", resp.Status)
		}
		return io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	}
	return newJWKS(read, url, opts)
}

// JWKSFromFile reads the set from a file (re-read like a URL, so a rotated file is picked up).
func JWKSFromFile(path string, opts ...JWKSOption) *JWKS {
	return newJWKS(func(context.Context) ([]byte, error) { return os.ReadFile(path) }, path, opts)
}

// StaticJWKS serves a fixed set (the dev issuer's own key).
func StaticJWKS(set []byte) (*JWKS, error) {
	k := newJWKS(func(context.Context) ([]byte, error) { return set, nil }, "static key set", nil)
	return k, k.Load(context.Background())
}

func newJWKS(read func(context.Context) ([]byte, error), what string, opts []JWKSOption) *JWKS {
	k := &JWKS{read: read, what: what, refresh: DefaultRefresh, minRefetch: DefaultMinRefetch, now: time.Now}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Load reads the set now (at start, to fail early on a bad file or URL).
func (k *JWKS) Load(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fetchLocked(ctx)
}

// Key implements KeySource.
func (k *JWKS) Key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	key, known := k.keys[kid]
	stale := k.fetchedAt.IsZero() || now.Sub(k.fetchedAt) >= k.refresh
	if (!known || stale) && (k.triedAt.IsZero() || now.Sub(k.triedAt) >= k.minRefetch) {
		_ = k.fetchLocked(ctx) // a failed read keeps the keys we had
		key, known = k.keys[kid]
	}
	if !known {
		if k.keys == nil && k.lastErr != nil {
			return nil, fmt.Errorf("key set %s unavailable: %v", k.what, k.lastErr)
		}
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	return &key, nil
}

func (k *JWKS) fetchLocked(ctx context.Context) error {
	k.triedAt = k.now()
	raw, err := k.read(ctx)
	if err == nil {
		var keys map[string]jose.JSONWebKey
		if keys, err = parseJWKS(raw); err == nil {
			k.keys, k.fetchedAt, k.lastErr = keys, k.triedAt, nil
			return nil
		}
	}
	k.lastErr = fmt.Errorf("read key set %s: %w", k.what, err)
	return k.lastErr
}

// parseJWKS keeps the set's public signature keys by key id. Keys of a kind go-jose does not
// know, or meant for encryption, are skipped instead of failing the whole set: identity
// providers publish such keys beside their signing keys.
func parseJWKS(raw []byte) (map[string]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("not a JWK set: %w", err)
	}
	keys := map[string]jose.JSONWebKey{}
	for _, rawKey := range set.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(rawKey); err != nil || key.KeyID == "" || key.Use == "enc" || !key.Valid() {
			continue
		}
		if pub := key.Public(); pub.Key != nil { // symmetric keys have no public half
			keys[key.KeyID] = pub
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("the key set holds no usable signature key with a key id")
	}
	return keys, nil
}
