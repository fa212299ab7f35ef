package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"whapidesk/handlers"
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

// demoSimStateFile is where the demo's simulator keeps the simulated
// WHAPI's state (its channels, their tokens, the partner balance…),
// beside the database, so that a restarted demo finds its channels at
// "WHAPI" as the database remembers them. Deleting the database starts
// the demo over: a new database sets an old state file aside
// (setAsideStaleSimState).
func demoSimStateFile(cfg Config) string {
	return filepath.Join(filepath.Dir(cfg.DBPath), "demo-whapisim.json")
}

// setAsideStaleSimState moves the simulator's state file out of the way
// when the demo's database is new (not seeded yet) but a state file is
// there: left by a demo whose database was deleted alone, it holds
// channels and days the new database knows nothing of. It is renamed
// (".old", replacing an older one), not deleted, and the log says so.
func setAsideStaleSimState(ctx context.Context, store *models.Store, cfg Config, log *slog.Logger) error {
	n, err := store.CountAdmins(ctx)
	if err != nil || n > 0 {
		return err
	}
	path := demoSimStateFile(cfg)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.Rename(path, path+".old"); err != nil {
		return fmt.Errorf("demo: the database is new but the simulator's state from an earlier demo is there, and it cannot be set aside: %w", err)
	}
	log.Warn("the database is new: the simulator's state from an earlier demo was set aside, so the new demo starts with an empty WHAPI", "old", path+".old")
	return nil
}

// Bounds of the demo simulator's request log: a demo runs for hours and
// nobody reads the log, so it keeps little.
const (
	demoSimMaxRequests = 1000
	demoSimMaxBody     = 4 << 10
)

// demoInfo is what the demo tells about its simulator and where it is.
type demoInfo struct {
	simURL    string // the simulator's root, on the app's own port
	publicURL string // where the simulator sends its webhooks
	// publicDefaulted: WHAPIDESK_PUBLIC_URL was unset, so publicURL is
	// the app's own loopback address.
	publicDefaulted bool
	stateFile       string
	// stop ends the simulator's ticker and closes it (its state is
	// written a last time).
	stop func()
}

// startDemoSimulator opens the in-memory WHAPI on its state file (a new
// one the first time, with the demo's partner token and a partner balance
// of 1,000 days), and ticks it every second until stop. Its partner has the
// simulator's own project, not whapidesk's default project id: as on a real
// install, the admin picks the project in WHAPI Settings before any
// channel is created. A state file that cannot be read stops the demo
// with an error that names it.
func startDemoSimulator(ctx context.Context, cfg Config, addr net.Addr, log *slog.Logger) (*whapisim.Sim, demoInfo, error) {
	info := demoInfo{simURL: simURL(addr), publicURL: cfg.PublicURL, stateFile: demoSimStateFile(cfg)}
	if info.publicURL == "" {
		// The simulator runs here, so it reaches the app on loopback:
		// its webhooks tell the app of a scan at once.
		info.publicURL = fmt.Sprintf("http://127.0.0.1:%d", addr.(*net.TCPAddr).Port)
		info.publicDefaulted = true
	}
	tok, err := demoToken(cfg)
	if err != nil {
		return nil, info, err
	}
	sim, err := whapisim.Open(whapisim.Options{
		PartnerToken:    tok,
		BalanceDays:     demoPartnerDays,
		GateURL:         info.simURL + "/",
		StateFile:       info.stateFile,
		MaxRequests:     demoSimMaxRequests,
		MaxRecordedBody: demoSimMaxBody,
		StateErrors: func(err error) {
			log.Warn("the simulator could not save its state; a restart of the demo may lose its latest changes", "err", err)
		},
	})
	if err != nil {
		return nil, info, fmt.Errorf("demo: %w", err)
	}
	tickCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tickSimulator(tickCtx, sim)
	}()
	info.stop = func() {
		cancel()
		<-done
		sim.Close()
	}
	return sim, info, nil
}

// demoLink is the demo's "simulate scanning" button: the simulator links
// a made-up phone (the channel's own number when it was created with one)
// to the channel, as a scan of its QR code would, and its webhooks tell
// the app. The simulator's errors become the app's: no code to scan,
// already linked, or no such channel.
func demoLink(sim *whapisim.Sim, whapiID string) error {
	phone := whapisim.DemoPhone
	if st, ok := sim.Channel(whapiID); ok && st.Phone != "" {
		phone = st.Phone
	}
	err := sim.LinkChannel(whapiID, phone)
	switch {
	case errors.Is(err, whapisim.ErrNoQR):
		return provision.ErrNoQR
	case errors.Is(err, whapisim.ErrAlreadyLinked):
		return provision.ErrAlreadyLinked
	case errors.Is(err, whapisim.ErrChannelNotFound):
		return models.ErrNotFound
	}
	return err
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
	// The Outbox shows mails from the start (issue 16): an invitation to a
	// customer who has not chosen a password yet, and the admin's daily
	// summary, queued as the alerts job would at the digest hour. Without
	// WHAPIDESK_SMTP_URL they wait there, rendered.
	if _, err := svc.InviteUser(ctx, actor, models.NewUser{Email: "dana@example.com", Name: "Dana Ilić", Role: models.RoleCustomer}, ""); err != nil {
		return nil, err
	}
	if _, err := svc.AdminAlerts(ctx, provision.AlertInput{DigestHour: 0}); err != nil {
		return nil, err
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

// demoRoad is how a person trying the demo reaches "Connected", and what
// a restart keeps.
const demoRoad = `  No phone is needed: on a channel's connect page, the box marked
  "Demo only" simulates scanning the QR code, and the page turns
  "Connected" when the simulator's webhook arrives (the log shows
  POST /hooks/whapi/…). The simulator (not WHAPI) answers at
  %s, with its own controls beside WHAPI's routes,
  e.g. POST %s/_sim/channels/{id}/link.
`

// printDemo tells how to sign in (the passwords only on the first run),
// and, until it is done, that the admin must pick the project first; then
// that Bruno's sample line shows on Attention (demo_sample.go); then
// how to reach "Connected", where the webhooks go and where the simulated
// WHAPI keeps its channels.
func printDemo(stdout io.Writer, cfg Config, seed *demoSeed, addr net.Addr, projectPicked bool, info demoInfo) {
	port := addr.(*net.TCPAddr).Port
	defer fmt.Fprint(stdout, demoReach(addr))
	if seed == nil {
		fmt.Fprintf(stdout, "\nDemo data already seeded in %s. Sign in at http://localhost:%d/login with the credentials printed at the first run\n(or create another admin: whapidesk create-admin --db %s --email you@example.com).\n\n", cfg.DBPath, port, cfg.DBPath)
		if !projectPicked {
			fmt.Fprint(stdout, pickProjectFirst+"\n")
		}
		fmt.Fprint(stdout, demoSampleWords(cfg.DisconnectAlertAfter))
		printDemoRoad(stdout, info)
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
	fmt.Fprint(stdout, demoSampleWords(cfg.DisconnectAlertAfter))
	printDemoRoad(stdout, info)
}

// printDemoRoad says how to reach "Connected", where the webhooks go, and
// what a restart keeps.
func printDemoRoad(stdout io.Writer, info demoInfo) {
	fmt.Fprintf(stdout, demoRoad, info.simURL, info.simURL)
	if info.publicDefaulted {
		fmt.Fprintf(stdout, "  Webhooks go to %s (WHAPIDESK_PUBLIC_URL is unset, so the demo uses its own address).\n", info.publicURL)
	} else {
		fmt.Fprintf(stdout, "  Webhooks go to %s (WHAPIDESK_PUBLIC_URL).\n", info.publicURL)
	}
	fmt.Fprintf(stdout, "  A restart keeps the channels: the simulated WHAPI keeps them in\n  %s. Delete the database to start over.\n\n", info.stateFile)
}

// demoReach says, last of the demo's instructions, where it listens and
// who can reach it: its simulator answers anyone who does.
func demoReach(addr net.Addr) string {
	tcp := addr.(*net.TCPAddr)
	if tcp.IP.IsLoopback() {
		return fmt.Sprintf("  Listening on %s: this machine only. To open the demo to the network on purpose,\n"+
			"  give it --addr :%d (or WHAPIDESK_ADDR=:%d).\n\n", tcp, tcp.Port, tcp.Port)
	}
	return fmt.Sprintf("  Listening on %s: reachable from the network, the simulator included (it answers anyone).\n\n", tcp)
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// demoWebhookEndpoint gives the demo its sample webhook endpoint, pointed
// at the demo's own receiver (handlers/demo_webhooks.go) for every event,
// and hands the receiver its secret: made the first time, rotated at each
// later start (a secret is shown once, so a restarted demo makes a new
// one; the old one signs beside it for a day).
func demoWebhookEndpoint(ctx context.Context, store *models.Store, svc *provision.Service, base string, dw *handlers.DemoWebhooks) error {
	target := strings.TrimRight(base, "/") + handlers.DemoWebhookPath
	eps, err := store.WebhookEndpoints(ctx)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if ep.URL == target {
			secret, err := svc.RotateWebhookSecret(ctx, models.SystemActor, ep.ID)
			if err != nil {
				return err
			}
			dw.SetSecret(secret)
			return nil
		}
	}
	_, secret, err := svc.CreateWebhookEndpoint(ctx, models.SystemActor, target, provision.WebhookEventTypes())
	if err != nil {
		return err
	}
	dw.SetSecret(secret)
	return nil
}
