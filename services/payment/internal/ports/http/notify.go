// Package http serves the providers' async notify endpoints. The answer is written only after
// app.HandleNotify returned, i.e. after the state change committed.
package http

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

const maxNotifyBody = 1 << 20

// Handler routes POST /notify/alipay and POST /notify/wechat.
func Handler(a *app.App) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /notify/alipay", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r)
		if !ok {
			http.Error(w, "failure", http.StatusBadRequest)
			return
		}
		ans := a.HandleNotify(r.Context(), payment.ChannelAlipayQR, app.NotifyMessage{Header: r.Header, Body: body})
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ans.OK {
			_, _ = io.WriteString(w, "success")
			return
		}
		// Alipay only looks for the bare text "success"; anything else makes it retry.
		_, _ = io.WriteString(w, "failure")
	})
	mux.HandleFunc("POST /notify/wechat", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r)
		if !ok {
			wechatFail(w, http.StatusBadRequest, "body too large or unreadable")
			return
		}
		ans := a.HandleNotify(r.Context(), payment.ChannelWechatNative, app.NotifyMessage{Header: r.Header, Body: body})
		switch {
		case ans.OK:
			w.WriteHeader(http.StatusNoContent)
		case ans.Refused:
			wechatFail(w, http.StatusBadRequest, ans.Message)
		default:
			wechatFail(w, http.StatusInternalServerError, ans.Message)
		}
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}

// readBody reads the raw bytes the channel verifies and the notify log keeps.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotifyBody))
	if err != nil {
		return nil, false
	}
	return body, true
}

func wechatFail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": "FAIL", "message": msg})
}
