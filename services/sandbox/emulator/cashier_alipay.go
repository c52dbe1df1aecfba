package emulator

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The Alipay cashier of page pay and WAP pay (services/sandbox/README.md §1). gopay signs the payUrl and makes
// no call; the buyer's browser opens GET /gateway.do?<every param>. The sandbox verifies the
// signature (sign_type included in the signed string, as for any request), shows its cashier and
// keeps the trade invisible to query/close/refund until the buyer logs in (or pays). After paying,
// the browser is redirected to return_url with the signed synchronous parameters (no
// trade_status). A payUrl opened again shows the same trade.

var alipayProductCodes = map[string]string{ProductPage: "FAST_INSTANT_TRADE_PAY", ProductWap: "QUICK_WAP_WAY"}

func (e *Emulator) alipayCashierEntry(w http.ResponseWriter, params map[string]string, product string) {
	token, failure := e.openAlipayCashier(params, product)
	if failure != nil {
		e.log.Info("alipay cashier refused", "method", params["method"], "sub_code", failure.SubCode)
		renderCashierError(w, http.StatusBadRequest, failure.SubCode, failure.SubMsg)
		return
	}
	e.renderAlipayCashier(w, token, "")
}

// openAlipayCashier verifies page/WAP pay parameters and finds or creates their trade; it
// returns the trade's token.
func (e *Emulator) openAlipayCashier(params map[string]string, product string) (string, *alipayError) {
	fail := func(a alipayError) (string, *alipayError) { return "", &a }
	if failure := e.checkAlipayRequest(params, params["method"], true); failure != nil {
		return "", failure
	}
	req, failure := newAlipayRequest(params)
	if failure != nil {
		return "", failure
	}
	o, failure := checkAlipayOrder(req, e.now()) // page pay: timeout_express counts from when the cashier is shown
	switch {
	case failure != nil:
		return "", failure
	case req.str("product_code") != alipayProductCodes[product]:
		return fail(bizFailed("ACQ.INVALID_PARAMETER", "参数无效: product_code"))
	case params["return_url"] != "" && !validNotifyURL(strings.SplitN(params["return_url"], "?", 2)[0]):
		return fail(bizFailed("ACQ.INVALID_PARAMETER", "参数无效: return_url"))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.st.get(ProviderAlipay, o.outTradeNo); t != nil {
		if failure := e.sameAlipayOrderLocked(t, product, o); failure != nil {
			return "", failure
		}
		return t.Token, nil
	}
	t := e.newAlipayTrade(product, o, params)
	e.st.add(t)
	e.changedLocked(t)
	return t.Token, nil
}

// alipayReturnURL is where the browser goes after paying: return_url with the signed sync
// parameters (method=alipay.trade.page.pay.return / wap.pay.return, no trade_status). Empty when
// the merchant gave no return_url.
func (e *Emulator) alipayReturnURL(t Trade) string {
	if t.ReturnURL == "" {
		return ""
	}
	method := "alipay.trade.page.pay.return"
	if t.product() == ProductWap {
		method = "alipay.trade.wap.pay.return"
	}
	p := map[string]string{
		"charset": "utf-8", "out_trade_no": t.OutTradeNo, "method": method, "total_amount": yuan(t.AmountFen),
		"trade_no": t.TradeNo, "auth_app_id": t.AppID, "version": "1.0", "app_id": t.AppID, "sign_type": "RSA2",
		"seller_id": e.keys.sellerID, "timestamp": e.now().In(cst).Format(alipayTimeLayout),
	}
	p["sign"] = e.alipaySign([]byte(alipaySignContent(p, "sign", "sign_type")))
	q := url.Values{}
	for k, v := range p {
		q.Set(k, v)
	}
	sep := "?"
	if strings.Contains(t.ReturnURL, "?") {
		sep = "&"
	}
	return t.ReturnURL + sep + q.Encode()
}

func (e *Emulator) alipayCashierPage(w http.ResponseWriter, r *http.Request) {
	e.renderAlipayCashier(w, r.PathValue("token"), "")
}

// alipayCashierLogin: the buyer logs in on the cashier; from now on the trade exists at the
// gateway (query answers WAIT_BUYER_PAY, close closes it).
func (e *Emulator) alipayCashierLogin(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	e.mu.Lock()
	if t := e.cashierTradeLocked(token); t != nil {
		if t.State == StateNotPaid && !t.Scanned {
			e.scanLocked(t, "")
			e.changedLocked(t)
			e.watchExpiryLocked(t)
		}
	}
	e.mu.Unlock()
	http.Redirect(w, r, "/cashier/alipay/"+token, http.StatusSeeOther)
}

// alipayCashierPay: the buyer pays; the browser is sent to the return URL like Alipay does.
func (e *Emulator) alipayCashierPay(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	e.mu.Lock()
	t := e.cashierTradeLocked(token)
	if t == nil {
		e.mu.Unlock()
		renderCashierError(w, http.StatusNotFound, "TRADE_NOT_EXIST", "unknown cashier")
		return
	}
	status, msg := e.payTradeLocked(t, "")
	snap := t.clone()
	e.mu.Unlock()
	if status != http.StatusOK {
		e.renderAlipayCashier(w, token, msg)
		return
	}
	if to := e.alipayReturnURL(snap); to != "" {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	e.renderAlipayCashier(w, token, "")
}

type cashierView struct {
	Token, Product, Subject, OutTradeNo, Yuan, State, Error string
	LoggedIn                                                bool
}

// cashierTradeLocked is the page/WAP trade behind a cashier token, expired if its time is up.
func (e *Emulator) cashierTradeLocked(token string) *Trade {
	t := e.st.byToken(token)
	if t == nil || t.Provider != ProviderAlipay || isQR(t) {
		return nil
	}
	e.expireLocked(t)
	return t
}

func (e *Emulator) renderAlipayCashier(w http.ResponseWriter, token, problem string) {
	e.mu.Lock()
	t := e.cashierTradeLocked(token)
	if t == nil {
		e.mu.Unlock()
		renderCashierError(w, http.StatusNotFound, "TRADE_NOT_EXIST", "unknown cashier")
		return
	}
	v := cashierView{Token: token, Product: t.product(), Subject: t.Subject, OutTradeNo: t.OutTradeNo,
		Yuan: yuan(t.AmountFen), State: alipayStatus(t, e.now()), Error: problem, LoggedIn: t.Scanned}
	e.mu.Unlock()
	renderPage(w, alipayCashierTemplate, v, problem)
}

// renderPage writes a buyer page; a page that reports a problem (paying a closed trade) is 409.
func renderPage(w http.ResponseWriter, page *template.Template, v any, problem string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if problem != "" {
		w.WriteHeader(http.StatusConflict)
	}
	_ = page.Execute(w, v)
}

var alipayCashierTemplate = template.Must(template.New("alipay").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>支付宝 收银台 (sandbox)</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto;text-align:center}
button{font-size:1.2em;padding:.5em 2em;margin:.3em}</style></head><body>
<h2>支付宝 Alipay {{if eq .Product "wap"}}手机网站支付{{else}}电脑网站支付{{end}} (sandbox)</h2>
<p id="subject">{{.Subject}}</p><p id="amount" style="font-size:2em">¥ {{.Yuan}}</p>
<p>商户订单号 <span id="out-trade-no">{{.OutTradeNo}}</span></p>
<p id="state" class="{{.State}}">{{.State}}</p>
{{if .Error}}<p id="error" style="color:#c00">{{.Error}}</p>{{end}}
{{if eq .State "WAIT_BUYER_PAY"}}
{{if not .LoggedIn}}<form method="post" action="/cashier/alipay/{{.Token}}/login"><button id="login">登录 Log in</button></form>{{else}}<p id="logged-in">已登录 logged in</p>{{end}}
<form method="post" action="/cashier/alipay/{{.Token}}/pay"><button id="pay">确认付款 Pay</button></form>
{{end}}
</body></html>`))

var cashierErrorTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>错误 (sandbox)</title></head>
<body style="font-family:sans-serif;max-width:28em;margin:3em auto;text-align:center">
<h2>支付出错了 · payment error</h2><p>错误代码 <span id="error-code">{{.Code}}</span></p><p id="error">{{.Msg}}</p>
</body></html>`))

func renderCashierError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = cashierErrorTemplate.Execute(w, struct{ Code, Msg string }{code, msg})
}
