package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// simPrefix is where the demo mounts the WHAPI simulator on its own server.
const simPrefix = "/_whapisim"

func simURL(addr net.Addr) string {
	port := addr.(*net.TCPAddr).Port
	return fmt.Sprintf("http://127.0.0.1:%d%s", port, simPrefix)
}

// demoTokenFile holds the simulator's partner token, beside the database, so
// that it survives restarts of the demo. It is a made-up token that only the
// simulator accepts.
func demoTokenFile(cfg Config) string {
	return filepath.Join(filepath.Dir(cfg.DBPath), "demo-partner-token.txt")
}

// newDemoSimulator starts the in-memory WHAPI with a partner token it makes
// up (kept in a file for restarts) and a partner balance of 1,000 days.
func newDemoSimulator(cfg Config, addr net.Addr) (*whapisim.Sim, error) {
	path := demoTokenFile(cfg)
	raw, err := os.ReadFile(path)
	tok := strings.TrimSpace(string(raw))
	if errors.Is(err, os.ErrNotExist) || tok == "" {
		tok = fakeJWT()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return whapisim.New(whapisim.Options{
		PartnerToken: tok,
		BalanceDays:  1000,
		ProjectIDs:   []string{models.DefaultProjectID},
		GateURL:      simURL(addr) + "/",
	}), nil
}

// fakeJWT makes a random JWT-shaped token of about 1,300 characters, like
// the ones WHAPI issues.
func fakeJWT() string {
	part := func(n int) string {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + part(700) + "." + part(256)
}

// seedDemo creates, once, the demo admin (password printed once), sample
// customers, and saves the simulator's partner token in the settings.
func seedDemo(ctx context.Context, store *models.Store, cfg Config, addr net.Addr, stdout io.Writer) error {
	port := fmt.Sprintf(":%d", addr.(*net.TCPAddr).Port)
	n, err := store.CountAdmins(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(stdout, "\nDemo data already seeded in %s. Sign in at http://localhost%s/login with the credentials printed at the first run\n(or create another admin: whapidesk create-admin --db %s --email you@example.com).\n\n", cfg.DBPath, port, cfg.DBPath)
		return nil
	}
	password := randomPassword()
	admin, err := store.CreateUser(ctx, models.NewUser{Email: "admin@example.com", Name: "Demo admin", Password: password, Role: models.RoleAdmin})
	if err != nil {
		return err
	}
	customerPassword := randomPassword()
	for _, c := range []struct{ email, name string }{
		{"amal@example.com", "Amal Haddad"},
		{"bruno@example.com", "Bruno Costa"},
		{"chen@example.com", "Chen Wei"},
	} {
		if _, err := store.CreateUser(ctx, models.NewUser{Email: c.email, Name: c.name, Password: customerPassword, Role: models.RoleCustomer}); err != nil {
			return err
		}
	}
	raw, err := os.ReadFile(demoTokenFile(cfg))
	if err != nil {
		return err
	}
	tok, err := provision.NormalizePartnerToken(string(raw))
	if err != nil {
		return err
	}
	id := admin.ID
	if _, _, err := store.UpdateSettings(ctx, models.Actor{UserID: &id, Email: admin.Email}, models.SettingsChange{PartnerToken: &tok, Hint: provision.TokenHint(tok)}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, `
  whapidesk demo — on the built-in WHAPI simulator (no real WHAPI calls)

  Open      http://localhost%s/login
  Admin     admin@example.com
  Password  %s
  Customers amal@example.com, bruno@example.com, chen@example.com
  Password  %s

  These passwords are shown only now. The simulator's made-up partner
  token is saved already; to try the WHAPI Settings page, paste the one in
  %s.

`, port, password, customerPassword, demoTokenFile(cfg))
	return nil
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
