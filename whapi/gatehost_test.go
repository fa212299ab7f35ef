package whapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"whapidesk/whapi"
)

// gateWorld is a few gate hosts under made-up names: the configured gate
// (gate.whapi.cloud), a second gate host (several names lead to it), and
// hostile hosts that must never see a token. Names are resolved by the
// client's own dialer, so no DNS is asked.
type gateWorld struct {
	gate, second *recorder
	hostile      func() []hit
	hc           *http.Client
}

func newGateWorld(t *testing.T) *gateWorld {
	t.Helper()
	health := answerWith(200, fixture(t, "health_qr.json"))
	gate, gateRec := newTLSServer(t, health)
	second, secondRec := newTLSServer(t, health)
	hostileTLS, hostileRec := newTLSServer(t, health)
	hostilePlain, hostilePlainRec := newServer(t, health)
	addr := func(s *httptest.Server) string { return s.Listener.Addr().String() }
	routes := map[string]string{
		"gate.whapi.cloud:443":         addr(gate),
		"gate2.whapi.cloud:443":        addr(second),
		"whapi.cloud:443":              addr(second),
		"allowed.example:443":          addr(second),
		"allowed.example:8443":         addr(second),
		"x.trusted.example:443":        addr(second),
		"gate2.whapi.cloud:80":         addr(hostilePlain),
		"gate2.whapi.cloud:8443":       addr(hostileTLS),
		"evil.example:443":             addr(hostileTLS),
		"whapi.cloud.evil.example:443": addr(hostileTLS),
		"evilwhapi.cloud:443":          addr(hostileTLS),
		"trusted.example:443":          addr(hostileTLS),
		"127.0.0.2:443":                addr(hostileTLS),
	}
	pool := x509.NewCertPool()
	pool.AddCert(gate.Certificate())
	hc := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
				host, port, _ := net.SplitHostPort(a)
				// As DNS does: any case, with or without the root's dot.
				target, ok := routes[net.JoinHostPort(strings.TrimSuffix(strings.ToLower(host), "."), port)]
				if !ok {
					t.Errorf("the client dialled %s, which no test host serves", a)
					target = "127.0.0.1:1"
				}
				return (&net.Dialer{}).DialContext(ctx, network, target)
			},
			// Every test server has the same certificate, made for
			// example.com: the names above are judged by the client's
			// rule, which is what these tests are about, not by TLS.
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &gateWorld{gate: gateRec, second: secondRec, hc: hc,
		hostile: func() []hit { return append(hostileRec.all(), hostilePlainRec.all()...) }}
}

// newTLSServer is newServer over TLS.
func newTLSServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *recorder) {
	t.Helper()
	rc := &recorder{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.add(hit{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Auth: r.Header.Values("Authorization")})
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, rc
}

// A channel's gate calls go to the apiUrl WHAPI reported for it only when
// that host may receive the channel's token: an https host on the
// configured gate's domain and port, or one the allowlist names. Anything
// else (plain http, another domain, another port, credentials in the URL,
// not a URL) is logged once, without the token, and the configured gate
// is used: a hostile host never sees a request.
func TestChannelGateHost(t *testing.T) {
	const configured, there = "configured", "there"
	tests := []struct {
		apiURL string
		want   string
		why    string // the refusal's reason in the log
	}{
		{"", configured, ""},
		{"https://gate.whapi.cloud/", configured, ""},
		{"https://gate2.whapi.cloud/", there, ""},
		{"https://GATE2.Whapi.Cloud./", there, ""},
		{"https://whapi.cloud", there, ""},
		{"https://allowed.example/", there, ""},
		{"https://allowed.example:8443/", there, ""},
		{"https://x.trusted.example/", there, ""},
		{"http://gate2.whapi.cloud/", configured, "not https"},
		{"https://gate2.whapi.cloud:8443/", configured, "host not on"},
		{"https://evil.example/", configured, "host not on"},
		{"https://whapi.cloud.evil.example/", configured, "host not on"},
		{"https://evilwhapi.cloud/", configured, "host not on"},
		{"https://trusted.example/", configured, "host not on"},
		{"https://127.0.0.2/", configured, "host not on"},
		{"https://user:secret@gate2.whapi.cloud/", configured, "credentials"},
		{"ftp://gate2.whapi.cloud/", configured, "not an absolute"},
		{"gate2.whapi.cloud", configured, "not an absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.apiURL, func(t *testing.T) {
			w := newGateWorld(t)
			logs := &bufferLogger{}
			c := whapi.New("https://manager.whapi.cloud", "https://gate.whapi.cloud", nil,
				whapi.WithHTTPClient(w.hc), whapi.WithLogger(logs.logger()), whapi.WithRetries(0, 0),
				whapi.WithGateHosts("allowed.example", "allowed.example:8443", "*.trusted.example", "not a host"))
			g := c.Gate(tt.apiURL)
			for range 2 {
				if _, err := g.Health(t.Context(), channelToken); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := g.LoginQR(t.Context(), channelToken); err == nil {
				t.Fatal("a health answer taken for a QR")
			}
			got := map[string]int{configured: w.gate.count(), there: w.second.count()}
			if got[tt.want] != 3 || got[configured]+got[there] != 3 {
				t.Fatalf("requests: %v, want all 3 on %s", got, tt.want)
			}
			rec := w.gate
			if tt.want == there {
				rec = w.second
			}
			for _, h := range rec.all() {
				if len(h.Auth) != 1 || h.Auth[0] != "Bearer "+channelToken {
					t.Fatalf("Authorization %q", h.Auth)
				}
			}
			if h := w.hostile(); len(h) != 0 {
				t.Fatalf("a hostile host got %d requests", len(h))
			}
			out := logs.String()
			if strings.Contains(out, channelToken) || strings.Contains(out, "secret") {
				t.Fatalf("the log carries a secret: %s", out)
			}
			refusals := strings.Count(out, "gate address was refused")
			switch {
			case tt.why == "" && refusals != 0:
				t.Fatalf("an accepted apiUrl logged as refused: %s", out)
			case tt.why != "" && (refusals != 1 || !strings.Contains(out, tt.why)):
				t.Fatalf("want the refusal (%s) logged once, got %d: %s", tt.why, refusals, out)
			}
			if tt.want == there && !strings.Contains(out, `"host":"`) {
				t.Fatalf("the calls to the channel's own host do not say it: %s", out)
			}
		})
	}
}

// A gate configured by address (a test's or a LAN's) has no domain: only
// itself and the allowlist are accepted.
func TestChannelGateHostWithoutDomain(t *testing.T) {
	srv, rec := newServer(t, answerWith(200, fixture(t, "health_qr.json")))
	c, _ := newClient(t, srv)
	for _, apiURL := range []string{srv.URL + "/", srv.URL, "https://127.0.0.2/", "https://0.1/", "https://localhost/"} {
		if _, err := c.Gate(apiURL).Health(t.Context(), channelToken); err != nil {
			t.Fatalf("%s: %v", apiURL, err)
		}
	}
	if rec.count() != 5 {
		t.Fatalf("%d requests on the configured gate, want 5", rec.count())
	}
}

func TestParseGateHosts(t *testing.T) {
	got, err := whapi.ParseGateHosts(" gate2.example.com, ,*.whapi.io,10.0.0.7:8443,[::1]:8443 ")
	if err != nil || strings.Join(got, "|") != "gate2.example.com|*.whapi.io|10.0.0.7:8443|[::1]:8443" {
		t.Fatalf("got %q, %v", got, err)
	}
	if got, err := whapi.ParseGateHosts(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %q, %v", got, err)
	}
	for _, bad := range []string{"https://gate2.example.com", "gate2.example.com/path", "user@gate2.example.com",
		"gate2.example.com:0", "gate2.example.com:x", "*.com", "*.10.0.0.7", "a b"} {
		if _, err := whapi.ParseGateHosts("ok.example," + bad); err == nil || !strings.Contains(err.Error(), "gate host") {
			t.Errorf("%q: %v, want an error naming the entry", bad, err)
		}
	}
}
