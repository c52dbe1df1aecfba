package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
)

// IdempotencyKeyHeader is the conventional header for retry-safe POSTs.
const IdempotencyKeyHeader = "Idempotency-Key"

// idempotentPost reports whether the route takes a requestId that makes it retry-safe:
// POST /v1/orders and POST /v1/payments/{paymentId}:refund.
func idempotentPost(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	p := r.URL.Path
	return p == "/v1/orders" ||
		strings.HasPrefix(p, "/v1/payments/") && strings.HasSuffix(p, ":refund") && strings.Count(p, "/") == 3
}

// idempotencyKey copies the Idempotency-Key header into the JSON body's requestId when the
// body has none, so clients that follow the header convention get the same once-only
// guarantee as those that set requestId. A body whose requestId differs from the header is
// refused: one of the two is a client bug, and guessing could charge or refund twice.
func idempotencyKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimSpace(r.Header.Get(IdempotencyKeyHeader))
		if key == "" || !idempotentPost(r) {
			next.ServeHTTP(w, r)
			return
		}
		var raw []byte
		if r.Body != nil {
			var err error
			if raw, err = io.ReadAll(r.Body); err != nil {
				writeError(w, http.StatusBadRequest, codes.InvalidArgument, "reading request body: "+err.Error())
				return
			}
		}
		body, err := withRequestID(raw, key)
		if err != nil {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument, err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

type badRequest string

func (e badRequest) Error() string { return string(e) }

func withRequestID(raw []byte, key string) ([]byte, error) {
	fields := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, badRequest("request body must be a JSON object: " + err.Error())
		}
	}
	for _, name := range []string{"requestId", "request_id"} {
		v, ok := fields[name]
		if !ok || string(v) == "null" {
			delete(fields, name)
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, badRequest(name + " must be a string")
		}
		if s == "" {
			delete(fields, name)
			continue
		}
		if s != key {
			return nil, badRequest("Idempotency-Key header and " + name + " in the body differ; send one or make them equal")
		}
		return raw, nil
	}
	keyJSON, _ := json.Marshal(key)
	fields["requestId"] = keyJSON
	return json.Marshal(fields)
}
