package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ackRecorder sits between the sandbox and the payment service's notify endpoints and records,
// per out_trade_no, when the payment service acknowledged a notify (the moment the provider
// considers it delivered): Alipay's bare "success", WeChat's 2xx.
type ackRecorder struct {
	target   string // payment HTTP base URL
	apiV3Key []byte // to read out_trade_no from WeChat's encrypted resource
	client   *http.Client

	mu    sync.Mutex
	acked map[string]time.Time
}

func newAckRecorder(target, apiV3Key string) *ackRecorder {
	return &ackRecorder{target: target, apiV3Key: []byte(apiV3Key), acked: map[string]time.Time{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

func (a *ackRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, a.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := a.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	at := time.Now()
	ok := resp.StatusCode/100 == 2
	if strings.HasPrefix(r.URL.Path, "/notify/alipay") {
		ok = ok && strings.TrimSpace(string(answer)) == "success"
	}
	if no := a.outTradeNo(r.URL.Path, body); ok && no != "" {
		a.mu.Lock()
		if _, seen := a.acked[no]; !seen {
			a.acked[no] = at
		}
		a.mu.Unlock()
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

func (a *ackRecorder) ackedAt(outTradeNo string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.acked[outTradeNo]
	return t, ok
}

func (a *ackRecorder) outTradeNo(path string, body []byte) string {
	if strings.HasPrefix(path, "/notify/alipay") {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return ""
		}
		return v.Get("out_trade_no")
	}
	var n struct {
		Resource struct {
			Ciphertext     string `json:"ciphertext"`
			Nonce          string `json:"nonce"`
			AssociatedData string `json:"associated_data"`
		} `json:"resource"`
	}
	if json.Unmarshal(body, &n) != nil {
		return ""
	}
	ct, err := base64.StdEncoding.DecodeString(n.Resource.Ciphertext)
	if err != nil {
		return ""
	}
	block, err := aes.NewCipher(a.apiV3Key)
	if err != nil {
		return ""
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return ""
	}
	plain, err := gcm.Open(nil, []byte(n.Resource.Nonce), ct, []byte(n.Resource.AssociatedData))
	if err != nil {
		return ""
	}
	var tx struct {
		OutTradeNo string `json:"out_trade_no"`
	}
	_ = json.Unmarshal(plain, &tx)
	return tx.OutTradeNo
}
