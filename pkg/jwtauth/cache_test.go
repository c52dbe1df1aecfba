package jwtauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/jwtauth"
	"github.com/paysuite/paysuite/pkg/testkit"
)

// cachingVerifier trusts a provider whose published key set the test swaps (*set), read
// again every minute of the test's clock, with a verified-token cache of n entries.
func cachingVerifier(t *testing.T, set *atomic.Value, now *time.Time, n int) *jwtauth.Verifier {
	t.Helper()
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write(set.Load().([]byte))
	}))
	t.Cleanup(idp.Close)
	clock := func() time.Time { return *now }
	keys := jwtauth.JWKSFromURL(idp.URL, nil, jwtauth.WithRefetchBounds(time.Minute, time.Second), jwtauth.WithJWKSClock(clock))
	v, err := jwtauth.NewVerifier(testkit.TestAudience, jwtauth.TrustedIssuer{Issuer: testkit.TestIssuer, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return v.WithClock(clock).WithCache(n, 10*time.Minute)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestTokenCacheNeverOutlivesExp: a remembered token is refused once it is past exp (and the
// leeway) like any other; refusals are not remembered.
func TestTokenCacheNeverOutlivesExp(t *testing.T) {
	tokens := testkit.NewTokens(t)
	var set atomic.Value
	set.Store(readFile(t, tokens.JWKSFile))
	now := time.Now()
	v := cachingVerifier(t, &set, &now, 10)
	ctx := context.Background()
	short, err := tokens.Issuer().Sign("alice", nil, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if p, err := v.Verify(ctx, short.Token); err != nil || p.UserID != "alice" {
			t.Fatalf("a good token: %+v, %v", p, err)
		}
	}
	for _, bad := range []string{tokens.Expired("alice"), tokens.ForeignKey("alice"), "not.a.token"} {
		if _, err := v.Verify(ctx, bad); !errors.Is(err, jwtauth.ErrInvalidToken) {
			t.Fatalf("a bad token accepted: %v", err)
		}
	}
	if n := v.Cached(); n != 1 {
		t.Fatalf("%d tokens cached after one good token (three times) and three refusals, want 1", n)
	}
	now = now.Add(2*time.Minute + jwtauth.DefaultLeeway + time.Second)
	if p, err := v.Verify(ctx, short.Token); !errors.Is(err, jwtauth.ErrInvalidToken) {
		t.Fatalf("a cached token past its exp was accepted as %+v", p)
	}
}

// TestTokenCacheFollowsKeyRotation: a remembered token is refused once the provider's set,
// read again, no longer holds its key, or holds another key under the same kid.
func TestTokenCacheFollowsKeyRotation(t *testing.T) {
	tokens := testkit.NewTokens(t)
	next := testkit.NewTokens(t) // the provider's next key
	for name, rotated := range map[string]func() []byte{
		"key rotated out": func() []byte { return readFile(t, next.JWKSFile) },
		// the forger's set: same issuer, same kid, another key
		"kid given another key": func() []byte { return forgedSet(t, tokens) },
	} {
		t.Run(name, func(t *testing.T) {
			var set atomic.Value
			set.Store(readFile(t, tokens.JWKSFile))
			now := time.Now()
			v := cachingVerifier(t, &set, &now, 10)
			ctx := context.Background()
			raw := tokens.For("alice")
			if _, err := v.Verify(ctx, raw); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(ctx, raw); err != nil {
				t.Fatal(err)
			}
			set.Store(rotated())
			now = now.Add(time.Minute) // the set is read again
			if p, err := v.Verify(ctx, raw); !errors.Is(err, jwtauth.ErrInvalidToken) {
				t.Fatalf("a cached token whose key is gone was accepted as %+v", p)
			}
		})
	}
}

// forgedSet is a key set with tokens' key id on another key.
func forgedSet(t *testing.T, tokens *testkit.Tokens) []byte {
	t.Helper()
	forged, err := jwtauth.NewIssuer(testkit.TestIssuer, testkit.TestAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := forged.JWKS()
	return []byte(strings.ReplaceAll(string(raw), forged.KeyID(), tokens.Issuer().KeyID()))
}

// TestTokenCacheIsBounded: more good tokens than entries keep only the most recent.
func TestTokenCacheIsBounded(t *testing.T) {
	tokens := testkit.NewTokens(t)
	var set atomic.Value
	set.Store(readFile(t, tokens.JWKSFile))
	now := time.Now()
	v := cachingVerifier(t, &set, &now, 3)
	for i := range 5 {
		if _, err := v.Verify(context.Background(), tokens.For("user"+string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.Cached(); n != 3 {
		t.Fatalf("%d tokens cached with room for 3", n)
	}
}
