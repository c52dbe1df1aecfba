package channel

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/alipay"
)

// notifyForm and signContent replace alipay.ParseNotifyToBodyMap and the canonical string of
// alipay.VerifySign; on any form they must read the same fields and sign the same bytes.
func TestNotifyFormAndSignContentMatchGopay(t *testing.T) {
	for _, c := range []struct{ target, contentType, body string }{
		{"/notify/alipay", "application/x-www-form-urlencoded", "b=2&a=1&sign=c2ln&sign_type=RSA2&notify_id=n1&subject=%E8%AF%BE+x%26y%3D"},
		{"/notify/alipay", "application/x-www-form-urlencoded; charset=utf-8", "a=1&a=2&b=&c=3&empty&sign=x"}, // repeated, empty, bare key
		{"/notify/alipay?q=1&a=9", "application/x-www-form-urlencoded", "a=1&z=%3D%26"},                       // query fields join the form
		{"/notify/alipay?only=query", "text/plain", "a=1"},                                                    // body not a form
		{"/notify/alipay", "application/x-www-form-urlencoded", "a=%zz"},                                      // unreadable
		{"/notify/alipay", "application/x-www-form-urlencoded", ""},
	} {
		r1 := httptest.NewRequest("POST", c.target, strings.NewReader(c.body))
		r1.Header.Set("Content-Type", c.contentType)
		r2 := httptest.NewRequest("POST", c.target, strings.NewReader(c.body))
		r2.Header.Set("Content-Type", c.contentType)
		matchesGopay(t, r1, r2)
	}
}

// matchesGopay fails t unless notifyForm reads r1 as gopay's ParseNotifyToBodyMap reads r2 (the
// same request twice) and signContent signs what gopay signs.
func matchesGopay(t *testing.T, r1, r2 *http.Request) {
	t.Helper()
	got, gotErr := notifyForm(r1)
	bm, wantErr := alipay.ParseNotifyToBodyMap(r2)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%s: error %v, gopay %v", r1.URL, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	want := map[string]string{}
	for k := range bm {
		want[k] = bm.GetString(k)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: fields %v, gopay %v", r1.URL, got, want)
	}
	rest := make(gopay.BodyMap)
	for k, v := range bm {
		if k != "sign" && k != "sign_type" {
			rest[k] = v
		}
	}
	if s, w := signContent(got), rest.EncodeAliPaySignParams(); s != w {
		t.Fatalf("%s: signs %q, gopay %q", r1.URL, s, w)
	}
}
