package mysql

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// sealedPrefix marks a sealed secret in webhook_subscriptions.secret; rows without it are
// plaintext from before secrets were sealed (SealPlaintextSecrets converts them).
const sealedPrefix = "aesgcm1:"

// SecretBox seals webhook signing secrets at rest with AES-256-GCM (WEBHOOK_SECRET_KEY): a copy
// of the database alone does not let anyone sign webhooks as us. Each secret is bound to its
// subscription id (the additional data), so sealed values cannot be swapped between rows.
type SecretBox struct{ aead cipher.AEAD }

// ErrBadSecretKey: WEBHOOK_SECRET_KEY is not 32 bytes in base64 or hex.
var ErrBadSecretKey = errors.New("WEBHOOK_SECRET_KEY must be 32 random bytes, base64 or hex encoded")

// ParseSecretKey decodes a 32-byte key given as 64 hex digits or base64 (standard or URL, padded or not).
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if k, err := dec(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, ErrBadSecretKey
}

// NewSecretBox seals with key (32 bytes).
func NewSecretBox(key []byte) (*SecretBox, error) {
	if len(key) != 32 {
		return nil, ErrBadSecretKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SecretBox{aead: aead}, nil
}

func additionalData(id int64) []byte {
	return []byte("paysuite webhook subscription " + strconv.FormatInt(id, 10))
}

// Seal encrypts the secret of subscription id.
func (b *SecretBox) Seal(id int64, secret string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := b.aead.Seal(nonce, nonce, []byte(secret), additionalData(id))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// Open decrypts what Seal made for subscription id.
func (b *SecretBox) Open(id int64, stored string) (string, error) {
	raw, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return "", fmt.Errorf("subscription %d: secret is not sealed", id)
	}
	sealed, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil || len(sealed) < b.aead.NonceSize() {
		return "", fmt.Errorf("subscription %d: sealed secret is malformed", id)
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], additionalData(id))
	if err != nil {
		return "", fmt.Errorf("subscription %d: secret does not open with WEBHOOK_SECRET_KEY (another key?)", id)
	}
	return string(plain), nil
}
