package payment_test

import (
	"errors"
	"testing"

	"github.com/paysuite/paysuite/services/payment/internal/domain/payment"
)

func TestReturnURLAllowlist(t *testing.T) {
	allow, err := payment.ParseReturnURLAllowlist(" https://Shop.example/pay/ , http://localhost:8080/result,https://other.example")
	if err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]bool{
		"https://shop.example/pay/result":                 true,
		"https://SHOP.example/pay/result?x=1":             true,
		"https://shop.example/pay/":                       true,
		"http://localhost:8080/result":                    true,
		"http://localhost:8080/result/ok":                 true,
		"https://other.example/anything":                  true,
		"https://other.example":                           true,
		"http://shop.example/pay/result":                  false, // scheme
		"https://shop.example:8443/pay/result":            false, // port
		"https://shop.example/payment":                    false, // not below /pay/
		"https://shop.example/pay/../admin":               false, // climbs out
		"https://shop.example/pay/%2e%2e/admin":           false,
		"http://localhost:8080/results":                   false, // a sibling, not below
		"https://shop.example.evil.example/pay/":          false,
		"https://evil.example/?https://shop.example/pay/": false,
		"https://user@shop.example/pay/result":            false, // credentials
		"https://shop.example/pay/result#frag":            false,
		"//shop.example/pay/result":                       false, // no scheme
		"javascript:alert(1)":                             false,
		"https://shop.example\\@evil.example/pay/":        false,
		"": false,
	} {
		if got := allow.Allows(raw); got != want {
			t.Errorf("Allows(%q) = %v, want %v", raw, got, want)
		}
	}
	if payment.ReturnURLAllowlist(nil).Allows("https://shop.example/pay/result") {
		t.Error("an empty allowlist allowed a return URL")
	}
	for _, bad := range []string{"shop.example/pay", "ftp://shop.example/", "https://shop.example/pay?x=1", "https://u@shop.example/"} {
		if _, err := payment.ParseReturnURLAllowlist(bad); err == nil {
			t.Errorf("allowlist entry %q accepted", bad)
		}
	}
}

func TestCheckPayer(t *testing.T) {
	allow, _ := payment.ParseReturnURLAllowlist("https://shop.example/pay/")
	for _, tc := range []struct {
		ch    payment.Channel
		payer payment.Payer
		want  error
	}{
		{payment.ChannelWechatJSAPI, payment.Payer{}, payment.ErrMissingOpenID},
		{payment.ChannelWechatJSAPI, payment.Payer{OpenID: "  "}, payment.ErrMissingOpenID},
		{payment.ChannelWechatJSAPI, payment.Payer{OpenID: "o123"}, nil},
		{payment.ChannelWechatH5, payment.Payer{}, payment.ErrMissingClientIP},
		{payment.ChannelWechatH5, payment.Payer{ClientIP: "203.0.113.300"}, payment.ErrMissingClientIP},
		{payment.ChannelWechatH5, payment.Payer{ClientIP: "2001:db8::1"}, nil},
		{payment.ChannelAlipayPage, payment.Payer{ReturnURL: "https://evil.example/"}, payment.ErrReturnURL},
		{payment.ChannelAlipayPage, payment.Payer{ReturnURL: "https://shop.example/pay/done"}, nil},
		{payment.ChannelAlipayPage, payment.Payer{}, nil},
		{payment.ChannelAlipayQR, payment.Payer{}, nil},
	} {
		err := tc.ch.CheckPayer(tc.payer, allow)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s %+v: %v, want %v", tc.ch, tc.payer, err, tc.want)
		}
		if err != nil && !errors.Is(err, payment.ErrInvalidInput) {
			t.Errorf("%s %+v: %v is not InvalidArgument", tc.ch, tc.payer, err)
		}
	}
}
