package webhookout_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"whapidesk/internal/webhookout"
)

func TestPrivateReason(t *testing.T) {
	tests := []struct {
		addr string
		want string // "" = public, may be reached
	}{
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.0.0.1", "private network"},
		{"10.255.255.255", "private network"},
		{"172.16.0.1", "private network"},
		{"172.31.255.255", "private network"},
		{"192.168.1.1", "private network"},
		{"::ffff:192.168.1.1", "private network"},
		{"::ffff:10.1.2.3", "private network"},
		{"fc00::1", "private network"},
		{"fd12:3456:789a::1", "private network"},
		{"169.254.169.254", "link-local"}, // cloud metadata
		{"::ffff:169.254.169.254", "link-local"},
		{"169.254.0.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"febf::1", "link-local"},
		{"0.0.0.0", "unspecified (this-network)"},
		{"0.1.2.3", "unspecified (this-network)"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"100.64.0.1", "shared (CGNAT)"},
		{"100.127.255.255", "shared (CGNAT)"},
		{"::ffff:100.64.0.1", "shared (CGNAT)"},
		{"255.255.255.255", "reserved"},
		{"64:ff9b::7f00:1", "loopback"},          // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", "link-local"},     // NAT64 of 169.254.169.254
		{"2002:c0a8:0101::1", "private network"}, // 6to4 of 192.168.1.1
		{"::7f00:1", "loopback"},                 // IPv4-compatible 127.0.0.1
		// Public: reachable.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.215.14", ""},
		{"172.15.255.255", ""}, // just below 172.16/12
		{"172.32.0.0", ""},     // just above
		{"100.63.255.255", ""}, // just below 100.64/10
		{"100.128.0.0", ""},    // just above
		{"169.253.255.255", ""},
		{"::ffff:8.8.8.8", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001:80b::200e", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			if got := webhookout.PrivateReason(ip); got != tt.want {
				t.Errorf("PrivateReason(%s) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
	if got := webhookout.PrivateReason(netip.Addr{}); got == "" {
		t.Error("the zero Addr counts as public")
	}
}

func TestValidateURL(t *testing.T) {
	long := "https://hooks.example.com/" + strings.Repeat("a", webhookout.MaxURLLength)
	tests := []struct {
		name         string
		raw          string
		allowPrivate bool
		wantErr      string // part of the message; "" = accepted
	}{
		{"https", "https://hooks.example.com/whapidesk", false, ""},
		{"https with port and query", "https://hooks.example.com:8443/in?token=Tok9f2", false, ""},
		{"spaces around", "  https://hooks.example.com/in \n", false, ""},
		{"upper-case scheme", "HTTPS://hooks.example.com/in", false, ""},
		{"public IPv4", "https://93.184.215.14/in", false, ""},
		{"public IPv6", "https://[2606:4700:4700::1111]/in", false, ""},
		{"at the length limit", long[:webhookout.MaxURLLength], false, ""},
		{"http refused", "http://hooks.example.com/in", false, "must start with https://"},
		{"http with allowPrivate", "http://127.0.0.1:8080/in", true, ""},
		{"empty", "", false, "enter the address"},
		{"no scheme", "hooks.example.com/in", false, "must start with https://"},
		{"ftp", "ftp://hooks.example.com/in", false, "not ftp://"},
		{"javascript", "javascript:alert(1)", true, "must start with https://"},
		{"no host", "https:///in", false, "has no host"},
		{"opaque", "https:hooks.example.com", false, "has no host"},
		{"userinfo", "https://user:S3cr3tPw@hooks.example.com/in", false, "user name or password"},
		{"user only", "https://user@hooks.example.com/in", true, "user name or password"},
		{"fragment", "https://hooks.example.com/in?token=Tok9f2#part", false, "# part"},
		{"empty fragment", "https://hooks.example.com/in#", false, "# part"},
		{"too long", long, false, "too long"},
		{"port zero", "https://hooks.example.com:0/in", false, "port"},
		{"port too big", "https://hooks.example.com:70000/in", false, "port"},
		{"not a URL", "https://hooks example.com/in", false, "not a valid address"},
		{"loopback literal", "https://127.0.0.1/in", false, "a loopback address"},
		{"IPv6 loopback literal", "https://[::1]/in", false, "a loopback address"},
		{"mapped loopback literal", "https://[::ffff:127.0.0.1]/in", false, "a loopback address"},
		{"metadata literal", "https://169.254.169.254/latest/meta-data", false, "a link-local address"},
		{"private literal", "https://10.0.0.5/in", false, "a private network address"},
		{"CGNAT literal", "https://100.64.1.1/in", false, "a shared (CGNAT) address"},
		{"unspecified literal", "https://0.0.0.0/in", false, "an unspecified"},
		{"localhost", "https://localhost:8443/in", false, "localhost"},
		{"LOCALHOST.", "https://LOCALHOST./in", false, "localhost"},
		{"under .localhost", "https://app.localhost/in", false, "localhost"},
		{"loopback with allowPrivate", "https://127.0.0.1/in", true, ""},
		{"localhost with allowPrivate", "http://localhost:8080/in", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := webhookout.ValidateURL(tt.raw, tt.allowPrivate)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateURL(%q) = %v, want accepted", tt.raw, err)
				}
				if u.Scheme != "https" && u.Scheme != "http" {
					t.Errorf("scheme %q not normalised", u.Scheme)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateURL(%q) accepted %v, want refused (%s)", tt.raw, u, tt.wantErr)
			}
			var ue *webhookout.URLError
			if !errors.As(err, &ue) {
				t.Errorf("error %T is not a *URLError", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidateURL(%q) = %q, want it to say %q", tt.raw, err, tt.wantErr)
			}
			// A message shown beside the field never repeats a password or
			// a query's token.
			for _, secret := range []string{"S3cr3tPw", "Tok9f2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("message %q repeats %q", err, secret)
				}
			}
		})
	}
}
