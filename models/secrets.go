package models

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// Bearer secrets: a webhook's secret, a set-password link's token, a
// connect link's token. Each is 256 random bits in unpadded base64url,
// handed out once; only its hash is stored, and a lookup is by the hash.

// secretLen is the length of a secret: 32 random bytes in unpadded
// base64url.
const secretLen = 43

// NewSecret returns a new secret (256 random bits, URL-safe) and the hash
// to store instead of it.
func NewSecret() (secret, hash string, err error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", fmt.Errorf("store: secret: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(raw)
	return secret, SecretHash(secret), nil
}

// SecretHash is the stored form of a secret (and of an API key). They
// carry 256 random bits, so a fast hash is enough (no password
// stretching needed).
func SecretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// WellFormedSecret reports whether s could be a secret NewSecret made, so
// that a request with anything else costs no query.
func WellFormedSecret(s string) bool {
	if len(s) != secretLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
