package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"time"
)

// The WeChat Pay platform certificate (certificate mode, services/sandbox/README.md §7): its own RSA key, an
// X.509 certificate whose serial is 40 upper-case hex digits, downloaded by merchants from
// GET /v3/certificates. Generated once and kept in sandbox.json next to the other platform keys.

// platformCert is the parsed certificate and its key.
type platformCert struct {
	key       *rsa.PrivateKey
	pem       string
	serial    string // 40 upper-case hex digits
	notAfter  time.Time
	notBefore time.Time
}

const platformCertValidity = 5 * 365 * 24 * time.Hour

// newPlatformCert makes a self-signed certificate like WeChat's: merchants only read its public
// key and serial (gopay checks neither issuer nor chain).
func newPlatformCert(now time.Time) (keyPEM, certPEM string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	serialBytes := make([]byte, 20)
	_, _ = rand.Read(serialBytes)
	serialBytes[0] = serialBytes[0]&0x7f | 0x10 // positive and exactly 40 hex digits
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(serialBytes),
		Subject:      pkix.Name{CommonName: "Tenpay.com sign (sandbox)", Organization: []string{"Tenpay.com"}, Country: []string{"CN"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(platformCertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	return privatePEM(key), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

func parsePlatformCert(keyPEM, certPEM string) (*platformCert, error) {
	key, err := parsePrivate(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("certificate is not PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("certificate does not hold the platform key")
	}
	return &platformCert{key: key, pem: certPEM, serial: fmt.Sprintf("%040X", c.SerialNumber),
		notBefore: c.NotBefore, notAfter: c.NotAfter}, nil
}

type wxEncryptedCert struct {
	Algorithm      string `json:"algorithm"`
	Nonce          string `json:"nonce"`
	AssociatedData string `json:"associated_data"`
	Ciphertext     string `json:"ciphertext"`
}

type wxCertItem struct {
	SerialNo           string          `json:"serial_no"`
	EffectiveTime      string          `json:"effective_time"`
	ExpireTime         string          `json:"expire_time"`
	EncryptCertificate wxEncryptedCert `json:"encrypt_certificate"`
}

// wechatCertificates is GET /v3/certificates: the platform certificate, encrypted with the APIv3
// key like a notify resource (associated data "certificate"). A public-key-mode merchant has no
// certificate and gets {"data":[]}; the sandbox has no SM2 certificate.
func (e *Emulator) wechatCertificates(w http.ResponseWriter, r *http.Request, _ []byte) {
	alg := r.URL.Query().Get("algorithm_type")
	if alg != "" && alg != "RSA" && alg != "SM2" && alg != "ALL" {
		e.wechatError(w, http.StatusBadRequest, "PARAM_ERROR", "algorithm_type 取值错误")
		return
	}
	items := []wxCertItem{}
	if e.cfg.WechatMode != WechatModePublicKey && alg != "SM2" {
		c := e.keys.wechatCert
		sealed, nonce, err := e.sealWechat([]byte(c.pem), "certificate")
		if err != nil {
			e.wechatError(w, http.StatusInternalServerError, "SYSTEM_ERROR", "encrypt certificate")
			return
		}
		items = append(items, wxCertItem{
			SerialNo: c.serial, EffectiveTime: c.notBefore.In(cst).Format(time.RFC3339),
			ExpireTime:         c.notAfter.In(cst).Format(time.RFC3339),
			EncryptCertificate: wxEncryptedCert{Algorithm: "AEAD_AES_256_GCM", Nonce: nonce, AssociatedData: "certificate", Ciphertext: sealed},
		})
	}
	e.wechatJSON(w, http.StatusOK, map[string][]wxCertItem{"data": items})
}
