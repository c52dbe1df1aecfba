package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/paysuite/paysuite/pkg/jwtauth"
)

// Dev tokens live an hour unless asked otherwise, a day at most.
const (
	devTokenTTL    = time.Hour
	devTokenMaxTTL = 24 * time.Hour
)

// devTokens serves POST /dev/token: a token for any user and roles, signed by the dev issuer's
// key, which the gateway trusts only in dev mode. It is how the cashier page, `make demo` and
// scripts act as a user without an identity provider.
func devTokens(is *jwtauth.Issuer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			UserID     string   `json:"userId"`
			Roles      []string `json:"roles"`
			TTLSeconds int64    `json:"ttlSeconds"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument, "want {\"userId\", \"roles\"?, \"ttlSeconds\"?}: "+err.Error())
			return
		}
		ttl := devTokenTTL
		if req.TTLSeconds != 0 {
			ttl = time.Duration(req.TTLSeconds) * time.Second
		}
		if req.UserID == "" || ttl <= 0 || ttl > devTokenMaxTTL {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument, "userId is required; ttlSeconds must be 1 to 86400")
			return
		}
		tok, err := is.Sign(req.UserID, req.Roles, ttl)
		if err != nil {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(tok)
	}
}

// devJWKS serves GET /dev/jwks.json: the dev issuer's public key, as an identity provider
// publishes its keys (another gateway could be pointed at it with AUTH_JWKS_URL).
func devJWKS(is *jwtauth.Issuer) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(is.JWKS())
	}
}
