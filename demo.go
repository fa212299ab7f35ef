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

// demoToken returns the simulator's made-up partner token, creating it
// (and its file) on the first run.
func demoToken(cfg Config) (string, error) {
	path := demoTokenFile(cfg)
	raw, err := os.ReadFile(path)
	tok := strings.TrimSpace(string(raw))
	if err == nil && tok != "" {
		return tok, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	tok = fakeJWT()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return tok, os.WriteFile(path, []byte(tok+"\n"), 0o600)
}

// newDemoSimulator starts the in-memory WHAPI with the demo's partner token
// and a partner balance of 1,000 days. Its partner has the simulator's own
// project, not whapidesk's default project id: as on a real install, the
// admin picks the project in WHAPI Settings before any channel is created.
func newDemoSimulator(cfg Config, addr net.Addr) (*whapisim.Sim, error) {
	tok, err := demoToken(cfg)
	if err != nil {
		return nil, err
	}
	return whapisim.New(whapisim.Options{
		PartnerToken: tok,
		BalanceDays:  demoPartnerDays,
		GateURL:      simURL(addr) + "/",
	}), nil
}

const demoPartnerDays = 1000

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

// demoSeed is what the first demo run made, to print once.
type demoSeed struct {
	adminPassword, customerPassword string
}

// seedDemo creates, once, the demo admin and sample plans and customers,
// and saves the simulator's partner token in the settings — all through
// provision, as an admin would, so the same rules and audit rows apply
// (the token is verified against the simulator, which must be serving).
// It returns nil when the database was seeded before.
func seedDemo(ctx context.Context, store *models.Store, svc *provision.Service, cfg Config) (*demoSeed, error) {
	n, err := store.CountAdmins(ctx)
	if err != nil || n > 0 {
		return nil, err
	}
	seed := &demoSeed{adminPassword: randomPassword(), customerPassword: randomPassword()}
	admin, err := svc.CreateUser(ctx, models.SystemActor, models.NewUser{Email: "admin@example.com", Name: "Demo admin", Password: seed.adminPassword, Role: models.RoleAdmin})
	if err != nil {
		return nil, err
	}
	id := admin.ID
	actor := models.Actor{UserID: &id, Email: admin.Email}
	tok, err := demoToken(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := svc.SaveWHAPISettings(ctx, actor, provision.SettingsInput{PartnerToken: tok}); err != nil {
		return nil, err
	}
	if _, _, err := svc.RecordPartnerDays(ctx, actor, provision.PartnerEntryInput{Kind: models.PartnerPurchase,
		Days: demoPartnerDays, Note: "demo: the simulator's starting balance", Confirmed: true}); err != nil {
		return nil, err
	}
	plans := map[string]*models.Plan{}
	for _, p := range []models.PlanInput{
		{Name: "Starter", MaxChannels: 1, DaysPerPeriod: 30, PeriodDays: 30},
		{Name: "Business", MaxChannels: 3, DaysPerPeriod: 30, PeriodDays: 30},
		{Name: "Agency", MaxChannels: 10, DaysPerPeriod: 30, PeriodDays: 30},
	} {
		if plans[p.Name], err = svc.CreatePlan(ctx, actor, p); err != nil {
			return nil, err
		}
	}
	for _, c := range []struct {
		email, name, plan string
		mode              models.AllocationMode
	}{
		{"amal@example.com", "Amal Haddad", "Business", models.AllocationAuto},
		{"bruno@example.com", "Bruno Costa", "Starter", models.AllocationManual},
		{"chen@example.com", "Chen Wei", "", models.AllocationManual},
	} {
		u, err := svc.CreateUser(ctx, actor, models.NewUser{Email: c.email, Name: c.name, Password: seed.customerPassword, Role: models.RoleCustomer})
		if err != nil {
			return nil, err
		}
		if err := store.SetAllocationMode(ctx, actor, u.ID, c.mode); err != nil {
			return nil, err
		}
		if c.plan != "" {
			if _, err := svc.ActivatePlan(ctx, actor, u.ID, plans[c.plan].ID); err != nil {
				return nil, err
			}
		}
	}
	return seed, nil
}

// demoProjectPicked reports whether the configured project is one WHAPI
// (the simulator) listed at the last check: until an admin picks one, no
// channel can be created.
func demoProjectPicked(ctx context.Context, store *models.Store) (bool, error) {
	st, err := store.Settings(ctx)
	if err != nil {
		return false, err
	}
	return st.ProjectStatus() == models.ProjectKnown, nil
}

// pickProjectFirst is the demo's first step while no project is picked.
const pickProjectFirst = `  First step, as on a real install: the project id whapidesk starts with
  is not one of the (simulated) WHAPI partner's projects, so no channel can
  be created yet — customers who try are told it is temporarily
  unavailable. Sign in as the admin, open WHAPI Settings and pick the
  project under "Your WHAPI projects" (one click).
`

// printDemo tells how to sign in (the passwords only on the first run),
// and, until it is done, that the admin must pick the project first.
func printDemo(stdout io.Writer, cfg Config, seed *demoSeed, addr net.Addr, projectPicked bool) {
	port := addr.(*net.TCPAddr).Port
	if seed == nil {
		fmt.Fprintf(stdout, "\nDemo data already seeded in %s. Sign in at http://localhost:%d/login with the credentials printed at the first run\n(or create another admin: whapidesk create-admin --db %s --email you@example.com).\n\n", cfg.DBPath, port, cfg.DBPath)
		if !projectPicked {
			fmt.Fprint(stdout, pickProjectFirst+"\n")
		}
		return
	}
	fmt.Fprintf(stdout, `
  whapidesk demo — on the built-in WHAPI simulator (no real WHAPI calls)

  Open      http://localhost:%d/login
  Admin     admin@example.com
  Password  %s
  Customers amal@example.com (Business plan, automatic days),
            bruno@example.com (Starter plan, manual days), chen@example.com (no plan)
  Password  %s

  These passwords are shown only now. The simulator's made-up partner
  token is saved already; to try the WHAPI Settings page, paste the one in
  %s.

`, port, seed.adminPassword, seed.customerPassword, demoTokenFile(cfg))
	if !projectPicked {
		fmt.Fprint(stdout, pickProjectFirst+"\n")
	}
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
