package webhookout

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	// SignatureHeader carries t=<unix>,v1=<hex>[,v1=<hex>…].
	SignatureHeader = "Webhook-Signature"
	// IDHeader carries the event's id, the same on every retry of it, so a
	// receiver can drop a delivery it has already processed.
	IDHeader = "Webhook-Id"
)

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock when Verify is given no tolerance of its own.
const DefaultTolerance = 5 * time.Minute

// SecretPrefix starts every secret NewSecret makes, so one is recognised in
// a receiver's configuration.
const SecretPrefix = "whsec_"

// NewSecret returns a new endpoint secret: SecretPrefix and 32 random bytes
// in unpadded base64url (49 printable characters). It is shown to the admin
// once, at creation or rotation. The HMAC key is the whole string as it is
// shown, prefix included, as bytes: a receiver pastes it and uses it without
// decoding anything.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand.Read crashes the program instead)
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// mac is hex(HMAC-SHA256(secret, "<unix>.<body>")).
func mac(secret []byte, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(strconv.FormatInt(unix, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the Webhook-Signature header value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 over "<unix>.<body>" with secret>".
func Sign(secret []byte, t time.Time, body []byte) string {
	return SignAll(t, body, secret)
}

// SignAll is Sign with one v1= entry per secret, in order. After a secret
// is rotated, the sender signs with the new secret and, during a grace
// period, the old one as well, so a receiver still configured with the old
// secret keeps verifying until it is updated; Verify accepts a header when
// any v1= entry matches its secret.
func SignAll(t time.Time, body []byte, secrets ...[]byte) string {
	unix := t.Unix()
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(strconv.FormatInt(unix, 10))
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac(s, unix, body)))
	}
	return b.String()
}

// Why Verify refused a delivery. Each is returned wrapped, with details.
var (
	// ErrNoSignature: the header is missing or has no v1= entry.
	ErrNoSignature = errors.New("webhook signature: missing")
	// ErrBadSignatureHeader: the header is not t=<unix>,v1=<hex>….
	ErrBadSignatureHeader = errors.New("webhook signature: malformed header")
	// ErrTimestamp: the signature's time is further from now than the
	// tolerance (an old delivery replayed, or a clock far off).
	ErrTimestamp = errors.New("webhook signature: timestamp outside the tolerance")
	// ErrSignatureMismatch: no v1= entry matches the body with this secret
	// (a changed body, or another secret).
	ErrSignatureMismatch = errors.New("webhook signature: no signature matches")
)

// maxHeader bounds the header Verify reads; a real one is under 300 bytes.
const maxHeader = 4096

// Verify checks a delivery as a receiver does: header is the
// Webhook-Signature value, body the raw request body as received (before
// any JSON decoding), now the receiver's clock.
//
// The header must hold exactly one t= (decimal unix seconds) and at least
// one v1= (64 hex digits); entries of other schemes are ignored, so a later
// scheme can be added beside v1. The timestamp must be within tolerance of
// now, before or after (tolerance <= 0 means DefaultTolerance): an old
// delivery replayed later is refused. The header is accepted when any v1=
// entry equals HMAC-SHA256(secret, "<t>.<body>"), compared in constant
// time: during a rotation's grace period the sender signs with the old and
// the new secret, and a receiver holding either verifies.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrNoSignature
	}
	if len(header) > maxHeader {
		return errors.Join(ErrBadSignatureHeader, errors.New("header too long"))
	}
	var (
		unix    int64
		haveT   bool
		entries [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return errors.Join(ErrBadSignatureHeader, errors.New("an entry without ="))
		}
		switch key {
		case "t":
			n, err := strconv.ParseInt(val, 10, 64)
			if haveT || err != nil || n < 0 {
				return errors.Join(ErrBadSignatureHeader, errors.New("t= must appear once, as unix seconds"))
			}
			unix, haveT = n, true
		case "v1":
			sig, err := hex.DecodeString(val)
			if err != nil || len(sig) != sha256.Size {
				return errors.Join(ErrBadSignatureHeader, errors.New("v1= must be 64 hex digits"))
			}
			entries = append(entries, sig)
		}
	}
	if !haveT {
		return errors.Join(ErrBadSignatureHeader, errors.New("no t="))
	}
	if len(entries) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(unix, 0)).Abs(); d > tolerance {
		return ErrTimestamp
	}
	want := mac(secret, unix, body)
	ok := false
	for _, sig := range entries {
		if hmac.Equal(sig, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	return nil
}
