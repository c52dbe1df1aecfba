// Package pbconv maps payment domain values to their proto enums, for both the gRPC port and
// the events adapter, which speak the same wire types.
package pbconv

import (
	paymentv1 "github.com/paysuite/paysuite/proto/gen/paysuite/payment/v1"
	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

// Channel maps a domain channel to the proto enum.
func Channel(c payment.Channel) paymentv1.Channel {
	switch c {
	case payment.ChannelAlipayQR:
		return paymentv1.Channel_ALIPAY_QR
	case payment.ChannelWechatNative:
		return paymentv1.Channel_WECHAT_NATIVE
	}
	return paymentv1.Channel_CHANNEL_UNSPECIFIED
}
