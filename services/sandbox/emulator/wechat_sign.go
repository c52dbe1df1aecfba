package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"net/http"
	"strconv"
	"time"
)

// WeChat verification modes (SANDBOX_WECHAT_MODE, services/sandbox/README.md §7): which key signs answers and
// notifies, and what Wechatpay-Serial names.
const (
	// WechatModePublicKey: the WeChat Pay public key, serial PUB_KEY_ID_… (new merchants).
	WechatModePublicKey = "publicKey"
	// WechatModeCertificate: the platform certificate from GET /v3/certificates, serial = the
	// certificate's 40 hex digits (merchants that have not migrated).
	WechatModeCertificate = "certificate"
	// WechatModeBoth: the migration period. Answers are signed with the key the request's
	// Wechatpay-Serial names (the certificate unless it names the public key id); notifies by
	// either, at random.
	WechatModeBoth = "both"
)

// ValidWechatMode reports whether m is one of the modes above.
func ValidWechatMode(m string) bool {
	return m == WechatModePublicKey || m == WechatModeCertificate || m == WechatModeBoth
}

// wxSigner is a WeChat Pay key and the serial that names it.
type wxSigner struct {
	key    *rsa.PrivateKey
	serial string
}

func (e *Emulator) publicKeySigner() wxSigner {
	return wxSigner{e.keys.wechatPrivate, e.keys.creds.Wechat.WechatPayPublicKeyID}
}

func (e *Emulator) certSigner() wxSigner {
	return wxSigner{e.keys.wechatCert.key, e.keys.wechatCert.serial}
}

// answerSigner picks the key for the answer to r.
func (e *Emulator) answerSigner(r *http.Request) wxSigner {
	switch e.cfg.WechatMode {
	case WechatModeCertificate:
		return e.certSigner()
	case WechatModeBoth:
		if r != nil && r.Header.Get("Wechatpay-Serial") == e.keys.creds.Wechat.WechatPayPublicKeyID {
			return e.publicKeySigner()
		}
		return e.certSigner()
	}
	return e.publicKeySigner()
}

// notifySigner picks the key for one notify.
func (e *Emulator) notifySigner() wxSigner {
	switch e.cfg.WechatMode {
	case WechatModeCertificate:
		return e.certSigner()
	case WechatModeBoth:
		if e.coin() {
			return e.publicKeySigner()
		}
		return e.certSigner()
	}
	return e.publicKeySigner()
}

func fairCoin() bool {
	n, _ := rand.Int(rand.Reader, big.NewInt(2))
	return n.Sign() == 0
}

// signWechatHeaders sets the Wechatpay-* headers over body (empty for 204), stamped at `at`.
func (e *Emulator) signWechatHeaders(h http.Header, body []byte, s wxSigner, at time.Time) {
	ts := strconv.FormatInt(at.Unix(), 10)
	nonce := randAlnum(32)
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Serial", s.serial)
	h.Set("Wechatpay-Signature-Type", wechatAuthScheme)
	h.Set("Wechatpay-Signature", rsaSign(s.key, []byte(ts+"\n"+nonce+"\n"+string(body)+"\n")))
}

// wxResponse carries the signer chosen for a request to the code that writes its answer.
type wxResponse struct {
	http.ResponseWriter
	signer wxSigner
}

// writeWechat answers with a signed body; every answer is signed, errors and 204 included. Under
// the answerSignatureProbes fault a 200 answer carries a WECHATPAY/SIGNTEST/ signature instead.
func (e *Emulator) writeWechat(w http.ResponseWriter, status int, body []byte) {
	s := e.answerSigner(nil)
	if ww, ok := w.(*wxResponse); ok {
		s = ww.signer
	}
	e.signWechatHeaders(w.Header(), body, s, e.now())
	if status == http.StatusOK {
		e.mu.Lock()
		probe := take(&e.faults.AnswerSignatureProbes)
		e.mu.Unlock()
		if probe {
			w.Header().Set("Wechatpay-Signature", signTestProbe())
		}
	}
	w.Header().Set("Request-ID", randUpperHex(16))
	if len(body) > 0 {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
