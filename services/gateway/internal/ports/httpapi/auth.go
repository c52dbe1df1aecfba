package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/paysuite/paysuite/pkg/jwtauth"
	"github.com/paysuite/paysuite/pkg/principal"
)

// TokenVerifier checks a bearer token and names its user (jwtauth.Verifier).
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (principal.Principal, error)
}

// needsToken reports whether a request must carry a valid bearer token: every /v1 route but
// the catalog. Deny by default: a route added later is protected without anyone remembering.
func needsToken(r *http.Request) bool {
	if r.Method == http.MethodOptions { // CORS preflights carry no credentials and reach nothing
		return false
	}
	if !strings.HasPrefix(r.URL.Path, "/v1/") && r.URL.Path != "/v1" {
		return false
	}
	return !(r.Method == http.MethodGet && r.URL.Path == "/v1/skus")
}

// authenticate verifies the bearer token of every request that needs one and puts its
// principal into the request's context; the gRPC calls carry it on as metadata. Anything wrong
// with the token is 401 with the RFC 6750 challenge and the usual JSON error body.
func authenticate(v TokenVerifier, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !needsToken(r) {
			next.ServeHTTP(w, r)
			return
		}
		raw, ok := bearerToken(r)
		if !ok {
			unauthenticated(w, "a bearer token is required (Authorization: Bearer <JWT>)")
			return
		}
		p, err := v.Verify(r.Context(), raw)
		if err != nil {
			msg := err.Error()
			if !errors.Is(err, jwtauth.ErrInvalidToken) {
				msg = "invalid token"
			}
			log.InfoContext(r.Context(), "token refused", "request_id", RequestID(r.Context()), "path", r.URL.Path, "err", err)
			unauthenticated(w, msg)
			return
		}
		next.ServeHTTP(w, r.WithContext(principal.NewContext(r.Context(), p)))
	})
}

// bearerToken is the token of "Authorization: Bearer <token>" (the scheme is case-insensitive).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

func unauthenticated(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, codes.Unauthenticated, msg)
}
