package jwtauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/jwtauth"
	"github.com/paysuite/paysuite/pkg/testkit"
)

func verifierFor(t *testing.T, tokens *testkit.Tokens) *jwtauth.Verifier {
	t.Helper()
	keys := jwtauth.JWKSFromFile(tokens.JWKSFile)
	if err := keys.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := jwtauth.NewVerifier(testkit.TestAudience, jwtauth.TrustedIssuer{Issuer: testkit.TestIssuer, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	tokens := testkit.NewTokens(t)
	v := verifierFor(t, tokens)
	ctx := context.Background()

	p, err := v.Verify(ctx, tokens.For("alice"))
	if err != nil || p.UserID != "alice" || p.IsMerchant() {
		t.Fatalf("a good customer token: %+v, %v", p, err)
	}
	if p, err := v.Verify(ctx, tokens.Merchant("staff")); err != nil || !p.IsMerchant() {
		t.Fatalf("a good merchant token: %+v, %v", p, err)
	}
	skewed, err := tokens.Issuer().SignClaims("bob", nil, time.Hour, map[string]any{"nbf": time.Now().Add(10 * time.Second).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, skewed.Token); err != nil {
		t.Fatalf("nbf 10 s ahead is within the clock skew: %v", err)
	}

	future, _ := tokens.Issuer().SignClaims("bob", nil, time.Hour, map[string]any{"nbf": time.Now().Add(5 * time.Minute).Unix()})
	noExp, _ := tokens.Issuer().SignClaims("bob", nil, time.Hour, map[string]any{"exp": nil})
	badSub, _ := tokens.Issuer().SignClaims("bob\x01", nil, time.Hour, nil)
	badRole, _ := tokens.Issuer().SignClaims("bob", []string{"merchant,admin"}, time.Hour, nil)
	for name, raw := range map[string]string{
		"expired":              tokens.Expired("alice"),
		"not yet valid":        future.Token,
		"without exp":          noExp.Token,
		"wrong issuer":         tokens.WrongIssuer("alice"),
		"wrong audience":       tokens.WrongAudience("alice"),
		"alg none":             tokens.AlgNone("alice"),
		"HS256 with the JWKS":  tokens.HS256WithPublicKey("alice"),
		"foreign key, our kid": tokens.ForeignKey("alice"),
		"garbage":              "not.a.token",
		"empty":                "",
		"control char in sub":  badSub.Token,
		"comma in a role":      badRole.Token,
	} {
		if p, err := v.Verify(ctx, raw); !errors.Is(err, jwtauth.ErrInvalidToken) {
			t.Errorf("%s: accepted as %+v (err %v)", name, p, err)
		}
	}
}

// TestJWKSRefetchIsBounded: tokens with made-up key ids make the verifier read the provider's
// key set at most once per MinRefetch, and a key the provider adds later is found.
func TestJWKSRefetchIsBounded(t *testing.T) {
	tokens := testkit.NewTokens(t)
	rotated := testkit.NewTokens(t) // the provider's next key, published later
	var fetches atomic.Int32
	var serveRotated atomic.Bool
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		if serveRotated.Load() {
			w.Write(mergeSets(t, tokens.JWKSFile, rotated.JWKSFile))
			return
		}
		raw, _ := os.ReadFile(tokens.JWKSFile)
		w.Write(raw)
	}))
	defer idp.Close()

	now := time.Now()
	clock := func() time.Time { return now }
	keys := jwtauth.JWKSFromURL(idp.URL, nil, jwtauth.WithRefetchBounds(time.Hour, time.Minute), jwtauth.WithJWKSClock(clock))
	v, err := jwtauth.NewVerifier(testkit.TestAudience, jwtauth.TrustedIssuer{Issuer: testkit.TestIssuer, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, tokens.For("alice")); err != nil {
		t.Fatal(err)
	}
	// The rotated key signs with the same issuer name but a key id the cached set lacks.
	newKeyToken, err := rotated.Issuer().Sign("alice", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := v.Verify(ctx, newKeyToken.Token); err == nil {
			t.Fatal("a key the provider never published was accepted")
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 1 good token and 50 with an unknown kid within a minute, want 1", n)
	}
	serveRotated.Store(true)
	now = now.Add(time.Minute)
	if _, err := v.Verify(ctx, newKeyToken.Token); err != nil {
		t.Fatalf("the rotated key after the refetch interval: %v", err)
	}
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

func mergeSets(t *testing.T, paths ...string) []byte {
	t.Helper()
	var all []byte
	all = append(all, `{"keys":[`...)
	for i, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// each file is {"keys":[{...}]}: take the inner key
		inner := raw[len(`{"keys":[`) : len(raw)-len(`]}`)]
		if i > 0 {
			all = append(all, ',')
		}
		all = append(all, inner...)
	}
	return append(all, `]}`...)
}

func TestDevKeyOutlivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev", "issuer-key.pem")
	k1, err := jwtauth.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := jwtauth.LoadOrCreateKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second load: %v, same key %v", err, k1.Equal(k2))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode().Perm())
	}
}
