package channel

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-pay/gopay"
	wechat "github.com/go-pay/gopay/wechat/v3"

	"github.com/paysuite/paysuite/services/payment/internal/app"
)

// wechatProduct is which WeChat Pay v3 product a channel orders with.
type wechatProduct int

const (
	wechatNative wechatProduct = iota // WECHAT_NATIVE: code_url, shown as a QR code
	wechatJSAPI                       // WECHAT_JSAPI: prepay_id, signed for getBrandWCPayRequest
	wechatH5                          // WECHAT_H5: h5_url, the mobile cashier
)

// JSAPI is WECHAT_JSAPI on w's client and keys: payment inside WeChat for the payer's openid.
// Query, close, refund and notify are Native's (its notifies say trade_type JSAPI).
func (w *Wechat) JSAPI() *Wechat { return w.as(wechatJSAPI) }

// H5 is WECHAT_H5 on w's client and keys: payment from a phone's browser (trade_type MWEB).
func (w *Wechat) H5() *Wechat { return w.as(wechatH5) }

func (w *Wechat) as(p wechatProduct) *Wechat {
	c := *w
	c.product = p
	return &c
}

// prepayJSAPI orders for payer.openid and signs the front-end parameters with the merchant key
// (gopay PaySignOfJSAPI: RSA-SHA256 over appId, timeStamp, nonceStr, package). A prepay_id lives
// 2 hours; the same order sent again gets a fresh one, so each CreatePayment signs anew.
func (w *Wechat) prepayJSAPI(ctx context.Context, req app.PrepayRequest, bm gopay.BodyMap) (app.Checkout, error) {
	bm.SetBodyMap("payer", func(b gopay.BodyMap) { b.Set("openid", req.Payer.OpenID) })
	rsp, err := w.client.V3TransactionJsapi(ctx, bm)
	if err != nil {
		return app.Checkout{}, fmt.Errorf("wechat jsapi %s: %w", req.OutTradeNo, err)
	}
	if rsp.Code != wechat.Success {
		return app.Checkout{}, fmt.Errorf("wechat jsapi %s: HTTP %d %s %s", req.OutTradeNo, rsp.Code, rsp.ErrResponse.Code, rsp.ErrResponse.Message)
	}
	if rsp.Response == nil || rsp.Response.PrepayId == "" {
		return app.Checkout{}, fmt.Errorf("wechat jsapi %s: no prepay_id in the answer", req.OutTradeNo)
	}
	p, err := w.client.PaySignOfJSAPI(w.cfg.AppID, rsp.Response.PrepayId)
	if err != nil {
		return app.Checkout{}, fmt.Errorf("wechat jsapi %s: signing the front-end parameters: %w", req.OutTradeNo, err)
	}
	return app.Checkout{JSAPI: &app.JSAPIParams{AppID: p.AppId, TimeStamp: p.TimeStamp, NonceStr: p.NonceStr,
		Package: p.Package, SignType: p.SignType, PaySign: p.PaySign}}, nil
}

// prepayH5 orders with the buyer's IP and an h5_info of type Wap; the h5_url lives 5 minutes.
// The return URL goes on as &redirect_url=, where WeChat sends the browser when the buyer
// finishes, cancels, or after a few seconds: arriving there says nothing about payment.
func (w *Wechat) prepayH5(ctx context.Context, req app.PrepayRequest, bm gopay.BodyMap) (app.Checkout, error) {
	bm.SetBodyMap("scene_info", func(b gopay.BodyMap) {
		b.Set("payer_client_ip", req.Payer.ClientIP).
			SetBodyMap("h5_info", func(h gopay.BodyMap) { h.Set("type", "Wap") })
	})
	rsp, err := w.client.V3TransactionH5(ctx, bm)
	if err != nil {
		return app.Checkout{}, fmt.Errorf("wechat h5 %s: %w", req.OutTradeNo, err)
	}
	if rsp.Code != wechat.Success {
		return app.Checkout{}, fmt.Errorf("wechat h5 %s: HTTP %d %s %s", req.OutTradeNo, rsp.Code, rsp.ErrResponse.Code, rsp.ErrResponse.Message)
	}
	if rsp.Response == nil || rsp.Response.H5Url == "" {
		return app.Checkout{}, fmt.Errorf("wechat h5 %s: no h5_url in the answer", req.OutTradeNo)
	}
	payURL := rsp.Response.H5Url
	if ru := req.Payer.ReturnURL; ru != "" {
		sep := "&"
		if !strings.Contains(payURL, "?") {
			sep = "?"
		}
		payURL += sep + "redirect_url=" + url.QueryEscape(ru)
	}
	return app.Checkout{PayURL: payURL}, nil
}

// VerifyReturn: WeChat sends the browser to redirect_url without parameters; there is nothing
// to verify, and the result page asks the payment service.
func (w *Wechat) VerifyReturn(string) (app.ReturnClaim, error) {
	return app.ReturnClaim{}, app.ErrNoSignedReturn
}
