package emulator

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WeChat Pay API v3: request authentication and answers.

const wechatAuthScheme = "WECHATPAY2-SHA256-RSA2048"

// maxClockSkew is how far a request timestamp may be from now (the real API allows 5 minutes).
const maxClockSkew = 5 * time.Minute

type wechatHandler func(w http.ResponseWriter, r *http.Request, body []byte)

func (e *Emulator) wechatRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v3/pay/transactions/native", e.wechatAuth(e.wechatPrepay(ProductNative)))
	mux.HandleFunc("POST /v3/pay/transactions/jsapi", e.wechatAuth(e.wechatPrepay(ProductJSAPI)))
	mux.HandleFunc("POST /v3/pay/transactions/h5", e.wechatAuth(e.wechatPrepay(ProductH5)))
	mux.HandleFunc("GET /v3/pay/transactions/out-trade-no/{no}", e.wechatAuth(e.wechatQuery))
	mux.HandleFunc("GET /v3/pay/transactions/id/{id}", e.wechatAuth(e.wechatQueryByID))
	mux.HandleFunc("POST /v3/pay/transactions/out-trade-no/{no}/close", e.wechatAuth(e.wechatClose))
	mux.HandleFunc("POST /v3/refund/domestic/refunds", e.wechatAuth(e.wechatRefund))
	mux.HandleFunc("GET /v3/refund/domestic/refunds/{no}", e.wechatAuth(e.wechatRefundQuery))
	mux.HandleFunc("GET /v3/certificates", e.wechatAuth(e.wechatCertificates))
	mux.HandleFunc("GET /v3/bill/tradebill", e.wechatAuth(e.wechatTradeBill))
	mux.HandleFunc("GET /v3/billdownload/file", e.wechatAuth(e.wechatBillDownload))
}

// wechatAuth verifies the Authorization header the way the real API does: signature by the
// merchant key over METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n, known mchid and serial_no, fresh
// timestamp. Any failure is 401 SIGN_ERROR. The answer is signed by the key the mode picks.
func (e *Emulator) wechatAuth(next wechatHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w = &wxResponse{ResponseWriter: w, signer: e.answerSigner(r)}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			e.wechatError(w, http.StatusBadRequest, "PARAM_ERROR", "请求体无法读取")
			return
		}
		if msg := e.checkWechatAuth(r, body); msg != "" {
			e.log.Info("wechat request refused", "path", r.URL.Path, "reason", msg)
			e.wechatError(w, http.StatusUnauthorized, "SIGN_ERROR", msg)
			return
		}
		next(w, r, body)
	}
}

func (e *Emulator) checkWechatAuth(r *http.Request, body []byte) string {
	scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if scheme != wechatAuthScheme {
		return "Authorization 认证类型错误或缺失"
	}
	f := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			f[k] = strings.Trim(v, `"`)
		}
	}
	creds := e.keys.creds.Wechat
	switch {
	case f["mchid"] == "" || f["nonce_str"] == "" || f["timestamp"] == "" || f["serial_no"] == "" || f["signature"] == "":
		return "Authorization 缺少必要的参数"
	case f["mchid"] != creds.MchID:
		return "商户号不存在或与证书不匹配"
	case f["serial_no"] != creds.MerchantSerialNo:
		return "商户证书序列号有误"
	}
	ts, err := strconv.ParseInt(f["timestamp"], 10, 64)
	if err != nil {
		return "时间戳格式错误"
	}
	if skew := e.now().Sub(time.Unix(ts, 0)); skew > maxClockSkew || skew < -maxClockSkew {
		return "请求时间戳已过期"
	}
	uri := r.RequestURI // exactly what the client put on the request line
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	msg := r.Method + "\n" + uri + "\n" + f["timestamp"] + "\n" + f["nonce_str"] + "\n" + string(body) + "\n"
	sig, err := base64.StdEncoding.DecodeString(f["signature"])
	digest := sha256.Sum256([]byte(msg))
	if err != nil || rsa.VerifyPKCS1v15(e.keys.merchantPublic, crypto.SHA256, digest[:], sig) != nil {
		return "签名错误"
	}
	return ""
}

func (e *Emulator) wechatJSON(w http.ResponseWriter, status int, v any) {
	b, err := compactJSON(v)
	if err != nil {
		e.wechatError(w, http.StatusInternalServerError, "SYSTEM_ERROR", "encode answer")
		return
	}
	e.writeWechat(w, status, b)
}

// wxAnswer is a WeChat answer decided under the emulator's lock and signed and written after it
// is released, so RSA signing does not serialise every other request.
type wxAnswer struct {
	status int
	body   any // nil: no body (204)
}

func wxFail(status int, code, msg string) wxAnswer {
	return wxAnswer{status: status, body: wechatErr{Code: code, Message: msg}}
}

func (e *Emulator) answerWechat(w http.ResponseWriter, a wxAnswer) {
	if a.body == nil {
		e.writeWechat(w, a.status, nil)
		return
	}
	e.wechatJSON(w, a.status, a.body)
}

type wechatErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Emulator) wechatError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := compactJSON(wechatErr{Code: code, Message: msg})
	e.writeWechat(w, status, b)
}

// decodeBody decodes a JSON request body; unknown fields are allowed like the real API.
func decodeBody(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(v)
}
