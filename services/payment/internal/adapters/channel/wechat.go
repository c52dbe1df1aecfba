package channel

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-pay/crypto/xpem"
	"github.com/go-pay/gopay"
	wechat "github.com/go-pay/gopay/wechat/v3"

	"github.com/paysuite/paysuite/pkg/money"
	"github.com/paysuite/paysuite/services/payment/internal/app"
)

// WechatConfig are the WeChat Pay API v3 merchant credentials (WeChat Pay public-key mode).
type WechatConfig struct {
	MchID         string
	AppID         string
	SerialNo      string // merchant certificate serial number
	PrivateKey    string // merchant private key, PEM
	APIv3Key      string // 32 characters
	PublicKeyID   string // PUB_KEY_ID_…
	PublicKey     string // WeChat Pay public key, PEM
	BaseURL       string // e.g. the sandbox; empty = https://api.mch.weixin.qq.com
	NotifyURL     string // our /notify/wechat
	MaxNotifySkew time.Duration
	Timeout       time.Duration
}

// Wechat is one WeChat Pay v3 channel: Native (a QR code, NewWechat), JSAPI or H5
// (NewWechatJSAPI, NewWechatH5, in wechat_jsapi_h5.go). They share query, close, refund and notify.
type Wechat struct {
	cfg     WechatConfig
	product wechatProduct
	client  *wechat.ClientV3
	pub     *rsa.PublicKey
}

var _ app.Channel = (*Wechat)(nil)

// NewWechat builds the gopay v3 client; every answer is verified with the WeChat Pay public key.
func NewWechat(cfg WechatConfig) (*Wechat, error) {
	if cfg.MchID == "" || cfg.AppID == "" || cfg.SerialNo == "" || cfg.PrivateKey == "" || cfg.APIv3Key == "" ||
		cfg.PublicKeyID == "" || cfg.PublicKey == "" {
		return nil, errors.New("wechat: WECHAT_MCH_ID, WECHAT_APP_ID, WECHAT_SERIAL_NO, WECHAT_PRIVATE_KEY, WECHAT_API_V3_KEY, WECHAT_PUBLIC_KEY_ID and WECHAT_PUBLIC_KEY are required")
	}
	if len(cfg.APIv3Key) != 32 {
		return nil, errors.New("WECHAT_API_V3_KEY must be 32 characters")
	}
	c, err := wechat.NewClientV3(cfg.MchID, cfg.SerialNo, cfg.APIv3Key, armored(cfg.PrivateKey, "PRIVATE KEY"))
	if err != nil {
		return nil, fmt.Errorf("wechat merchant private key: %w", err)
	}
	pubPEM := armored(cfg.PublicKey, "PUBLIC KEY")
	if err := c.AutoVerifySignByPublicKey([]byte(pubPEM), cfg.PublicKeyID); err != nil {
		return nil, fmt.Errorf("wechat pay public key: %w", err)
	}
	pub, err := xpem.DecodePublicKey([]byte(pubPEM))
	if err != nil {
		return nil, fmt.Errorf("wechat pay public key: %w", err)
	}
	if cfg.BaseURL != "" {
		c.SetProxyHost(cfg.BaseURL)
	}
	if cfg.MaxNotifySkew == 0 {
		cfg.MaxNotifySkew = 5 * time.Minute
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Wechat{cfg: cfg, client: c, pub: pub}, nil
}

func (w *Wechat) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, w.cfg.Timeout)
}

func (w *Wechat) Prepay(ctx context.Context, req app.PrepayRequest) (app.Checkout, error) {
	ctx, cancel := w.ctx(ctx)
	defer cancel()
	bm := w.orderBody(req)
	switch w.product {
	case wechatJSAPI:
		return w.prepayJSAPI(ctx, req, bm)
	case wechatH5:
		return w.prepayH5(ctx, req, bm)
	}
	rsp, err := w.client.V3TransactionNative(ctx, bm)
	if err != nil {
		return app.Checkout{}, fmt.Errorf("wechat native %s: %w", req.OutTradeNo, err)
	}
	if rsp.Code != wechat.Success {
		return app.Checkout{}, fmt.Errorf("wechat native %s: HTTP %d %s %s", req.OutTradeNo, rsp.Code, rsp.ErrResponse.Code, rsp.ErrResponse.Message)
	}
	if rsp.Response.CodeUrl == "" {
		return app.Checkout{}, fmt.Errorf("wechat native %s: no code_url in the answer", req.OutTradeNo)
	}
	return app.Checkout{QRCode: rsp.Response.CodeUrl}, nil
}

// orderBody is what every v3 order request carries.
func (w *Wechat) orderBody(req app.PrepayRequest) gopay.BodyMap {
	bm := gopay.BodyMap{}
	bm.Set("appid", w.cfg.AppID).
		Set("mchid", w.cfg.MchID).
		Set("description", req.Subject).
		Set("out_trade_no", req.OutTradeNo).
		Set("time_expire", req.ExpireAt.In(cst).Format(time.RFC3339)).
		Set("notify_url", w.cfg.NotifyURL).
		SetBodyMap("amount", func(b gopay.BodyMap) {
			b.Set("total", int64(req.Amount)).Set("currency", "CNY")
		})
	return bm
}

func (w *Wechat) Query(ctx context.Context, outTradeNo string) (app.Trade, error) {
	ctx, cancel := w.ctx(ctx)
	defer cancel()
	rsp, err := w.client.V3TransactionQueryOrder(ctx, wechat.OutTradeNo, outTradeNo)
	if err != nil {
		return app.Trade{}, fmt.Errorf("wechat query %s: %w", outTradeNo, err)
	}
	if rsp.Code == http.StatusNotFound && rsp.ErrResponse.Code == "ORDER_NOT_EXIST" {
		return app.Trade{State: app.TradeWaiting, OutTradeNo: outTradeNo}, nil
	}
	if rsp.Code != wechat.Success {
		return app.Trade{}, fmt.Errorf("wechat query %s: HTTP %d %s %s", outTradeNo, rsp.Code, rsp.ErrResponse.Code, rsp.ErrResponse.Message)
	}
	r := rsp.Response
	if r.Mchid != w.cfg.MchID || r.OutTradeNo != outTradeNo {
		return app.Trade{}, fmt.Errorf("wechat query %s answered mchid %s trade %s", outTradeNo, r.Mchid, r.OutTradeNo)
	}
	t := app.Trade{OutTradeNo: outTradeNo, ProviderTradeNo: r.TransactionId}
	switch r.TradeState {
	case "SUCCESS", "REFUND":
		t.State = app.TradePaid
		if r.Amount == nil {
			return app.Trade{}, fmt.Errorf("wechat query %s: paid without amount", outTradeNo)
		}
		t.Amount = money.Fen(r.Amount.Total)
		t.PaidAt = parseRFC3339(r.SuccessTime)
	case "CLOSED", "REVOKED", "PAYERROR":
		t.State = app.TradeClosed
	default: // NOTPAY, USERPAYING
		t.State = app.TradeWaiting
	}
	return t, nil
}

func (w *Wechat) Close(ctx context.Context, outTradeNo string) error {
	ctx, cancel := w.ctx(ctx)
	defer cancel()
	rsp, err := w.client.V3TransactionCloseOrder(ctx, outTradeNo)
	if err != nil {
		return fmt.Errorf("wechat close %s: %w", outTradeNo, err)
	}
	switch {
	case rsp.Code == wechat.Success:
		return nil
	case rsp.ErrResponse.Code == "ORDERPAID":
		return app.ErrTradePaid
	case rsp.ErrResponse.Code == "ORDER_CLOSED", rsp.ErrResponse.Code == "ORDER_NOT_EXIST":
		return nil
	}
	return fmt.Errorf("wechat close %s: HTTP %d %s %s", outTradeNo, rsp.Code, rsp.ErrResponse.Code, rsp.ErrResponse.Message)
}

func (w *Wechat) Refund(ctx context.Context, req app.RefundRequest) (app.RefundState, error) {
	ctx, cancel := w.ctx(ctx)
	defer cancel()
	bm := gopay.BodyMap{}
	bm.Set("out_trade_no", req.OutTradeNo).
		Set("out_refund_no", req.OutRefundNo).
		Set("reason", req.Reason).
		SetBodyMap("amount", func(b gopay.BodyMap) {
			b.Set("refund", int64(req.Amount)).Set("total", int64(req.Total)).Set("currency", "CNY")
		})
	rsp, err := w.client.V3Refund(ctx, bm)
	if err != nil {
		return app.RefundPending, fmt.Errorf("wechat refund %s: %w", req.OutRefundNo, err)
	}
	if rsp.Code != wechat.Success {
		err := fmt.Errorf("wechat refund %s: HTTP %d %s %s", req.OutRefundNo, rsp.Code, rsp.ErrResponse.Code, rsp.ErrResponse.Message)
		if rsp.Code >= 400 && rsp.Code < 500 && rsp.Code != http.StatusTooManyRequests && rsp.Code != http.StatusUnauthorized {
			return app.RefundRejected, err
		}
		return app.RefundPending, err
	}
	return refundState(rsp.Response.Status), nil
}

func (w *Wechat) QueryRefund(ctx context.Context, _, outRefundNo string) (app.RefundState, error) {
	ctx, cancel := w.ctx(ctx)
	defer cancel()
	rsp, err := w.client.V3RefundQuery(ctx, outRefundNo, nil)
	if err != nil {
		return app.RefundPending, fmt.Errorf("wechat refund query %s: %w", outRefundNo, err)
	}
	if rsp.Code == http.StatusNotFound {
		return app.RefundUnknown, nil
	}
	if rsp.Code != wechat.Success {
		return app.RefundPending, fmt.Errorf("wechat refund query %s: HTTP %d %s", outRefundNo, rsp.Code, rsp.ErrResponse.Code)
	}
	return refundState(rsp.Response.Status), nil
}

func refundState(s string) app.RefundState {
	switch s {
	case "SUCCESS":
		return app.RefundDone
	case "CLOSED", "ABNORMAL":
		return app.RefundRejected
	}
	return app.RefundPending
}

// ParseNotify: V3ParseNotify → serial is our public key id → timestamp fresh → VerifySignByPK →
// DecryptPayCipherText → mchid/appid ours. Nothing is trusted before the signature holds.
func (w *Wechat) ParseNotify(msg app.NotifyMessage) (app.Notify, error) {
	req, err := wechat.V3ParseNotify(notifyRequest(msg))
	if err != nil {
		return app.Notify{}, refused("unreadable notify: "+err.Error(), "", "")
	}
	si := req.SignInfo
	if si.HeaderSerial != w.cfg.PublicKeyID {
		return app.Notify{}, refused("Wechatpay-Serial "+si.HeaderSerial+" is not our public key id", "", req.Id)
	}
	ts, err := strconv.ParseInt(si.HeaderTimestamp, 10, 64)
	if err != nil {
		return app.Notify{}, refused("bad Wechatpay-Timestamp", "", req.Id)
	}
	if skew := time.Since(time.Unix(ts, 0)); skew > w.cfg.MaxNotifySkew || skew < -w.cfg.MaxNotifySkew {
		return app.Notify{}, refused(fmt.Sprintf("Wechatpay-Timestamp off by %s", skew.Round(time.Second)), "", req.Id)
	}
	if err := req.VerifySignByPK(w.pub); err != nil {
		return app.Notify{}, refused("bad signature: "+err.Error(), "", req.Id)
	}
	if req.Id == "" {
		return app.Notify{}, refused("notify without id", "", "")
	}
	res, err := req.DecryptPayCipherText(w.cfg.APIv3Key)
	if err != nil {
		return app.Notify{}, refused("cannot decrypt resource", "", req.Id)
	}
	if res.Mchid != w.cfg.MchID {
		return app.Notify{}, refused("mchid "+res.Mchid+" is not ours", res.OutTradeNo, req.Id)
	}
	if res.Appid != w.cfg.AppID {
		return app.Notify{}, refused("appid "+res.Appid+" is not ours", res.OutTradeNo, req.Id)
	}
	n := app.Notify{NotifyID: req.Id, Trade: app.Trade{OutTradeNo: res.OutTradeNo, ProviderTradeNo: res.TransactionId}}
	if req.EventType == "TRANSACTION.SUCCESS" && res.TradeState == "SUCCESS" {
		if res.Amount == nil {
			return app.Notify{}, refused("success without amount", res.OutTradeNo, req.Id)
		}
		n.State = app.TradePaid
		n.Amount = money.Fen(res.Amount.Total)
		n.PaidAt = parseRFC3339(res.SuccessTime)
	} else {
		n.State = app.TradeWaiting
	}
	return n, nil
}

func parseRFC3339(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
