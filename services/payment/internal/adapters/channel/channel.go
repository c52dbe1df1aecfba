// Package channel speaks to the payment providers through the unmodified gopay clients:
// Alipay face-to-face QR (classic gateway) and WeChat Pay v3 Native. Base URLs may point at the
// sandbox; unset means the real provider.
package channel

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paysuite/paysuite/services/payment/internal/app"
)

// cst is Asia/Shanghai, the providers' clock (fixed +08:00, no DST), without needing tzdata.
var cst = time.FixedZone("CST", 8*3600)

const shanghaiLayout = "2006-01-02 15:04:05"

// hostRewrite sends requests for the provider's fixed host to base (the sandbox).
type hostRewrite struct {
	base *url.URL
	next http.RoundTripper
}

func (h hostRewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = h.base.Scheme, h.base.Host, ""
	if p := strings.TrimSuffix(h.base.Path, "/"); p != "" {
		r.URL.Path = p + r.URL.Path
	}
	return h.next.RoundTrip(r)
}

// notifyRequest rebuilds the POST the provider sent, for gopay's notify parsers.
func notifyRequest(msg app.NotifyMessage) *http.Request {
	return &http.Request{
		Method: http.MethodPost, URL: &url.URL{}, Header: msg.Header,
		Body: io.NopCloser(bytes.NewReader(msg.Body)), ContentLength: int64(len(msg.Body)),
	}
}

func refused(reason, outTradeNo, notifyID string) error {
	return &app.NotifyRefusedError{Reason: reason, OutTradeNo: outTradeNo, NotifyID: notifyID}
}

// pemBody strips PEM armor: gopay's alipay.NewClient and alipay.VerifySign add their own.
func pemBody(p string) string {
	if !strings.Contains(p, "-----") {
		return strings.TrimSpace(p)
	}
	var b strings.Builder
	for _, line := range strings.Split(p, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "-----") {
			b.WriteString(strings.TrimSpace(line))
		}
	}
	return b.String()
}

// armored returns p as PEM ("BEGIN PUBLIC KEY") if it was given as bare base64.
func armored(p, kind string) string {
	if strings.Contains(p, "-----BEGIN") {
		return p
	}
	body := strings.TrimSpace(p)
	var b strings.Builder
	b.WriteString("-----BEGIN " + kind + "-----\n")
	for len(body) > 64 {
		b.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	b.WriteString(body + "\n-----END " + kind + "-----\n")
	return b.String()
}
