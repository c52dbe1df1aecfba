package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// MerchantCredentials is what a merchant downloads from both providers' consoles; it is the exact
// shape of KeysDir/merchant.json (README, "Reference: Sandbox and merchant.json"). Keys are PEM text: private keys PKCS#8
// ("BEGIN PRIVATE KEY"), public keys PKIX ("BEGIN PUBLIC KEY").
type MerchantCredentials struct {
	Alipay AlipayCredentials `json:"alipay"`
	Wechat WechatCredentials `json:"wechat"`
}

// AlipayCredentials are the Alipay open platform app credentials (public-key mode, RSA2).
type AlipayCredentials struct {
	AppID           string `json:"appId"`
	AppPrivateKey   string `json:"appPrivateKey"`
	AppPublicKey    string `json:"appPublicKey"`
	AlipayPublicKey string `json:"alipayPublicKey"`
}

// WechatCredentials are the WeChat Pay API v3 merchant credentials (WeChat Pay public-key mode).
type WechatCredentials struct {
	MchID                string `json:"mchId"`
	AppID                string `json:"appId"`
	MerchantSerialNo     string `json:"merchantSerialNo"`
	MerchantPrivateKey   string `json:"merchantPrivateKey"`
	APIv3Key             string `json:"apiV3Key"`
	WechatPayPublicKeyID string `json:"wechatPayPublicKeyId"`
	WechatPayPublicKey   string `json:"wechatPayPublicKey"`
}

// platformSecrets is the providers' side: what never leaves the sandbox (KeysDir/sandbox.json).
type platformSecrets struct {
	AlipayPrivateKey    string `json:"alipayPlatformPrivateKey"`
	AlipaySellerID      string `json:"alipaySellerId"`
	WechatPayPrivateKey string `json:"wechatPayPrivateKey"`
	// The WeChat Pay platform certificate and its key (certificate mode); added to key dirs made
	// before certificate mode existed at their next start.
	WechatCertPrivateKey string `json:"wechatPlatformCertPrivateKey,omitempty"`
	WechatCert           string `json:"wechatPlatformCert,omitempty"`
}

const (
	merchantFile = "merchant.json"
	secretsFile  = "sandbox.json"
)

// keyring holds the parsed keys the emulator signs and verifies with.
type keyring struct {
	creds          MerchantCredentials
	sellerID       string
	appPublic      *rsa.PublicKey  // verifies Alipay requests
	alipayPrivate  *rsa.PrivateKey // signs Alipay answers and notifies
	merchantPublic *rsa.PublicKey  // verifies WeChat Authorization headers
	wechatPrivate  *rsa.PrivateKey // signs WeChat answers and notifies (public-key mode)
	wechatCert     *platformCert   // signs them in certificate mode
}

// LoadMerchantFile reads a merchant.json written by the sandbox.
func LoadMerchantFile(path string) (MerchantCredentials, error) {
	var c MerchantCredentials
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("parse %s: %w", path, err)
	}
	if c.Alipay.AppID == "" || c.Wechat.MchID == "" {
		return c, fmt.Errorf("%s: missing alipay.appId or wechat.mchId", path)
	}
	return c, nil
}

// loadOrCreateKeys reuses the keys in dir, or generates a fresh set when dir holds none.
func loadOrCreateKeys(dir string) (*keyring, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	mPath, sPath := filepath.Join(dir, merchantFile), filepath.Join(dir, secretsFile)
	_, mErr := os.Stat(mPath)
	_, sErr := os.Stat(sPath)
	switch {
	case errors.Is(mErr, fs.ErrNotExist) && errors.Is(sErr, fs.ErrNotExist):
		return generateKeys(mPath, sPath)
	case mErr != nil || sErr != nil:
		return nil, fmt.Errorf("keys dir %s is incomplete (need both %s and %s); delete it to regenerate", dir, merchantFile, secretsFile)
	}
	creds, err := LoadMerchantFile(mPath)
	if err != nil {
		return nil, err
	}
	var sec platformSecrets
	b, err := os.ReadFile(sPath)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &sec); err != nil {
		return nil, fmt.Errorf("parse %s: %w", sPath, err)
	}
	if sec.WechatCert == "" {
		if sec.WechatCertPrivateKey, sec.WechatCert, err = newPlatformCert(time.Now()); err != nil {
			return nil, err
		}
		if err := writeJSONAtomic(sPath, sec, 0o600); err != nil {
			return nil, err
		}
	}
	return parseKeyring(creds, sec)
}

func generateKeys(mPath, sPath string) (*keyring, error) {
	keys := make([]*rsa.PrivateKey, 4) // app, alipay platform, wechat merchant, wechat pay
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	creds := MerchantCredentials{
		Alipay: AlipayCredentials{
			AppID:           "2021" + randDigits(12),
			AppPrivateKey:   privatePEM(keys[0]),
			AppPublicKey:    publicPEM(&keys[0].PublicKey),
			AlipayPublicKey: publicPEM(&keys[1].PublicKey),
		},
		Wechat: WechatCredentials{
			MchID:                "16" + randDigits(8),
			AppID:                "wx" + randHex(8),
			MerchantSerialNo:     randUpperHex(20),
			MerchantPrivateKey:   privatePEM(keys[2]),
			APIv3Key:             randAlnum(32),
			WechatPayPublicKeyID: "PUB_KEY_ID_01" + randDigits(30),
			WechatPayPublicKey:   publicPEM(&keys[3].PublicKey),
		},
	}
	sec := platformSecrets{
		AlipayPrivateKey:    privatePEM(keys[1]),
		AlipaySellerID:      "2088" + randDigits(12),
		WechatPayPrivateKey: privatePEM(keys[3]),
	}
	var err error
	if sec.WechatCertPrivateKey, sec.WechatCert, err = newPlatformCert(time.Now()); err != nil {
		return nil, err
	}
	// Secrets first: a crash in between leaves an "incomplete" dir that New reports, never
	// a merchant.json whose platform keys are lost.
	if err := writeJSONAtomic(sPath, sec, 0o600); err != nil {
		return nil, err
	}
	// merchant.json is meant to be read by the merchant's services (other users/containers).
	if err := writeJSONAtomic(mPath, creds, 0o644); err != nil {
		return nil, err
	}
	return parseKeyring(creds, sec)
}

func parseKeyring(c MerchantCredentials, s platformSecrets) (*keyring, error) {
	var err error
	k := &keyring{creds: c, sellerID: s.AlipaySellerID}
	if k.appPublic, err = parsePublic(c.Alipay.AppPublicKey); err != nil {
		return nil, fmt.Errorf("alipay.appPublicKey: %w", err)
	}
	if k.alipayPrivate, err = parsePrivate(s.AlipayPrivateKey); err != nil {
		return nil, fmt.Errorf("alipay platform key: %w", err)
	}
	mch, err := parsePrivate(c.Wechat.MerchantPrivateKey)
	if err != nil {
		return nil, fmt.Errorf("wechat.merchantPrivateKey: %w", err)
	}
	k.merchantPublic = &mch.PublicKey
	if k.wechatPrivate, err = parsePrivate(s.WechatPayPrivateKey); err != nil {
		return nil, fmt.Errorf("wechat pay platform key: %w", err)
	}
	if k.wechatCert, err = parsePlatformCert(s.WechatCertPrivateKey, s.WechatCert); err != nil {
		return nil, fmt.Errorf("wechat pay platform certificate: %w", err)
	}
	if len(c.Wechat.APIv3Key) != 32 {
		return nil, errors.New("wechat.apiV3Key must be 32 characters")
	}
	return k, nil
}

func privatePEM(k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err) // cannot happen for an RSA key
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func publicPEM(k *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic(err) // cannot happen for an RSA key
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func parsePrivate(s string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		if k1, err1 := x509.ParsePKCS1PrivateKey(b.Bytes); err1 == nil {
			return k1, nil
		}
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

func parsePublic(s string) (*rsa.PublicKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

// writeJSONAtomic writes v as indented JSON via a temp file and rename, so readers never see a
// half-written file.
func writeJSONAtomic(path string, v any, perm os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), perm)
}
