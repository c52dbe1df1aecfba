package channel

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/alipay"

	"github.com/paysuite/paysuite/services/payment/internal/adapters/bill"
	"github.com/paysuite/paysuite/services/payment/internal/app"
	"github.com/paysuite/paysuite/services/payment/internal/domain/recon"
)

// Trade bills, downloaded through gopay's bill calls (PROVIDERS.md "Second wave" §6) and parsed
// by adapters/bill.

// maxBillBytes bounds a downloaded bill (compressed): a day of 1M rows is well below it.
const maxBillBytes = 512 << 20

// notReady says when to ask again: the providers build a day's bills by 09:00-10:00 the next day.
func notReady(day recon.Day, said string) error {
	retry := day.End().Add(10 * time.Hour)
	if now := time.Now(); retry.Before(now) {
		retry = now.Add(time.Hour)
	}
	return &recon.BillNotReadyError{Day: day, RetryAfter: retry, Provider: said}
}

var (
	_ app.BillSource = (*Alipay)(nil)
	_ app.BillSource = (*Wechat)(nil)
)

// FetchBill asks alipay.data.dataservice.bill.downloadurl.query for the day's trade bill and
// downloads the zip it points to (a plain GET, valid 30 s: gopay has no download helper).
func (a *Alipay) FetchBill(ctx context.Context, day recon.Day) (app.RawBill, error) {
	bm := make(gopay.BodyMap).Set("bill_type", "trade").Set("bill_date", day.String())
	rsp, err := a.client.DataBillDownloadUrlQuery(ctx, bm)
	if be, ok := alipay.IsBizError(err); ok && (be.SubCode == "isp.bill_not_exist" || strings.EqualFold(be.SubCode, "BILL_NOT_EXIST")) {
		return app.RawBill{}, notReady(day, be.SubCode+" "+be.SubMsg)
	}
	if err != nil {
		return app.RawBill{}, fmt.Errorf("alipay bill url: %w", err)
	}
	link := rsp.Response.BillDownloadUrl
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return app.RawBill{}, fmt.Errorf("alipay bill_download_url %q: %w", link, err)
	}
	res, err := a.download.Do(req)
	if err != nil {
		return app.RawBill{}, fmt.Errorf("alipay bill download: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBillBytes+1))
	if err != nil {
		return app.RawBill{}, fmt.Errorf("alipay bill download: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return app.RawBill{}, fmt.Errorf("alipay bill download: HTTP %d: %.200s", res.StatusCode, body)
	}
	if len(body) > maxBillBytes {
		return app.RawBill{}, &recon.BadBillError{Reason: "alipay bill over 512 MiB"}
	}
	return app.RawBill{Name: "alipay_" + day.Start.Format("20060102") + ".csv.zip", Body: body}, nil
}

// ParseBill reads the zip (GBK CSV inside).
func (a *Alipay) ParseBill(raw app.RawBill, fn func(recon.Row) error) (recon.Totals, error) {
	return bill.ParseAlipay(bytes.NewReader(raw.Body), int64(len(raw.Body)), fn)
}

// FetchBill asks GET /v3/bill/tradebill (ALL, GZIP) and downloads the file with
// V3BillDownLoadBill; the file is unsigned, so its SHA1 must be the hash_value the signed
// answer gave. A day without rows (NO_STATEMENT_EXIST) is an empty bill.
func (w *Wechat) FetchBill(ctx context.Context, day recon.Day) (app.RawBill, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*w.cfg.Timeout)
	defer cancel()
	bm := make(gopay.BodyMap).Set("bill_date", day.String()).Set("bill_type", "ALL").Set("tar_type", "GZIP")
	rsp, err := w.client.V3BillTradeBill(ctx, bm)
	if err != nil {
		return app.RawBill{}, fmt.Errorf("wechat tradebill: %w", err)
	}
	name := "wechat_" + day.Start.Format("20060102") + "_ALL.csv.gz"
	if rsp.Code != 0 {
		switch rsp.ErrResponse.Code {
		case "STATEMENT_CREATING":
			return app.RawBill{}, notReady(day, rsp.ErrResponse.Code+" "+rsp.ErrResponse.Message)
		case "NO_STATEMENT_EXIST":
			return app.RawBill{Name: name}, nil
		}
		return app.RawBill{}, fmt.Errorf("wechat tradebill: HTTP %d %s %s", rsp.Code, rsp.ErrResponse.Code, rsp.ErrResponse.Message)
	}
	t := rsp.Response
	if !strings.EqualFold(t.HashType, "SHA1") {
		return app.RawBill{}, &recon.BadBillError{Reason: "wechat bill hash_type " + t.HashType + " is not SHA1"}
	}
	body, err := w.client.V3BillDownLoadBill(ctx, t.DownloadUrl)
	if err != nil {
		return app.RawBill{}, fmt.Errorf("wechat bill download: %w", err)
	}
	if err := checkSHA1(body, t.HashValue); err != nil {
		return app.RawBill{}, err
	}
	return app.RawBill{Name: name, Body: body, Hash: strings.ToLower(t.HashValue)}, nil
}

// checkSHA1 compares the SHA1 of the uncompressed file with the provider's hash_value.
func checkSHA1(gz []byte, want string) error {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return &recon.BadBillError{Reason: "wechat bill is not gzip: " + err.Error()}
	}
	h := sha1.New()
	if _, err := io.Copy(h, zr); err != nil {
		return &recon.BadBillError{Reason: "wechat bill gzip: " + err.Error()}
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
		return &recon.BadBillError{Reason: fmt.Sprintf("wechat bill SHA1 %s is not the hash_value %s the provider signed", got, want)}
	}
	return nil
}

// ParseBill gunzips and reads the CSV.
func (w *Wechat) ParseBill(raw app.RawBill, fn func(recon.Row) error) (recon.Totals, error) {
	if len(raw.Body) == 0 {
		return recon.Totals{}, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw.Body))
	if err != nil {
		return recon.Totals{}, &recon.BadBillError{Reason: "wechat bill is not gzip: " + err.Error()}
	}
	return bill.ParseWechat(zr, fn)
}
