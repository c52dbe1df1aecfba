package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paysuite/paysuite/pkg/jwtauth"
	"github.com/paysuite/paysuite/pkg/principal"
)

// oneToken accepts the token "good" as alice.
type oneToken struct{}

func (oneToken) Verify(_ context.Context, raw string) (principal.Principal, error) {
	if raw == "good" {
		return principal.Principal{UserID: "alice"}, nil
	}
	return principal.Principal{}, errors.Join(jwtauth.ErrInvalidToken, errors.New("nope"))
}

func TestAuthenticate(t *testing.T) {
	var seen *principal.Principal
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = nil
		if p, ok := principal.FromContext(r.Context()); ok {
			seen = &p
		}
	})
	h := authenticate(oneToken{}, slog.New(slog.NewTextHandler(io.Discard, nil)), next)
	for _, tc := range []struct {
		method, path, auth string
		want               int
		user               string
	}{
		{"GET", "/v1/skus", "", 200, ""},
		{"GET", "/openapi.json", "", 200, ""},
		{"GET", "/", "", 200, ""},
		{"POST", "/dev/token", "", 200, ""},
		{"POST", "/v1/skus", "", 401, ""}, // only GET of the catalog is public
		{"GET", "/v1/orders/1", "", 401, ""},
		{"GET", "/v1/orders/1", "Bearer bad", 401, ""},
		{"GET", "/v1/orders/1", "Basic Z29vZA==", 401, ""},
		{"GET", "/v1/orders/1", "Bearer good", 200, "alice"},
		{"GET", "/v1/orders/1", "bearer good", 200, "alice"},
		{"GET", "/v1/something-added-later", "", 401, ""},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		seen = nil
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s %s (%q): %d, want %d", tc.method, tc.path, tc.auth, w.Code, tc.want)
			continue
		}
		if tc.want == 401 {
			if got := w.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
				t.Errorf("%s %s: WWW-Authenticate %q", tc.method, tc.path, got)
			}
			if !strings.Contains(w.Body.String(), `"code":16`) {
				t.Errorf("%s %s: body %s", tc.method, tc.path, w.Body)
			}
		}
		if tc.user != "" && (seen == nil || seen.UserID != tc.user) {
			t.Errorf("%s %s: principal %+v, want %s", tc.method, tc.path, seen, tc.user)
		}
	}
}

func TestRateLimits(t *testing.T) {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := limitByAddress(newLimiters(RateLimit{PerSecond: 0.5, Burst: 2}, 10), ok)
	codes := []int{}
	for range 3 {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "203.0.113.7:5555"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		codes = append(codes, w.Code)
		if w.Code == 429 && w.Header().Get("Retry-After") != "2" {
			t.Fatalf("Retry-After %q, want 2 (one token per 2 s)", w.Header().Get("Retry-After"))
		}
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Fatalf("statuses %v, want the burst of 2 then 429", codes)
	}
	// Another address has its own bucket; an IPv6 host is limited by its /64.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.8:1"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("another address: %d", w.Code)
	}
	if clientKey("[2001:db8:1:2:3::9]:443") != clientKey("[2001:db8:1:2:ffff::1]:80") {
		t.Fatal("two addresses of one /64 are limited apart")
	}
}

func TestLimitersKeepBoundedMemory(t *testing.T) {
	l := newLimiters(RateLimit{PerSecond: 1, Burst: 1}, 100)
	for i := range 10_000 {
		l.allow("a:" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + string(rune(i)))
	}
	if n := len(l.byKey); n > 100 || l.lru.Len() != n {
		t.Fatalf("%d keys tracked (list %d), want at most 100", n, l.lru.Len())
	}
}
