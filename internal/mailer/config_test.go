package mailer_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"whapidesk/internal/mailer"
)

func TestParseURLReadsTheThreeForms(t *testing.T) {
	cases := []struct {
		raw  string
		want mailer.Config
	}{
		{"smtp://desk:p%40ss%3Aw%2Frd%25@mail.example.com:587",
			mailer.Config{Host: "mail.example.com", Port: 587, Security: mailer.StartTLSRequired, Username: "desk", Password: "p@ss:w/rd%"}},
		{"smtps://desk%40example.com:secret@mail.example.com:465",
			mailer.Config{Host: "mail.example.com", Port: 465, Security: mailer.ImplicitTLS, Username: "desk@example.com", Password: "secret"}},
		{"smtp://relay.internal:2525",
			mailer.Config{Host: "relay.internal", Port: 2525, Security: mailer.StartTLSIfOffered}},
		{"  SMTP://localhost  ", mailer.Config{Host: "localhost", Port: 25, Security: mailer.StartTLSIfOffered}},
		{"smtp://u:p@mail.example.com", mailer.Config{Host: "mail.example.com", Port: 587, Security: mailer.StartTLSRequired, Username: "u", Password: "p"}},
		{"smtps://mail.example.com", mailer.Config{Host: "mail.example.com", Port: 465, Security: mailer.ImplicitTLS}},
		{"smtp://[::1]:25/", mailer.Config{Host: "::1", Port: 25, Security: mailer.StartTLSIfOffered}},
	}
	for _, c := range cases {
		got, err := mailer.ParseURL(c.raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.raw, err)
			continue
		}
		if got.Host != c.want.Host || got.Port != c.want.Port || got.Security != c.want.Security ||
			got.Username != c.want.Username || got.Password != c.want.Password {
			t.Errorf("ParseURL(%q) = %s %v user %q pass %q; want %s %v user %q pass %q", c.raw,
				got.Redacted(), got.Security, got.Username, got.Password,
				c.want.Redacted(), c.want.Security, c.want.Username, c.want.Password)
		}
	}
}

func TestParseURLErrorsAreClearAndNeverShowThePassword(t *testing.T) {
	// Every URL carries a password made of two halves, "Hunter" and
	// "Zebra"; neither half may appear in the error.
	cases := []struct{ raw, says string }{
		{"", "empty"},
		{"mail.example.com:587", "scheme"},
		{"http://desk:HunterZebra@mail.example.com:25", `"http"`},
		{"user:Hunter://Zebra@mail.example.com", "smtp://"},
		{"smtp://:HunterZebra@mail.example.com:25", "no user name"},
		{"smtp://desk@mail.example.com:25", "no password"},
		{"smtp://desk:HunterZebra@:25", "no host"},
		{"smtp://desk:HunterZebra@mail.example.com:0", "port"},
		{"smtp://desk:HunterZebra@mail.example.com:99999", "port"},
		{"smtp://desk:HunterZebra@mail.example.com:abc", "valid URL"},
		{"smtp://desk:HunterZebra@mail.example.com:", "empty port"},
		{"smtp://desk:Hunter%zzZebra@mail.example.com:25", "percent-encoded"},
		{"smtp://desk:Hunter/Zebra@mail.example.com:25", "percent-encoded"},
		{"smtp://desk:Hunter?Zebra@mail.example.com:25", "valid URL"},
		{"smtp://desk:Hunter#Zebra@mail.example.com:25", "valid URL"},
		{"smtp://desk:HunterZebra@mail.example.com:25/inbox", "path"},
		{"smtp://desk:HunterZebra@mail.example.com:25?tls=no", "query"},
		{"smtp://desk:Hunter:99999", "port"},
		{"smtp:desk:HunterZebra@mail.example.com", "scheme"},
	}
	for _, c := range cases {
		_, err := mailer.ParseURL(c.raw)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded; want an error", c.raw)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "Hunter") || strings.Contains(msg, "Zebra") {
			t.Errorf("ParseURL(%q) error shows the password: %s", c.raw, msg)
		}
		if !strings.Contains(msg, c.says) {
			t.Errorf("ParseURL(%q) error %q; want it to say %q", c.raw, msg, c.says)
		}
	}
}

func TestAConfigNeverPrintsItsPassword(t *testing.T) {
	cfg, err := mailer.ParseURL("smtp://desk:Hunter2Zebra@mail.example.com:587")
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("smtp", "config", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("smtp", "config", cfg)
	for _, out := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s %q", cfg, cfg, cfg, cfg, cfg),
		fmt.Sprintf("%v %+v", &cfg, &cfg), logged.String(), cfg.Redacted(),
	} {
		if strings.Contains(out, "Hunter2Zebra") {
			t.Errorf("printed config shows the password: %s", out)
		}
	}
	if got := cfg.Redacted(); got != "smtp://desk:xxxxx@mail.example.com:587" {
		t.Errorf("Redacted() = %q", got)
	}
}

func TestParseFrom(t *testing.T) {
	good := map[string]mailer.Address{
		"support@example.com":                        {Email: "support@example.com"},
		"Acme Support <support@example.com>":         {Name: "Acme Support", Email: "support@example.com"},
		`"Support, Acme" <support@example.com>`:      {Name: "Support, Acme", Email: "support@example.com"},
		"=?UTF-8?B?2K/YudmF?= <support@example.com>": {Name: "دعم", Email: "support@example.com"},
		" <support@example.com> ":                    {Email: "support@example.com"},
	}
	for raw, want := range good {
		got, err := mailer.ParseFrom(raw)
		if err != nil || got != want {
			t.Errorf("ParseFrom(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
	bad := []string{
		"", "support", "support@", "@example.com", "a@example.com, b@example.com",
		"Acme <>", "<support@example.com", "support@example.com\r\nBcc: eve@example.com",
	}
	for _, raw := range bad {
		if got, err := mailer.ParseFrom(raw); err == nil {
			t.Errorf("ParseFrom(%q) = %+v; want an error", raw, got)
		} else if !strings.Contains(err.Error(), "from-address") {
			t.Errorf("ParseFrom(%q) error %q does not say what it is about", raw, err)
		}
	}
}
