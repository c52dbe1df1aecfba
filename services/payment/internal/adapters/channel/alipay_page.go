package channel

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-pay/gopay"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/app"
)

// alipayProduct is which Alipay product a channel opens trades with.
type alipayProduct int

const (
	alipayPrecreate alipayProduct = iota // ALIPAY_QR: alipay.trade.precreate, a QR code
	alipayPage                           // ALIPAY_PAGE: alipay.trade.page.pay (FAST_INSTANT_TRADE_PAY)
	alipayWap                            // ALIPAY_WAP: alipay.trade.wap.pay (QUICK_WAP_WAY)
)

// returnMethod is the method name Alipay puts on the buyer's return to each product.
var returnMethod = map[alipayProduct]string{
	alipayPage: "alipay.trade.page.pay.return",
	alipayWap:  "alipay.trade.wap.pay.return",
}

// Page is ALIPAY_PAGE on a's client and keys: PC web page pay. Query, close, refund and notify
// are the QR channel's: the trade is an ordinary Alipay trade once the buyer logged in on the
// cashier.
func (a *Alipay) Page() *Alipay { return a.as(alipayPage) }

// Wap is ALIPAY_WAP on a's client and keys: mobile web WAP pay.
func (a *Alipay) Wap() *Alipay { return a.as(alipayWap) }

func (a *Alipay) as(p alipayProduct) *Alipay {
	c := *a
	c.product = p
	return &c
}

// prepayPage signs the page/WAP pay request. gopay makes no call: it returns the gateway URL the
// buyer's browser opens with every parameter in the query; its host is the real gateway's, so
// it is moved onto ALIPAY_CASHIER_BASE_URL or ALIPAY_BASE_URL (the sandbox in dev) here. The trade appears at Alipay only
// when the buyer logs in (until then query and close answer ACQ.TRADE_NOT_EXIST, read as
// "waiting" and "nothing to close", exactly as for an unscanned QR).
func (a *Alipay) prepayPage(ctx context.Context, req app.PrepayRequest) (app.Checkout, error) {
	bm := gopay.BodyMap{}
	bm.Set("out_trade_no", req.OutTradeNo).
		Set("total_amount", req.Amount.Yuan()).
		Set("subject", req.Subject).
		Set("time_expire", req.ExpireAt.In(cst).Format(shanghaiLayout))
	if ru := req.Payer.ReturnURL; ru != "" {
		bm.Set("return_url", ru) // gopay moves it to the public parameters
		if a.product == alipayWap {
			bm.Set("quit_url", ru) // where a buyer who gives up on the WAP cashier goes
		}
	}
	var (
		payURL string
		err    error
	)
	if a.product == alipayWap {
		payURL, err = a.client.TradeWapPay(ctx, bm)
	} else {
		payURL, err = a.client.TradePagePay(ctx, bm)
	}
	if err != nil {
		return app.Checkout{}, fmt.Errorf("alipay %s %s: %w", strings.TrimSuffix(returnMethod[a.product], ".return"), req.OutTradeNo, err)
	}
	payURL, err = a.rebase(payURL)
	if err != nil {
		return app.Checkout{}, err
	}
	return app.Checkout{PayURL: payURL}, nil
}

// rebase moves a gateway URL gopay built for the real host onto the configured cashier base.
func (a *Alipay) rebase(raw string) (string, error) {
	if a.cashier == nil {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("alipay payUrl from gopay: %w", err)
	}
	u.Scheme, u.Host = a.cashier.Scheme, a.cashier.Host
	if p := strings.TrimSuffix(a.cashier.Path, "/"); p != "" {
		u.Path = p + u.Path
	}
	return u.String(), nil
}

// VerifyReturn checks the synchronous return Alipay sends the buyer's browser to (GET
// return_url?…&sign=…): signed like a notify (every field but sign and sign_type, RSA2 with
// Alipay's key), our app id, this product's return method. It carries no trade_status: it says
// the buyer came back, never that they paid.
func (a *Alipay) VerifyReturn(query string) (app.ReturnClaim, error) {
	method, ok := returnMethod[a.product]
	if !ok {
		return app.ReturnClaim{}, app.ErrNoSignedReturn
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return app.ReturnClaim{}, fmt.Errorf("unreadable return parameters: %w", err)
	}
	f := singleValues(vals) // a repeated field is dropped, as for notifies
	switch {
	case f["sign"] == "":
		return app.ReturnClaim{}, errors.New("no signature")
	case f["sign_type"] != "RSA2":
		return app.ReturnClaim{}, fmt.Errorf("sign_type %q is not RSA2", f["sign_type"])
	}
	if err := a.verify(f); err != nil {
		return app.ReturnClaim{}, fmt.Errorf("bad signature: %w", err)
	}
	switch {
	case f["app_id"] != a.cfg.AppID:
		return app.ReturnClaim{}, fmt.Errorf("app_id %q is not ours", f["app_id"])
	case f["method"] != method:
		return app.ReturnClaim{}, fmt.Errorf("method %q is not %s", f["method"], method)
	}
	amt, err := money.ParseYuan(f["total_amount"])
	if err != nil {
		return app.ReturnClaim{}, fmt.Errorf("total_amount: %w", err)
	}
	return app.ReturnClaim{OutTradeNo: f["out_trade_no"], ProviderTradeNo: f["trade_no"], Amount: amt}, nil
}
