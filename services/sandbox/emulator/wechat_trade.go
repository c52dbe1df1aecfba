package emulator

import (
	"net"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// WeChat Pay v3 orders (Native, JSAPI, H5) and queries. Handlers run after wechatAuth.

var wechatOutNoPattern = regexp.MustCompile(`^[A-Za-z0-9_\-*|]{6,32}$`)

type wxAmountIn struct {
	Total    *int64 `json:"total"`
	Refund   *int64 `json:"refund"`
	Currency string `json:"currency"`
}

type prepayRequest struct {
	traceparent string      // the caller's W3C trace context (see Trade.Traceparent)
	AppID       string      `json:"appid"`
	MchID       string      `json:"mchid"`
	Description string      `json:"description"`
	OutTradeNo  string      `json:"out_trade_no"`
	TimeExpire  string      `json:"time_expire"`
	Attach      string      `json:"attach"`
	NotifyURL   string      `json:"notify_url"`
	Amount      *wxAmountIn `json:"amount"`
	Payer       *struct {
		OpenID string `json:"openid"`
	} `json:"payer"` // JSAPI
	SceneInfo *struct {
		PayerClientIP string `json:"payer_client_ip"`
		H5Info        *struct {
			Type string `json:"type"`
		} `json:"h5_info"`
	} `json:"scene_info"` // H5
}

// wechatPrepay serves POST /v3/pay/transactions/{native,jsapi,h5}: the same order fields, plus
// payer.openid (JSAPI) or scene_info.payer_client_ip and h5_info.type (H5). The answer is
// code_url, prepay_id (valid 2 h) or h5_url (valid 5 min); the same order sent again gets the same
// code_url, or a fresh prepay_id / h5_url.
func (e *Emulator) wechatPrepay(product string) wechatHandler {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		var in prepayRequest
		if err := decodeBody(body, &in); err != nil {
			e.wechatError(w, http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON: "+err.Error())
			return
		}
		in.traceparent = r.Header.Get("traceparent")
		now := e.now()
		expires, status, code, msg := e.checkPrepay(product, in, now)
		if code != "" {
			e.wechatError(w, status, code, msg)
			return
		}
		e.mu.Lock()
		a := e.prepayLocked(product, in, now, expires)
		e.mu.Unlock()
		e.answerWechat(w, a)
	}
}

func (e *Emulator) checkPrepay(product string, in prepayRequest, now time.Time) (expires time.Time, status int, code, msg string) {
	creds := e.keys.creds.Wechat
	bad := func(m string) (time.Time, int, string, string) {
		return time.Time{}, http.StatusBadRequest, "PARAM_ERROR", m
	}
	switch {
	case in.AppID == "" || in.MchID == "" || in.Description == "" || in.OutTradeNo == "" || in.NotifyURL == "" || in.Amount == nil || in.Amount.Total == nil:
		return bad("输入源“/body”映射到值字段时缺少必填参数")
	case product == ProductJSAPI && (in.Payer == nil || in.Payer.OpenID == ""):
		return bad("输入源“/body/payer/openid”映射到值字段时缺少必填参数")
	case product == ProductH5 && (in.SceneInfo == nil || in.SceneInfo.PayerClientIP == ""):
		return bad("输入源“/body/scene_info/payer_client_ip”映射到值字段时缺少必填参数")
	case product == ProductH5 && net.ParseIP(in.SceneInfo.PayerClientIP) == nil:
		return bad("scene_info.payer_client_ip 不是合法的IPv4或IPv6地址")
	case product == ProductH5 && (in.SceneInfo.H5Info == nil || in.SceneInfo.H5Info.Type == ""):
		return bad("输入源“/body/scene_info/h5_info/type”映射到值字段时缺少必填参数")
	case in.MchID != creds.MchID:
		return bad("mchid与请求头中的商户号不一致")
	case in.AppID != creds.AppID:
		return time.Time{}, http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配"
	case !wechatOutNoPattern.MatchString(in.OutTradeNo):
		return bad("out_trade_no 格式错误")
	case len([]rune(in.Description)) > 127:
		return bad("description 长度超限")
	case *in.Amount.Total < 1:
		return bad("amount.total 必须大于0")
	case in.Amount.Currency != "" && in.Amount.Currency != "CNY":
		return bad("amount.currency 仅支持CNY")
	case !validNotifyURL(in.NotifyURL):
		return bad("notify_url 格式错误")
	}
	expires = now.Add(defaultTradeTTL)
	if in.TimeExpire != "" {
		t, err := time.Parse(time.RFC3339, in.TimeExpire)
		if err != nil || !t.After(now) {
			return bad("time_expire 格式错误或已过期")
		}
		expires = t
	}
	return expires, 0, "", ""
}

func (e *Emulator) prepayLocked(product string, in prepayRequest, now, expires time.Time) wxAnswer {
	fen := *in.Amount.Total
	openID := ""
	if in.Payer != nil {
		openID = in.Payer.OpenID
	}
	t := e.st.get(ProviderWechat, in.OutTradeNo)
	if t != nil {
		e.expireLocked(t)
		switch {
		case t.State == StatePaid:
			return wxFail(http.StatusBadRequest, "ORDERPAID", "该订单已支付")
		case t.State == StateClosed:
			return wxFail(http.StatusBadRequest, "ORDER_CLOSED", "订单已关闭")
		case t.product() != product || t.AmountFen != fen || t.Subject != in.Description || t.NotifyURL != in.NotifyURL ||
			product == ProductJSAPI && t.BuyerID != openID:
			return wxFail(http.StatusForbidden, "OUT_TRADE_NO_USED", "商户订单号重复")
		}
	} else {
		t = &Trade{
			Provider: ProviderWechat, Product: product, OutTradeNo: in.OutTradeNo, TradeNo: wechatTransactionID(),
			AppID: in.AppID, MchID: in.MchID, AmountFen: fen, Subject: in.Description, Attach: in.Attach,
			NotifyURL: in.NotifyURL, Token: randHex(16), State: StateNotPaid, CreatedAt: now, ExpiresAt: expires,
			BuyerID: openID, Traceparent: in.traceparent,
		}
		e.st.add(t)
	}
	e.changedLocked(t)
	switch product {
	case ProductJSAPI:
		p := e.st.addPrepay(t, wechatPrepayID(now), now.Add(jsapiPrepayTTL))
		return wxAnswer{http.StatusOK, map[string]string{"prepay_id": p.ID}}
	case ProductH5:
		p := e.st.addPrepay(t, wechatPrepayID(now), now.Add(h5URLTTL))
		return wxAnswer{http.StatusOK, map[string]string{"h5_url": e.h5URL(p.ID)}}
	}
	return wxAnswer{http.StatusOK, map[string]string{"code_url": e.qrURL(t.Token)}}
}

func validNotifyURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == ""
}

type wxAmountOut struct {
	Total         int64  `json:"total"`
	PayerTotal    *int64 `json:"payer_total,omitempty"`
	Currency      string `json:"currency"`
	PayerCurrency string `json:"payer_currency"`
}

type wxPayer struct {
	OpenID string `json:"openid"`
}

// wxTransaction is both the query answer and the decrypted notify resource.
type wxTransaction struct {
	AppID          string      `json:"appid"`
	MchID          string      `json:"mchid"`
	OutTradeNo     string      `json:"out_trade_no"`
	TransactionID  string      `json:"transaction_id,omitempty"`
	TradeType      string      `json:"trade_type,omitempty"`
	TradeState     string      `json:"trade_state"`
	TradeStateDesc string      `json:"trade_state_desc"`
	BankType       string      `json:"bank_type,omitempty"`
	Attach         string      `json:"attach"`
	SuccessTime    string      `json:"success_time,omitempty"`
	Payer          *wxPayer    `json:"payer,omitempty"`
	Amount         wxAmountOut `json:"amount"`
}

// wechatView renders a trade; transaction_id, trade_type, payer and success_time exist only once
// paid, and a paid trade with any refund not CLOSED reads REFUND, like the real API.
func wechatView(t *Trade, now time.Time) wxTransaction {
	v := wxTransaction{
		AppID: t.AppID, MchID: t.MchID, OutTradeNo: t.OutTradeNo, Attach: t.Attach,
		Amount: wxAmountOut{Total: t.AmountFen, Currency: "CNY", PayerCurrency: "CNY"},
	}
	switch {
	case t.State == StatePaid:
		paid := t.AmountFen
		v.TransactionID, v.TradeType, v.BankType = t.TradeNo, t.product(), "OTHERS"
		v.SuccessTime = t.PaidAt.In(cst).Format(time.RFC3339)
		v.Payer, v.Amount.PayerTotal = &wxPayer{OpenID: t.BuyerID}, &paid
		v.TradeState, v.TradeStateDesc = "SUCCESS", "支付成功"
		for _, r := range t.Refunds {
			if r.statusAt(now) != RefundClosed {
				v.TradeState, v.TradeStateDesc = "REFUND", "转入退款"
			}
		}
	case t.State == StateClosed:
		v.TradeState, v.TradeStateDesc = "CLOSED", "订单已关闭"
	default:
		v.TradeState, v.TradeStateDesc = "NOTPAY", "订单未支付"
	}
	return v
}

func (e *Emulator) wechatQuery(w http.ResponseWriter, r *http.Request, _ []byte) {
	e.queryWechat(w, r, func() *Trade { return e.st.get(ProviderWechat, r.PathValue("no")) })
}

func (e *Emulator) wechatQueryByID(w http.ResponseWriter, r *http.Request, _ []byte) {
	e.queryWechat(w, r, func() *Trade {
		if t := e.st.byTradeNo(ProviderWechat, r.PathValue("id")); t != nil && t.State == StatePaid {
			return t
		}
		return nil
	})
}

func (e *Emulator) queryWechat(w http.ResponseWriter, r *http.Request, find func() *Trade) {
	if r.URL.Query().Get("mchid") != e.keys.creds.Wechat.MchID {
		e.wechatError(w, http.StatusBadRequest, "PARAM_ERROR", "mchid 缺失或与请求头中的商户号不一致")
		return
	}
	e.mu.Lock()
	a := e.queryWechatLocked(find)
	e.mu.Unlock()
	e.answerWechat(w, a)
}

func (e *Emulator) queryWechatLocked(find func() *Trade) wxAnswer {
	if take(&e.faults.FailQueries) {
		return wxFail(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
	}
	t := find()
	if t == nil {
		return wxFail(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	}
	e.expireLocked(t)
	return wxAnswer{http.StatusOK, wechatView(t, e.now())}
}
