package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// sandboxPay forwards the cashier page's "pay with sandbox" click to the sandbox buyer
// endpoint (POST {SANDBOX_URL}/sandbox/pay), so the page needs no CORS towards the sandbox.
// Only mounted in dev mode: in production nobody may pay on a buyer's behalf.
type sandboxPay struct {
	url    string // {SANDBOX_URL}/sandbox/pay
	client *http.Client
	log    *slog.Logger
}

func newSandboxPay(baseURL string, log *slog.Logger) sandboxPay {
	return sandboxPay{
		url:    strings.TrimRight(baseURL, "/") + "/sandbox/pay",
		client: &http.Client{Timeout: 10 * time.Second},
		log:    log,
	}
}

func (h sandboxPay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, codes.InvalidArgument, "reading request body: "+err.Error())
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, codes.Internal, err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(RequestIDHeader, RequestID(r.Context()))
	resp, err := h.client.Do(req)
	if err != nil {
		h.log.Warn("sandbox unreachable", "url", h.url, "err", err)
		writeError(w, http.StatusBadGateway, codes.Unavailable, "sandbox unreachable at "+h.url+" (is it running? set SANDBOX_URL)")
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		// Re-shape the sandbox's error so the page parses one error format.
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		writeError(w, resp.StatusCode, codeForHTTP(resp.StatusCode), "sandbox: "+errorText(raw))
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
}

func errorText(raw []byte) string {
	var body struct{ Error, Message string }
	if json.Unmarshal(raw, &body) == nil {
		if body.Error != "" {
			return body.Error
		}
		if body.Message != "" {
			return body.Message
		}
	}
	return strings.TrimSpace(string(raw))
}

func codeForHTTP(status int) codes.Code {
	switch {
	case status == http.StatusNotFound:
		return codes.NotFound
	case status == http.StatusConflict:
		return codes.FailedPrecondition
	case status < 500:
		return codes.InvalidArgument
	default:
		return codes.Unavailable
	}
}
