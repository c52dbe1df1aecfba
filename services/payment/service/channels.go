package service

import (
	"github.com/paysuite/paysuite/services/payment/internal/adapters/channel"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// newChannels builds every channel of each configured provider: ALIPAY_* gives ALIPAY_QR,
// ALIPAY_PAGE and ALIPAY_WAP; WECHAT_* gives WECHAT_NATIVE, WECHAT_JSAPI and WECHAT_H5. A
// provider's channels share its keys and its notify endpoint.
func newChannels(cfg Config, notifyBase string) (map[payment.Channel]app.Channel, error) {
	channels := map[payment.Channel]app.Channel{}
	if cfg.Alipay.AppID != "" {
		ac := channel.AlipayConfig{
			AppID: cfg.Alipay.AppID, AppPrivateKey: cfg.Alipay.AppPrivateKey, AlipayPublicKey: cfg.Alipay.PublicKey,
			BaseURL: cfg.Alipay.BaseURL, CashierBaseURL: cfg.Alipay.CashierURL, NotifyURL: notifyBase + "/notify/alipay",
		}
		for ch, build := range map[payment.Channel]func(channel.AlipayConfig) (*channel.Alipay, error){
			payment.ChannelAlipayQR: channel.NewAlipay, payment.ChannelAlipayPage: channel.NewAlipayPage,
			payment.ChannelAlipayWap: channel.NewAlipayWap,
		} {
			c, err := build(ac)
			if err != nil {
				return nil, err
			}
			channels[ch] = c
		}
	}
	if cfg.Wechat.MchID != "" {
		w := cfg.Wechat
		wc := channel.WechatConfig{
			MchID: w.MchID, AppID: w.AppID, SerialNo: w.SerialNo, PrivateKey: w.PrivateKey, APIv3Key: w.APIv3Key,
			PublicKeyID: w.PublicKeyID, PublicKey: w.PublicKey, BaseURL: w.BaseURL, NotifyURL: notifyBase + "/notify/wechat",
		}
		for ch, build := range map[payment.Channel]func(channel.WechatConfig) (*channel.Wechat, error){
			payment.ChannelWechatNative: channel.NewWechat, payment.ChannelWechatJSAPI: channel.NewWechatJSAPI,
			payment.ChannelWechatH5: channel.NewWechatH5,
		} {
			c, err := build(wc)
			if err != nil {
				return nil, err
			}
			channels[ch] = c
		}
	}
	return channels, nil
}
