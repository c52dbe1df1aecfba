package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// echo answers with the body it received, so tests see what the next handler gets.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	_, _ = w.Write(b)
})

func TestLimitBody(t *testing.T) {
	h := limitBody(10, echo)
	cases := []struct {
		name   string
		body   string
		length int64 // -1: unknown (chunked)
		want   int
	}{
		{"fits", "0123456789", 10, http.StatusOK},
		{"declared too large", "01234567890", 11, http.StatusRequestEntityTooLarge},
		{"chunked too large", "01234567890", -1, http.StatusRequestEntityTooLarge},
		{"chunked fits", "0123", -1, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/orders", strings.NewReader(tc.body))
			r.ContentLength = tc.length
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			if tc.want == http.StatusOK && w.Body.String() != tc.body {
				t.Fatalf("next handler got %q, want %q", w.Body, tc.body)
			}
			if tc.want == http.StatusRequestEntityTooLarge && !strings.Contains(w.Body.String(), `"message":"request body exceeds 10 bytes"`) {
				t.Fatalf("413 body: %s", w.Body)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := idempotencyKey(echo)
	cases := []struct {
		name, path, key, body string
		want                  int
		wantRequestID         string // "" = body passed through unchanged
	}{
		{"header fills missing requestId", "/v1/orders", "k1", `{"userId":"u"}`, 200, "k1"},
		{"header fills empty requestId", "/v1/orders", "k1", `{"userId":"u","requestId":""}`, 200, "k1"},
		{"header fills empty body", "/v1/payments/7:refund", "k2", ``, 200, "k2"},
		{"equal keys pass", "/v1/orders", "k1", `{"requestId":"k1"}`, 200, "k1"},
		{"snake_case equal passes", "/v1/payments/7:refund", "k1", `{"request_id":"k1"}`, 200, ""},
		{"differing keys refused", "/v1/orders", "k1", `{"requestId":"k2"}`, 400, ""},
		{"not JSON refused", "/v1/orders", "k1", `userId=u`, 400, ""},
		{"other route untouched", "/v1/orders/7:cancel", "k1", `{}`, 200, ""},
		{"no header untouched", "/v1/orders", "", `{"userId":"u"}`, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
			if tc.key != "" {
				r.Header.Set(IdempotencyKeyHeader, tc.key)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			if tc.want != 200 {
				return
			}
			if tc.wantRequestID == "" {
				if w.Body.String() != tc.body {
					t.Fatalf("body changed: %s", w.Body)
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("forwarded body %q: %v", w.Body, err)
			}
			if got["requestId"] != tc.wantRequestID {
				t.Fatalf("requestId %v, want %q (body %s)", got["requestId"], tc.wantRequestID, w.Body)
			}
			if strings.Contains(tc.body, "userId") && got["userId"] != "u" {
				t.Fatalf("other fields lost: %s", w.Body)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	var seen string
	h := requestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = RequestID(r.Context()) }))

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(RequestIDHeader, "client-id-1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Header().Get(RequestIDHeader); got != "client-id-1" || seen != "client-id-1" {
		t.Fatalf("client id not kept: header %q, context %q", got, seen)
	}

	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(RequestIDHeader, "bad id\nwith newline")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Header().Get(RequestIDHeader); got == "" || strings.Contains(got, " ") || got != seen {
		t.Fatalf("bad client id not replaced: header %q, context %q", got, seen)
	}
}

func TestCORS(t *testing.T) {
	h := cors([]string{"https://shop.example", " https://admin.example/ "}, echo)
	preflight := func(origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, "/v1/orders", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "content-type,idempotency-key")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := preflight("https://admin.example")
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "https://admin.example" ||
		!strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), "Idempotency-Key") {
		t.Fatalf("allowed preflight: %d %v", w.Code, w.Header())
	}
	if w := preflight("https://evil.example"); w.Code != http.StatusForbidden || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign preflight: %d %v", w.Code, w.Header())
	}

	r := httptest.NewRequest(http.MethodGet, "/v1/skus", nil)
	r.Header.Set("Origin", "https://shop.example")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("Access-Control-Allow-Origin") != "https://shop.example" || w.Header().Get("Access-Control-Expose-Headers") != RequestIDHeader {
		t.Fatalf("simple request: %v", w.Header())
	}

	w = httptest.NewRecorder()
	cors(nil, echo).ServeHTTP(w, r)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS headers without configured origins: %v", w.Header())
	}
	w = httptest.NewRecorder()
	cors([]string{"*"}, echo).ServeHTTP(w, r)
	if w.Header().Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Fatalf("wildcard: %v", w.Header())
	}
}
