package models

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the size in bytes of whapidesk's secret key (AES-256).
const KeySize = 32

// ErrDecrypt is returned when a stored secret cannot be decrypted: the
// wrong key, or a damaged value.
var ErrDecrypt = errors.New("secret: cannot decrypt (wrong key or damaged value)")

// Cipher encrypts secrets at rest with AES-256-GCM. Sealed values look like
// "v1:<key id>:<base64(nonce|ciphertext)>"; the key id (the first 8 hex
// digits of the key's SHA-256) says which key sealed a value, so a later key
// rotation can tell old values from new ones.
type Cipher struct {
	aead  cipher.AEAD
	keyID string
	raw   []byte
}

// NewCipher returns a Cipher for a 32-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	sum := sha256.Sum256(key)
	return &Cipher{aead: aead, keyID: hex.EncodeToString(sum[:4]), raw: append([]byte(nil), key...)}, nil
}

// KeyID names the key (not secret: a short hash of it).
func (c *Cipher) KeyID() string { return c.keyID }

// Derive returns a 32-byte sub-key for purpose (e.g. signing session
// cookies), so one secret key serves several uses without reuse.
func (c *Cipher) Derive(purpose string) []byte {
	h := sha256.New()
	h.Write([]byte("whapidesk/" + purpose + "/"))
	h.Write(c.raw)
	return h.Sum(nil)
}

// Seal encrypts plaintext. The empty string seals to the empty string.
func (c *Cipher) Seal(plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secret: %w", err)
	}
	ct := c.aead.Seal(nonce, nonce, []byte(plaintext), []byte(c.keyID))
	return "v1:" + c.keyID + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open decrypts a value made by Seal. The empty string opens to the empty string.
func (c *Cipher) Open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != "v1" || parts[1] != c.keyID {
		return "", ErrDecrypt
	}
	raw, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < c.aead.NonceSize() {
		return "", ErrDecrypt
	}
	nonce, ct := raw[:c.aead.NonceSize()], raw[c.aead.NonceSize():]
	pt, err := c.aead.Open(nil, nonce, ct, []byte(c.keyID))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}

// ParseKey decodes a base64 (standard or URL, padded or not) 32-byte key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("secret: the key must be %d bytes, base64-encoded", KeySize)
}

// LoadOrCreateKeyFile reads the base64 key in path, or creates the file with
// a new random key and mode 0600 when it does not exist. created says which.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("secret: key file %s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("secret: read key file: %w", err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("secret: create key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("secret: write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("secret: write key file: %w", err)
	}
	return key, true, nil
}
