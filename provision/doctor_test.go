package provision

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// publicApp serves what the app serves at its public address, as far as
// the doctor and WHAPI look: /healthz (healthz), and the webhook route,
// which accepts every delivery without applying it (so nothing is written
// behind a test's back). It becomes the public address.
func (e *env) publicApp(healthz http.HandlerFunc) string {
	e.t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("POST "+HookPath+"{secret}", func(http.ResponseWriter, *http.Request) {})
	srv := httptest.NewServer(mux)
	e.t.Cleanup(srv.Close)
	e.svc.SetPublicURL(srv.URL)
	return srv.URL
}

// answersOK is the app's /healthz.
func answersOK(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }

// doctor runs the checks and returns them by name, failing the test unless
// every check is there once, in the documented order.
func (e *env) doctor() map[string]DoctorCheck {
	e.t.Helper()
	rep := e.svc.Doctor(e.ctx)
	order := []string{CheckToken, CheckManager, CheckProject, CheckClock, CheckGate, CheckPublicURL, CheckWebhooks}
	var names []string
	out := map[string]DoctorCheck{}
	for _, c := range rep.Checks {
		names = append(names, c.Name)
		out[c.Name] = c
	}
	if strings.Join(names, "|") != strings.Join(order, "|") {
		e.t.Fatalf("checks %q, want %q", names, order)
	}
	return out
}

// want fails the test unless check name had outcome o and its detail
// holds every one of words.
func want(t *testing.T, checks map[string]DoctorCheck, name string, o Outcome, words ...string) {
	t.Helper()
	c := checks[name]
	if c.Outcome != o {
		t.Errorf("%s: %s (%s), want %s", name, c.Outcome, c.Detail, o)
		return
	}
	for _, w := range words {
		if !strings.Contains(c.Detail, w) {
			t.Errorf("%s: %q does not say %q", name, c.Detail, w)
		}
	}
}

// dbFiles hashes the database and its write-ahead log: any write changes
// one of them, a read neither.
func dbFiles(t *testing.T, path string) [32]byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return sha256.Sum256(all)
}

// With everything in order every line passes, and the doctor only reads:
// WHAPI gets GETs only (the gate's health without waking the channel),
// the database is not written, and no line shows a token, a WHAPI id or a
// webhook's secret. The gate is tried with the linked channel.
func TestDoctorAllPassesAndOnlyReads(t *testing.T) {
	e := newEnv(t)
	base := e.publicApp(answersOK)
	u := e.customer("amal", 2, 30, 60)
	idle := e.create(u.ID, "idle")
	shop := e.create(u.ID, "shop")
	if err := e.sim.LinkChannel(shop.RemoteID(), "97313300383"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConnectState(e.ctx, shop.ID); err != nil || !e.channel(shop.ID).Linked {
		t.Fatalf("the link was not seen: %v", err)
	}
	e.sim.ResetRequests()
	before := dbFiles(t, e.te.DBPath)

	checks := e.doctor()
	for name, c := range checks {
		if c.Outcome != OutcomePass {
			t.Errorf("%s: %s: %s", name, c.Outcome, c.Detail)
		}
	}
	want(t, checks, CheckToken, OutcomePass, "accepted by WHAPI", TokenHint(e.token))
	want(t, checks, CheckProject, OutcomePass, models.DefaultProjectID)
	want(t, checks, CheckClock, OutcomePass, "agrees with WHAPI's")
	want(t, checks, CheckGate, OutcomePass, "“shop”", "a phone is linked (AUTH)")
	want(t, checks, CheckPublicURL, OutcomePass, base+"/healthz", "“ok”")
	want(t, checks, CheckWebhooks, OutcomePass, "2 of 2")

	if dbFiles(t, e.te.DBPath) != before {
		t.Error("the doctor wrote to the database")
	}
	shopToken, _ := e.store.ChannelToken(e.channel(shop.ID))
	var health int
	for _, r := range e.sim.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("the doctor sent %s %s", r.Method, r.Path)
		}
		if r.Path == "/health" {
			health++
			if r.RawQuery != "wakeup=false" || r.Authorization != "Bearer "+shopToken {
				t.Errorf("GET /health?%s with another channel's token than the linked one's, or waking it", r.RawQuery)
			}
		}
	}
	if health != 1 {
		t.Errorf("%d health requests, want 1", health)
	}
	idleToken, _ := e.store.ChannelToken(e.channel(idle.ID))
	secrets := []string{e.token, e.token[len(e.token)-40:], shopToken, idleToken, shop.RemoteID(), idle.RemoteID()}
	for _, ch := range []*models.Channel{idle, shop} {
		_, secret := e.ourHook(ch, base)
		secrets = append(secrets, secret)
	}
	for _, c := range checks {
		for _, s := range secrets {
			if strings.Contains(c.Detail, s) {
				t.Errorf("%s shows a secret or a WHAPI id: %q", c.Name, c.Detail)
			}
		}
	}
}

// The token and the manager: not saved, refused, unreadable with this
// key, and a manager that fails or cannot be reached. Each says what is
// wrong, and the checks that depend on an answer say why they were not made.
func TestDoctorTokenAndManager(t *testing.T) {
	t.Run("no token saved", func(t *testing.T) {
		e := newEnv(t)
		if _, err := e.svc.ClearPartnerToken(e.ctx, admin); err != nil {
			t.Fatal(err)
		}
		e.sim.ResetRequests()
		checks := e.doctor()
		want(t, checks, CheckToken, OutcomeFail, "not configured", "WHAPI Settings")
		want(t, checks, CheckManager, OutcomeSkip, "no partner token")
		want(t, checks, CheckProject, OutcomeSkip)
		want(t, checks, CheckClock, OutcomeSkip)
		if n := e.sim.CountRequests("GET", "/projects"); n != 0 {
			t.Errorf("%d GET /projects without a token", n)
		}
	})
	t.Run("refused", func(t *testing.T) {
		e := newEnv(t)
		e.sim.SetPartnerToken(genToken(1300)) // WHAPI revoked ours
		checks := e.doctor()
		want(t, checks, CheckToken, OutcomeFail, "WHAPI refused it (401)", TokenHint(e.token))
		want(t, checks, CheckManager, OutcomePass, "answered in")
		want(t, checks, CheckProject, OutcomeSkip, "refused")
		want(t, checks, CheckClock, OutcomeSkip, "refused")
	})
	t.Run("the manager fails", func(t *testing.T) {
		e := newEnv(t)
		e.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/projects", Kind: whapisim.FaultStatus, Status: 503,
			Times: 1 + whapi.DefaultRetries, Message: "maintenance SECRET-TEXT"})
		checks := e.doctor()
		want(t, checks, CheckManager, OutcomeFail, "WHAPI answered 503 Service Unavailable")
		want(t, checks, CheckToken, OutcomeSkip, "not checked", "did not answer")
		want(t, checks, CheckProject, OutcomeSkip)
		if strings.Contains(checks[CheckManager].Detail, "SECRET-TEXT") {
			t.Errorf("WHAPI's own error text is shown: %q", checks[CheckManager].Detail)
		}
		// In Arabic: the status's number in Arabic digits, no English
		// reason phrase; the token's hint kept left to right.
		ar := i18n.For("ar")
		if got, want := checks[CheckManager].DetailIn(ar), "أجابت WHAPI بـ ٥٠٣"; got != want {
			t.Errorf("manager in Arabic: %q, want %q", got, want)
		}
		if got := checks[CheckToken].DetailIn(ar); !strings.Contains(got, "\u2068"+TokenHint(e.token)+"\u2069") || strings.Contains(got, "not checked") {
			t.Errorf("token in Arabic: %q", got)
		}
	})
	t.Run("the manager cannot be reached", func(t *testing.T) {
		e := newEnv(t)
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		svc := New(e.store, whapi.New(gone.URL, e.srv.URL, e.store, whapi.WithRetries(0, 0), whapi.WithLogger(slog.New(slog.DiscardHandler))), slog.New(slog.DiscardHandler))
		svc.SetClock(e.clock.Now)
		rep := svc.Doctor(e.ctx)
		checks := map[string]DoctorCheck{}
		for _, c := range rep.Checks {
			checks[c.Name] = c
		}
		want(t, checks, CheckManager, OutcomeFail, "unreachable", "connection refused")
		want(t, checks, CheckToken, OutcomeSkip)
		if rep.Count(OutcomeFail) != 1 {
			t.Errorf("%d failures, want the manager's only: %+v", rep.Count(OutcomeFail), rep.Checks)
		}
	})
	t.Run("another secret key", func(t *testing.T) {
		e := newEnv(t)
		u := e.customer("amal", 1, 30, 30)
		e.create(u.ID, "shop")
		_, other := testenv.NewKey(t)
		store := testenv.OpenStore(t, e.te.DB, other, States())
		svc := New(store, whapi.New(e.srv.URL, e.srv.URL, store, whapi.WithLogger(slog.New(slog.DiscardHandler))), slog.New(slog.DiscardHandler))
		svc.SetClock(e.clock.Now)
		checks := map[string]DoctorCheck{}
		for _, c := range svc.Doctor(e.ctx).Checks {
			checks[c.Name] = c
		}
		want(t, checks, CheckToken, OutcomeFail, "cannot be decrypted", "secret key")
		want(t, checks, CheckManager, OutcomeSkip)
		want(t, checks, CheckGate, OutcomeFail, "“shop”", "cannot be decrypted")
	})
}

// The project line names the configured project and whether WHAPI lists
// it, and says where to pick another.
func TestDoctorProject(t *testing.T) {
	e := newEnv(t, func(o *envOpts) { o.sim.ProjectIDs = []string{models.DefaultProjectID, "abcdefghij0123456789"} })
	want(t, e.doctor(), CheckProject, OutcomePass, "WHAPI lists "+models.DefaultProjectID+" (“")
	if _, err := e.svc.SaveWHAPISettings(e.ctx, admin, SettingsInput{ProjectID: "AnotherProject00001"}); err != nil {
		t.Fatal(err)
	}
	want(t, e.doctor(), CheckProject, OutcomeFail, "AnotherProject00001 is not among the projects WHAPI lists", "pick one of them on WHAPI Settings")
	if _, err := e.svc.SaveWHAPISettings(e.ctx, admin, SettingsInput{ProjectID: "default"}); err != nil {
		t.Fatal(err)
	}
	want(t, e.doctor(), CheckProject, OutcomePass, "WHAPI lists default")
}

// The clock line compares the app's clock with the Date of the manager's
// answer: agreed, a warning past a minute apart either way, a failure past
// five, and a warning when the answer carries no date.
func TestDoctorClockSkew(t *testing.T) {
	noDate := false
	e := newEnv(t, func(o *envOpts) {
		o.front = func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if noDate {
					w = undated{w}
				}
				h.ServeHTTP(w, r)
			})
		}
	})
	tests := []struct {
		name  string
		skew  time.Duration // the app's clock minus WHAPI's
		o     Outcome
		words string
	}{
		{"same time", 0, OutcomePass, "agrees with WHAPI's"},
		{"40 s ahead", 40 * time.Second, OutcomePass, "40 s ahead of WHAPI's"},
		{"90 s behind", -90 * time.Second, OutcomeWarn, "1 min 30 s behind WHAPI's"},
		{"3 min ahead", 3 * time.Minute, OutcomeWarn, "3 min ahead of WHAPI's"},
		{"6 min behind", -6 * time.Minute, OutcomeFail, "6 min behind WHAPI's"},
		{"an hour ahead", time.Hour, OutcomeFail, "60 min ahead of WHAPI's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.svc.SetClock(func() time.Time { return e.clock.Now().Add(tt.skew) })
			want(t, e.doctor(), CheckClock, tt.o, tt.words)
		})
	}
	t.Run("no Date header", func(t *testing.T) {
		e.svc.SetClock(e.clock.Now)
		noDate = true
		want(t, e.doctor(), CheckClock, OutcomeWarn, "no Date header")
	})
}

// undated drops the Date header of an answer (net/http adds none then).
type undated struct{ http.ResponseWriter }

func (u undated) WriteHeader(code int) {
	u.Header()["Date"] = nil
	u.ResponseWriter.WriteHeader(code)
}

func (u undated) Write(b []byte) (int, error) {
	u.Header()["Date"] = nil
	return u.ResponseWriter.Write(b)
}

// The gate line: nothing to try it with yet, a gate that answers, one that
// refuses the channel's token or fails, and a stopped channel left out.
func TestDoctorGate(t *testing.T) {
	e := newEnv(t)
	want(t, e.doctor(), CheckGate, OutcomeWarn, "no channel to test the gate with yet")

	u := e.customer("amal", 2, 30, 60)
	ch := e.create(u.ID, "shop")
	want(t, e.doctor(), CheckGate, OutcomePass, "“shop” (#", "waiting for a phone to be linked (QR)")

	e.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/health", Kind: whapisim.FaultStatus, Status: 401})
	want(t, e.doctor(), CheckGate, OutcomeFail, "“shop”", "refused its token (401)")
	e.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/health", Kind: whapisim.FaultStatus, Status: 502, Times: 1 + whapi.DefaultRetries})
	want(t, e.doctor(), CheckGate, OutcomeFail, "“shop”", "WHAPI answered 502 Bad Gateway")

	if _, err := e.svc.Stop(e.ctx, admin, ch.ID); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	want(t, e.doctor(), CheckGate, OutcomeWarn, "no channel to test the gate with yet")
	if n := e.sim.CountRequests("GET", "/health"); n != 0 {
		t.Errorf("%d health requests to a stopped channel", n)
	}
}

// The public URL line: not set, answering "ok", answering something else,
// redirecting, and not answering at all.
func TestDoctorPublicURL(t *testing.T) {
	e := newEnv(t)
	checks := e.doctor()
	want(t, checks, CheckPublicURL, OutcomeWarn, "not set", "wait for the next poll")
	want(t, checks, CheckWebhooks, OutcomeSkip, "no public URL")

	tests := []struct {
		name    string
		healthz http.HandlerFunc
		o       Outcome
		words   []string
	}{
		{"ok", answersOK, OutcomePass, []string{"/healthz answered “ok” in"}},
		{"an error", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", 500) }, OutcomeFail,
			[]string{"answered 500 Internal Server Error", "is this the address of this app?"}},
		{"another app", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>hello</html>")) }, OutcomeFail,
			[]string{"not with this app's “ok”"}},
		{"a redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://desk.example.com/healthz", http.StatusMovedPermanently)
		}, OutcomeFail, []string{"301 Moved Permanently", "a redirect to https://desk.example.com/healthz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := e.publicApp(tt.healthz)
			want(t, e.doctor(), CheckPublicURL, tt.o, append(tt.words, base)...)
		})
	}
	t.Run("nothing listens there", func(t *testing.T) {
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		e.svc.SetPublicURL(gone.URL)
		want(t, e.doctor(), CheckPublicURL, OutcomeFail, gone.URL+"/healthz did not answer", "connection refused")
	})
}

// The webhooks line counts the running channels whose webhook is
// registered under the public address: a warning until every one has it.
func TestDoctorWebhooks(t *testing.T) {
	e := newEnv(t)
	u := e.customer("amal", 3, 30, 90)
	e.create(u.ID, "before") // made without a public address: no webhook
	e.publicApp(answersOK)
	want(t, e.doctor(), CheckWebhooks, OutcomeWarn, "running channels with a webhook: 0 of 1", "the next sync")
	e.create(u.ID, "after")
	want(t, e.doctor(), CheckWebhooks, OutcomeWarn, "1 of 2")
	if _, err := e.svc.Reconcile(e.ctx); err != nil {
		t.Fatal(err)
	}
	want(t, e.doctor(), CheckWebhooks, OutcomePass, "2 of 2")
	// Another public address: the webhooks registered under the old one
	// do not count.
	e.publicApp(answersOK)
	want(t, e.doctor(), CheckWebhooks, OutcomeWarn, "0 of 2")
}
