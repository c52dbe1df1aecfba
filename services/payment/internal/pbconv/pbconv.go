// Package pbconv maps payment domain values to their proto enums, for both the gRPC port and
// the events adapter, which speak the same wire types.
package pbconv

import (
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

var channels = map[payment.Channel]paymentv1.Channel{
	payment.ChannelAlipayQR:     paymentv1.Channel_ALIPAY_QR,
	payment.ChannelAlipayPage:   paymentv1.Channel_ALIPAY_PAGE,
	payment.ChannelAlipayWap:    paymentv1.Channel_ALIPAY_WAP,
	payment.ChannelWechatNative: paymentv1.Channel_WECHAT_NATIVE,
	payment.ChannelWechatJSAPI:  paymentv1.Channel_WECHAT_JSAPI,
	payment.ChannelWechatH5:     paymentv1.Channel_WECHAT_H5,
}

// Channel maps a domain channel to the proto enum (CHANNEL_UNSPECIFIED for an unknown one).
func Channel(c payment.Channel) paymentv1.Channel { return channels[c] }

// ChannelFromProto maps the proto enum to a domain channel ("" for UNSPECIFIED or unknown).
func ChannelFromProto(c paymentv1.Channel) payment.Channel {
	for d, p := range channels {
		if p == c {
			return d
		}
	}
	return ""
}
