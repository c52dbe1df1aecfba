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

// MaxNotifyBody bounds a notify body: the providers' notifies are a few KiB; anything over
// 64 KiB is refused with 413 (and logged, see app.RefuseOversizeNotify).
const MaxNotifyBody = 64 << 10

// Handler routes POST /notify/alipay, POST /notify/wechat and POST /notify/wechat/refund.
func Handler(a *app.App) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /notify/alipay", func(w http.ResponseWriter, r *http.Request) {
		body, status := readBody(r, a, payment.ChannelAlipayQR)
		if status != 0 {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, "failure")
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
	wechatDoor := func(w http.ResponseWriter, r *http.Request) {
		body, status := readBody(r, a, payment.ChannelWechatNative)
		if status != 0 {
			wechatFail(w, status, "body too large or unreadable")
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
	}
	// Payment notifies, and refund notifies (REFUND.*) at the notify_url every refund request
	// names: one door, verified alike.
	mux.HandleFunc("POST /notify/wechat", wechatDoor)
	mux.HandleFunc("POST /notify/wechat/refund", wechatDoor)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}

// readBody reads the raw bytes the channel verifies and the notify log keeps, or says what to
// answer instead: 413 for a body over MaxNotifyBody (logged as refused), 400 for one that could
// not be read (a dropped connection, the server's read deadline).
func readBody(r *http.Request, a *app.App, ch payment.Channel) (body []byte, status int) {
	if r.ContentLength > MaxNotifyBody {
		head, _ := io.ReadAll(io.LimitReader(r.Body, MaxNotifyBody+1))
		a.RefuseOversizeNotify(r.Context(), ch, r.Header, head, MaxNotifyBody)
		return nil, http.StatusRequestEntityTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxNotifyBody+1))
	switch {
	case err != nil:
		return nil, http.StatusBadRequest
	case len(body) > MaxNotifyBody:
		a.RefuseOversizeNotify(r.Context(), ch, r.Header, body, MaxNotifyBody)
		return nil, http.StatusRequestEntityTooLarge
	}
	return body, 0
}

func wechatFail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": "FAIL", "message": msg})
}
