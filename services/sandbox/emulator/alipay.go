package emulator

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Alipay classic openapi gateway (/gateway.do), RSA2 public-key mode.

// alipayAnswer is the inner object of `{"<method>_response":{...},"sign":"..."}`.
type alipayAnswer = any

// alipayError is the inner object of every failed answer.
type alipayError struct {
	Code    string `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code,omitempty"`
	SubMsg  string `json:"sub_msg,omitempty"`
}

func bizFailed(subCode, subMsg string) alipayError {
	return alipayError{Code: "40004", Msg: "Business Failed", SubCode: subCode, SubMsg: subMsg}
}

func invalidArgs(subCode, subMsg string) alipayError {
	return alipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: subCode, SubMsg: subMsg}
}

func missingArgs(subCode, subMsg string) alipayError {
	return alipayError{Code: "40001", Msg: "Missing Required Arguments", SubCode: subCode, SubMsg: subMsg}
}

type alipayMethod func(e *Emulator, req alipayRequest) alipayAnswer

var alipayMethods = map[string]alipayMethod{
	"alipay.trade.precreate":                         (*Emulator).alipayPrecreate,
	"alipay.trade.query":                             (*Emulator).alipayQuery,
	"alipay.trade.close":                             (*Emulator).alipayClose,
	"alipay.trade.refund":                            (*Emulator).alipayRefund,
	"alipay.trade.fastpay.refund.query":              (*Emulator).alipayRefundQuery,
	"alipay.data.dataservice.bill.downloadurl.query": (*Emulator).alipayBillURL,
}

// alipayPageMethods are opened by the buyer's browser (gopay signs the URL, makes no call): the
// gateway answers with its cashier page instead of JSON.
var alipayPageMethods = map[string]string{
	"alipay.trade.page.pay": ProductPage,
	"alipay.trade.wap.pay":  ProductWap,
}

// alipayRequest is a verified gateway call.
type alipayRequest struct {
	params      map[string]string // public parameters
	biz         map[string]any    // biz_content
	traceparent string            // the caller's W3C trace context (see Trade.Traceparent)
}

func (r alipayRequest) str(key string) string {
	switch v := r.biz[key].(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	default:
		return ""
	}
}

func (e *Emulator) alipayGateway(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		e.writeAlipay(w, "error_response", invalidArgs("isv.invalid-parameter", "cannot parse form: "+err.Error()))
		return
	}
	// Parameters may come in the body or the query string (gopay puts charset in both).
	params := map[string]string{}
	for k, v := range r.PostForm {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	for k, v := range r.URL.Query() {
		if _, ok := params[k]; !ok && len(v) > 0 {
			params[k] = v[0]
		}
	}
	method := params["method"]
	if product, ok := alipayPageMethods[method]; ok {
		e.alipayCashierEntry(w, params, product)
		return
	}
	handler, known := alipayMethods[method]
	respKey := "error_response"
	if known {
		respKey = strings.ReplaceAll(method, ".", "_") + "_response"
	}
	if failure := e.checkAlipayRequest(params, method, known); failure != nil {
		e.log.Info("alipay request refused", "method", method, "sub_code", failure.SubCode)
		e.writeAlipay(w, respKey, *failure)
		return
	}
	req, failure := newAlipayRequest(params)
	if failure != nil {
		e.writeAlipay(w, respKey, *failure)
		return
	}
	req.traceparent = r.Header.Get("traceparent")
	e.writeAlipay(w, respKey, handler(e, req))
}

// newAlipayRequest decodes biz_content of a verified call.
func newAlipayRequest(params map[string]string) (alipayRequest, *alipayError) {
	req := alipayRequest{params: params, biz: map[string]any{}}
	if bc := params["biz_content"]; bc != "" {
		dec := json.NewDecoder(strings.NewReader(bc))
		dec.UseNumber()
		if err := dec.Decode(&req.biz); err != nil {
			failure := invalidArgs("isv.invalid-parameter", "biz_content is not a JSON object")
			return req, &failure
		}
	}
	return req, nil
}

// checkAlipayRequest applies the gateway's public-parameter and signature checks, in the order
// the real gateway reports them.
func (e *Emulator) checkAlipayRequest(p map[string]string, method string, known bool) *alipayError {
	fail := func(a alipayError) *alipayError { return &a }
	switch {
	case method == "":
		return fail(missingArgs("isv.missing-method", "缺少方法名参数"))
	case !known:
		return fail(invalidArgs("isv.invalid-method", "不存在的方法名"))
	case p["app_id"] == "":
		return fail(missingArgs("isv.missing-app-id", "缺少AppID参数"))
	case p["app_id"] != e.keys.creds.Alipay.AppID:
		return fail(invalidArgs("isv.invalid-app-id", "无效的AppID参数"))
	case p["sign"] == "":
		return fail(missingArgs("isv.missing-signature", "缺少签名参数"))
	case p["sign_type"] != "RSA2":
		return fail(invalidArgs("isv.invalid-signature-type", "无效的签名类型"))
	case p["charset"] != "" && !strings.EqualFold(p["charset"], "utf-8"):
		return fail(invalidArgs("isv.invalid-charset", "字符集错误"))
	case p["timestamp"] == "":
		return fail(missingArgs("isv.missing-timestamp", "缺少时间戳参数"))
	}
	if _, err := time.ParseInLocation(alipayTimeLayout, p["timestamp"], cst); err != nil {
		return fail(invalidArgs("isv.invalid-timestamp", "非法的时间戳参数"))
	}
	sig, err := base64.StdEncoding.DecodeString(p["sign"])
	digest := sha256.Sum256([]byte(alipaySignContent(p, "sign")))
	if err != nil || rsa.VerifyPKCS1v15(e.keys.appPublic, crypto.SHA256, digest[:], sig) != nil {
		return fail(invalidArgs("isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配"))
	}
	return nil
}

// alipaySignContent is every non-empty parameter except the excluded ones, sorted by key,
// joined as k=v&k=v without URL encoding.
func alipaySignContent(p map[string]string, exclude ...string) string {
	keys := make([]string, 0, len(p))
outer:
	for k, v := range p {
		if v == "" {
			continue
		}
		for _, x := range exclude {
			if k == x {
				continue outer
			}
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(p[k])
	}
	return b.String()
}

// writeAlipay writes `{"<key>":<inner>,"sign":"<sig>"}` with the signature over exactly the
// inner bytes, which is what gopay cuts out between `_response":` and `,"sign":`.
func (e *Emulator) writeAlipay(w http.ResponseWriter, respKey string, inner alipayAnswer) {
	raw, err := compactJSON(inner)
	if err != nil {
		http.Error(w, "encode answer", http.StatusInternalServerError)
		return
	}
	sig := e.alipaySign(raw)
	var b bytes.Buffer
	b.WriteString(`{"`)
	b.WriteString(respKey)
	b.WriteString(`":`)
	b.Write(raw)
	b.WriteString(`,"sign":"`)
	b.WriteString(sig)
	b.WriteString(`"}`)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

func (e *Emulator) alipaySign(data []byte) string {
	return rsaSign(e.keys.alipayPrivate, data)
}

func rsaSign(k *rsa.PrivateKey, data []byte) string {
	digest := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	if err != nil {
		panic(err) // only fails for a broken key, which New refuses
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// compactJSON marshals without HTML escaping and without the encoder's trailing newline.
func compactJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
