package webhookout_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/webhookout"
)

// TestSignMatchesOpenSSL pins the scheme to the vector docs/webhooks.md
// shows, computed with
//
//	printf '%s' '1765116192.{…body…}' | openssl dgst -sha256 -hmac 'whsec_docs-example-not-a-real-secret'
//
// (the secret is the docs' example, not one of any endpoint).
func TestSignMatchesOpenSSL(t *testing.T) {
	secret := []byte("whsec_docs-example-not-a-real-secret")
	body := []byte(`{"id":"evt_1","type":"webhook.test","created_at":"2025-12-07T14:03:12Z","data":{}}`)
	at := time.Unix(1765116192, 0)
	want := "t=1765116192,v1=498c1e5e0b3821e5fadaedf1e624fedb565fc6612f6270f12a35e6ff3304ba85"
	if got := webhookout.Sign(secret, at, body); got != want {
		t.Errorf("Sign = %q\nwant %q", got, want)
	}
	if err := webhookout.Verify(secret, want, body, at.Add(time.Minute), 0); err != nil {
		t.Errorf("Verify of the docs' example: %v", err)
	}
	ev := webhookout.Event{ID: "evt_1", Type: webhookout.WebhookTest, Time: at}
	enc, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(enc) != string(body) {
		t.Errorf("Encode = %s\nwant the docs' body %s", enc, body)
	}
	// The page shows this very example; it must stay true.
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{string(secret), string(body), want, "openssl dgst -sha256 -hmac", "Webhook-Signature", "Webhook-Id"} {
		if !strings.Contains(string(doc), part) {
			t.Errorf("docs/webhooks.md does not show %q", part)
		}
	}
}

func TestVerify(t *testing.T) {
	secret := []byte(webhookout.NewSecret())
	other := []byte(webhookout.NewSecret())
	body := []byte(`{"id":"evt_9","type":"channel.linked","created_at":"2026-12-07T10:00:00Z","data":{"id":12}}`)
	sent := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	header := webhookout.Sign(secret, sent, body)
	tol := 5 * time.Minute
	unix := strconv.FormatInt(sent.Unix(), 10)
	sigOf := func(h string) string { _, v, _ := strings.Cut(h, ",v1="); return v }

	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		tol    time.Duration
		want   error // nil = accepted
	}{
		{"as sent", secret, header, body, sent, tol, nil},
		{"received 4 minutes later", secret, header, body, sent.Add(4 * time.Minute), tol, nil},
		{"sender's clock 4 minutes ahead", secret, header, body, sent.Add(-4 * time.Minute), tol, nil},
		{"spaces after commas", secret, "t=" + unix + ", v1=" + sigOf(header), body, sent, tol, nil},
		{"an unknown scheme beside v1", secret, header + ",v0=abc", body, sent, tol, nil},
		{"a body changed by one byte", secret, header, []byte(strings.Replace(string(body), "12", "13", 1)), sent, tol, webhookout.ErrSignatureMismatch},
		{"a body with a space added", secret, header, append(append([]byte{}, body...), ' '), sent, tol, webhookout.ErrSignatureMismatch},
		{"another secret", other, header, body, sent, tol, webhookout.ErrSignatureMismatch},
		{"the timestamp changed", secret, "t=" + strconv.FormatInt(sent.Unix()+1, 10) + ",v1=" + sigOf(header), body, sent, tol, webhookout.ErrSignatureMismatch},
		{"replayed 6 minutes later", secret, header, body, sent.Add(6 * time.Minute), tol, webhookout.ErrTimestamp},
		{"replayed a day later, default tolerance", secret, header, body, sent.Add(24 * time.Hour), 0, webhookout.ErrTimestamp},
		{"from 6 minutes in the future", secret, header, body, sent.Add(-6 * time.Minute), tol, webhookout.ErrTimestamp},
		{"a tighter tolerance", secret, header, body, sent.Add(31 * time.Second), 30 * time.Second, webhookout.ErrTimestamp},
		{"no header", secret, "", body, sent, tol, webhookout.ErrNoSignature},
		{"no v1", secret, "t=" + unix, body, sent, tol, webhookout.ErrNoSignature},
		{"no t", secret, "v1=" + sigOf(header), body, sent, tol, webhookout.ErrBadSignatureHeader},
		{"two t", secret, "t=" + unix + "," + header, body, sent, tol, webhookout.ErrBadSignatureHeader},
		{"t not a number", secret, "t=soon,v1=" + sigOf(header), body, sent, tol, webhookout.ErrBadSignatureHeader},
		{"v1 not hex", secret, "t=" + unix + ",v1=zz", body, sent, tol, webhookout.ErrBadSignatureHeader},
		{"v1 too short", secret, "t=" + unix + ",v1=" + sigOf(header)[:62], body, sent, tol, webhookout.ErrBadSignatureHeader},
		{"an entry without =", secret, header + ",junk", body, sent, tol, webhookout.ErrBadSignatureHeader},
		{"a huge header", secret, header + strings.Repeat(",v0=x", 1000), body, sent, tol, webhookout.ErrBadSignatureHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhookout.Verify(tt.secret, tt.header, tt.body, tt.now, tt.tol)
			if tt.want == nil {
				if err != nil {
					t.Errorf("Verify = %v, want accepted", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyDuringRotation: while a rotated secret's grace period lasts the
// sender signs with both; a receiver holding either verifies, one holding
// neither does not.
func TestVerifyDuringRotation(t *testing.T) {
	oldSecret, newSecret, stranger := []byte(webhookout.NewSecret()), []byte(webhookout.NewSecret()), []byte(webhookout.NewSecret())
	body := []byte(`{"id":"evt_2","type":"channel.deleted","created_at":"2026-12-07T10:00:00Z","data":{}}`)
	now := time.Now()
	header := webhookout.SignAll(now, body, newSecret, oldSecret)
	if n := strings.Count(header, "v1="); n != 2 {
		t.Fatalf("header %q has %d v1= entries, want 2", header, n)
	}
	if !strings.HasPrefix(header, webhookout.Sign(newSecret, now, body)+",v1=") {
		t.Errorf("header %q does not start with the new secret's signature", header)
	}
	for name, s := range map[string][]byte{"old": oldSecret, "new": newSecret} {
		if err := webhookout.Verify(s, header, body, now, 0); err != nil {
			t.Errorf("a receiver with the %s secret: %v", name, err)
		}
	}
	if err := webhookout.Verify(stranger, header, body, now, 0); !errors.Is(err, webhookout.ErrSignatureMismatch) {
		t.Errorf("a receiver with neither secret: %v, want a mismatch", err)
	}
}

func TestNewSecret(t *testing.T) {
	shape := regexp.MustCompile(`^whsec_[A-Za-z0-9_-]{43}$`) // 32 bytes, unpadded base64url
	seen := map[string]bool{}
	for range 100 {
		s := webhookout.NewSecret()
		if !shape.MatchString(s) {
			t.Fatalf("NewSecret = %q, want whsec_ and 43 base64url characters", s)
		}
		if seen[s] {
			t.Fatalf("NewSecret repeated %q", s)
		}
		seen[s] = true
	}
}
