package service

import (
	"github.com/paysuite/paysuite/services/payment/internal/adapters/channel"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// newChannels builds every channel of each configured provider: ALIPAY_* gives ALIPAY_QR,
// ALIPAY_PAGE and ALIPAY_WAP; WECHAT_* gives WECHAT_NATIVE, WECHAT_JSAPI and WECHAT_H5. A
// provider's channels share one gopay client, its keys and its notify endpoints.
func newChannels(cfg Config, notifyBase string) (map[payment.Channel]app.Channel, error) {
	channels := map[payment.Channel]app.Channel{}
	if cfg.Alipay.AppID != "" {
		a, err := channel.NewAlipay(channel.AlipayConfig{
			AppID: cfg.Alipay.AppID, AppPrivateKey: cfg.Alipay.AppPrivateKey, AlipayPublicKey: cfg.Alipay.PublicKey,
			BaseURL: cfg.Alipay.BaseURL, CashierBaseURL: cfg.Alipay.CashierURL, NotifyURL: notifyBase + "/notify/alipay",
		})
		if err != nil {
			return nil, err
		}
		channels[payment.ChannelAlipayQR] = a
		channels[payment.ChannelAlipayPage] = a.Page()
		channels[payment.ChannelAlipayWap] = a.Wap()
	}
	if cfg.Wechat.MchID != "" {
		w := cfg.Wechat
		c, err := channel.NewWechat(channel.WechatConfig{
			MchID: w.MchID, AppID: w.AppID, SerialNo: w.SerialNo, PrivateKey: w.PrivateKey, APIv3Key: w.APIv3Key,
			PublicKeyID: w.PublicKeyID, PublicKey: w.PublicKey, BaseURL: w.BaseURL, NotifyURL: notifyBase + "/notify/wechat",
			RefundNotifyURL: notifyBase + "/notify/wechat/refund", VerifyMode: w.VerifyMode,
		})
		if err != nil {
			return nil, err
		}
		channels[payment.ChannelWechatNative] = c
		channels[payment.ChannelWechatJSAPI] = c.JSAPI()
		channels[payment.ChannelWechatH5] = c.H5()
	}
	return channels, nil
}
