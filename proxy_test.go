package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"whapidesk/handlers"
)

// forwardedFor sends every request with X-Forwarded-For: ip.
type forwardedFor struct {
	ip   string
	next http.RoundTripper
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.ip)
	return f.next.RoundTrip(r)
}

// TestTrustedProxiesNameTheClient runs serve with and without
// --trusted-proxies, the tests connecting from 127.0.0.1: the client's
// address (the request log's ip, the sign-in throttle's key) comes from
// X-Forwarded-For only when the peer is a trusted proxy, as the README says
// of WHAPIDESK_TRUSTED_PROXIES. Also --brand reaches the pages.
func TestTrustedProxiesNameTheClient(t *testing.T) {
	t.Parallel()
	const attacker, admin = "203.0.113.9", "198.51.100.1"
	tests := []struct {
		name    string
		flags   []string
		brand   string
		trusted bool
	}{
		{"loopback trusted", []string{"--trusted-proxies", "10.0.0.0/8, 127.0.0.0/8", "--brand", "Acme Lines"}, "Acme Lines", true},
		{"no trusted proxy", nil, handlers.DefaultBrand, false},
		{"loopback not listed", []string{"--trusted-proxies", "10.0.0.0/8"}, handlers.DefaultBrand, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "w.db")
			makeInstall(t, db)
			mustRun(t, "", "create-admin", "--db", db, "--email", "admin@example.com", "--password", adminPassword)
			s := startServer(t, append([]string{"serve", "--db", db}, tt.flags...)...)
			from := func(ip string) *http.Client {
				c := newBrowser(t)
				c.Transport = forwardedFor{ip: ip, next: http.DefaultTransport}
				return c
			}

			if _, body := get(t, from(attacker), s.base+"/login"); !strings.Contains(body, tt.brand) {
				t.Errorf("the login page does not show the brand %q", tt.brand)
			}
			want := "127.0.0.1"
			if tt.trusted {
				want = attacker
			}
			logLine := regexp.MustCompile(`msg=request method=GET path=/login status=200 .* ip=` + regexp.QuoteMeta(want) + `\n`)
			for deadline := time.Now().Add(5 * time.Second); !logLine.MatchString(s.stderr.String()); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no request log line with ip=%s:\n%s", want, s.stderr)
				}
			}
			if !tt.trusted {
				return // handlers' tests prove the throttle ignores forged headers
			}
			// The per-address limit, spread over accounts so that no
			// account limit is reached, counts the forwarded address.
			c := from(attacker)
			for i := range 20 {
				if status, _ := login(t, c, s.base, fmt.Sprintf("guess%d@example.com", i), "wrong password"); status != http.StatusUnauthorized {
					t.Fatalf("failed sign-in %d = %d, want 401", i+1, status)
				}
			}
			if status, _ := login(t, from(admin), s.base, "admin@example.com", adminPassword); status != http.StatusSeeOther {
				t.Errorf("the admin's sign-in from %s = %d, want 303 (another client)", admin, status)
			}
			if status, _ := login(t, from(attacker), s.base, "admin@example.com", adminPassword); status != http.StatusTooManyRequests {
				t.Errorf("sign-in from %s after its 20 failures = %d, want 429", attacker, status)
			}
		})
	}
}
