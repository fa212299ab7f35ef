package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

func newTestService(t *testing.T, simToken string) (*Service, *models.Store, *whapisim.Sim) {
	t.Helper()
	return newTestServiceBehind(t, simToken, nil)
}

// newTestServiceBehind is newTestService with the simulator served behind
// front (nil: none), a handler of the test's that may hold requests back.
func newTestServiceBehind(t *testing.T, simToken string, front func(http.Handler) http.Handler) (*Service, *models.Store, *whapisim.Sim) {
	t.Helper()
	te := testenv.New(t, testenv.Options{States: States(), Sim: whapisim.Options{PartnerToken: simToken},
		Timeout: whapi.DefaultTimeout, SimFront: front})
	store, sim := te.Store, te.Sim
	client := te.Client(whapi.WithLogger(slog.New(slog.DiscardHandler)))
	return New(store, client, slog.New(slog.DiscardHandler)), store, sim
}

var admin = models.Actor{Email: "admin@example.com"}

// holdFront holds, in front of the simulator, the first request to path
// whose Authorization is auth, until release is closed; arrived is closed
// when it is held. The late answer then comes last however goroutines are
// scheduled, with no guessed delay.
type holdFront struct {
	path, auth       string
	arrived, release chan struct{}
	held             atomic.Bool
}

func newHold(path, auth string) *holdFront {
	return &holdFront{path: path, auth: auth, arrived: make(chan struct{}), release: make(chan struct{})}
}

func (h *holdFront) front(sim http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == h.path && r.Header.Get("Authorization") == h.auth && h.held.CompareAndSwap(false, true) {
			close(h.arrived)
			<-h.release
		}
		sim.ServeHTTP(w, r)
	})
}

// wait waits until the held request is in flight.
func (h *holdFront) wait(t *testing.T) {
	t.Helper()
	select {
	case <-h.arrived:
	case <-time.After(time.Minute):
		t.Fatal("the held request never reached WHAPI")
	}
}

// settingsState is the row as a comparable text, pointers followed.
func settingsState(t *testing.T, store *models.Store) string {
	t.Helper()
	st, err := store.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deref := func(p *time.Time) string {
		if p == nil {
			return "nil"
		}
		return p.UTC().Format(time.RFC3339Nano)
	}
	known := "nil"
	if st.ProjectKnown != nil {
		known = fmt.Sprint(*st.ProjectKnown)
	}
	return fmt.Sprintf("tok=%s hint=%s by=%s at=%s project=%s status=%s verified=%s known=%s projects=%v listed=%s low=%d window=%d updated=%s",
		st.PartnerTokenEnc, st.TokenHint, st.TokenChangedBy, deref(st.TokenChangedAt), st.ProjectID, st.VerifyStatus, deref(st.VerifiedAt),
		known, st.Projects, deref(st.ProjectsListedAt), st.LowBalanceThreshold, st.TopupWindowDays, st.UpdatedAt.UTC().Format(time.RFC3339Nano))
}

func auditCount(t *testing.T, store *models.Store) int {
	t.Helper()
	evs, err := store.ListAudit(context.Background(), 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// projectsAuths are the Authorization headers of the GET /projects the
// simulator received, in order.
func projectsAuths(sim *whapisim.Sim) []string {
	var out []string
	for _, r := range sim.Requests() {
		if r.Path == "/projects" {
			out = append(out, r.Authorization)
		}
	}
	return out
}

// A new token that WHAPI refuses does not replace the verified one: the
// current token, its status and every other setting of the same submit
// stay as they were, nothing is audited, and the refusal carries WHAPI's
// status (401, or 403 — both a refusal of the token).
func TestRefusedTokenKeepsTheCurrentOne(t *testing.T) {
	for _, status := range []int{401, 403} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			good := genToken(1300)
			svc, store, sim := newTestService(t, good)
			ctx := context.Background()
			if _, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: "Bearer " + good}); err != nil {
				t.Fatal(err)
			}
			before, audits := settingsState(t, store), auditCount(t, store)
			if st, _ := store.Settings(ctx); st.VerifyStatus != models.VerifyVerified {
				t.Fatalf("the first token is %s", st.VerifyStatus)
			}
			candidate := genToken(1300) // not the token WHAPI knows: 401
			if status == 403 {
				candidate = good + "x" // any token: the fault answers first
				sim.InjectFault(whapisim.Fault{Path: "/projects", Kind: whapisim.FaultStatus, Status: 403})
			}
			sim.ResetRequests()
			low, window := int64(5), int64(9)
			_, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: "Bearer " + candidate,
				ProjectID: "kpSv3OFq9PkP1W1Ogv7p", LowBalanceThreshold: &low, TopupWindowDays: &window})
			var refused *TokenRefusedError
			if !errors.As(err, &refused) || refused.Status != status || !refused.Kept {
				t.Fatalf("saving a refused token: %v, want *TokenRefusedError{%d, kept}", err, status)
			}
			if got := projectsAuths(sim); len(got) != 1 || got[0] != "Bearer "+candidate {
				t.Fatalf("WHAPI was not asked once with the new token (%d /projects requests)", len(got))
			}
			if after := settingsState(t, store); after != before {
				t.Fatalf("a refused token changed the settings:\nbefore %s\nafter  %s", before, after)
			}
			if tok, _ := store.PartnerToken(ctx); tok != "Bearer "+good {
				t.Fatal("the current token is not the one in use")
			}
			if auditCount(t, store) != audits {
				t.Fatal("a refused save wrote an audit event")
			}
		})
	}
}

// "Save it anyway" saves a token WHAPI refuses, marked refused, with the
// rest of the submit; the audit says so.
func TestReplaceRefusedSavesItMarkedRefused(t *testing.T) {
	good := genToken(1300)
	svc, store, _ := newTestService(t, good)
	ctx := context.Background()
	if _, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: good}); err != nil {
		t.Fatal(err)
	}
	wrong := genToken(1300)
	low := int64(5)
	res, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: wrong, LowBalanceThreshold: &low, ReplaceRefused: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Check == nil || res.Check.Status != models.VerifyRefused || !res.Check.Recorded || !res.Changed {
		t.Fatalf("result: %+v check %+v", res, res.Check)
	}
	st, _ := store.Settings(ctx)
	if tok, _ := store.PartnerToken(ctx); tok != "Bearer "+wrong || st.VerifyStatus != models.VerifyRefused || st.LowBalanceThreshold != 5 ||
		st.VerifiedAt == nil || st.TokenHint != TokenHint("Bearer "+wrong) || st.ProjectKnown != nil || len(st.Projects) != 0 {
		t.Fatalf("saved anyway: %s", settingsState(t, store))
	}
	evs, _ := store.ListAudit(ctx, 2, 0)
	if len(evs) != 2 || evs[0].Detail != "WHAPI check: refused" || !strings.Contains(evs[1].Detail, "partner token replaced") {
		t.Fatalf("audit: %+v", evs)
	}

	// Without a token there is nothing to save anyway: a field error,
	// nothing changed.
	before := settingsState(t, store)
	_, err = svc.SaveWHAPISettings(ctx, admin, SettingsInput{ReplaceRefused: true, LowBalanceThreshold: &low})
	var fe FieldErrors
	if !errors.As(err, &fe) || fe["partner_token"] != ErrReplaceNeedsToken.Error() {
		t.Fatalf("save anyway without a token: %v", err)
	}
	if settingsState(t, store) != before {
		t.Fatal("save anyway without a token changed the settings")
	}
}

// With no token saved yet, a token WHAPI refuses is not saved either
// unless the admin says so: the first token is held to the same rule.
func TestRefusedFirstTokenIsNotSavedWithoutTheChoice(t *testing.T) {
	svc, store, _ := newTestService(t, genToken(1300))
	ctx := context.Background()
	before := settingsState(t, store)
	wrong := genToken(1300)
	_, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: wrong})
	var refused *TokenRefusedError
	if !errors.As(err, &refused) || refused.Status != 401 || refused.Kept {
		t.Fatalf("first token refused: %v", err)
	}
	if settingsState(t, store) != before {
		t.Fatal("a refused first token changed the settings")
	}
	if _, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: wrong, ReplaceRefused: true}); err != nil {
		t.Fatal(err)
	}
	if st, _ := store.Settings(ctx); !st.Configured() || st.VerifyStatus != models.VerifyRefused {
		t.Fatalf("saved anyway: %s", settingsState(t, store))
	}
}

// When WHAPI does not answer (a 5xx after the GET's retries, or no answer
// in time), the new token is saved as before, marked not verified; when
// it accepts, saved verified with its projects, the project known or not
// against the project id saved with it.
func TestNewTokenUnreachableOrAccepted(t *testing.T) {
	good := genToken(1300)
	t.Run("5xx", func(t *testing.T) {
		svc, store, sim := newTestService(t, good)
		sim.InjectFault(whapisim.Fault{Path: "/projects", Kind: whapisim.FaultStatus, Status: 503, Times: 3})
		res, err := svc.SaveWHAPISettings(context.Background(), admin, SettingsInput{PartnerToken: good})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := store.Settings(context.Background())
		if tok, _ := store.PartnerToken(context.Background()); tok != "Bearer "+good || st.VerifyStatus != models.VerifyUnreachable ||
			res.Check.Status != models.VerifyUnreachable || st.ProjectKnown != nil {
			t.Fatalf("saved: %s", settingsState(t, store))
		}
		if auths := projectsAuths(sim); len(auths) == 0 || auths[0] != "Bearer "+good {
			t.Fatal("WHAPI was not asked with the new token")
		}
	})
	t.Run("no answer in time", func(t *testing.T) {
		te := testenv.New(t, testenv.Options{States: States(), Sim: whapisim.Options{PartnerToken: good}, Timeout: 300 * time.Millisecond})
		svc := New(te.Store, te.Client(whapi.WithLogger(slog.New(slog.DiscardHandler)), whapi.WithRetries(0, 0)), slog.New(slog.DiscardHandler))
		te.Sim.InjectFault(whapisim.Fault{Path: "/projects", Kind: whapisim.FaultHang, Times: 2})
		if _, err := svc.SaveWHAPISettings(context.Background(), admin, SettingsInput{PartnerToken: good}); err != nil {
			t.Fatal(err)
		}
		if st, _ := te.Store.Settings(context.Background()); !st.Configured() || st.VerifyStatus != models.VerifyUnreachable {
			t.Fatalf("saved: %s", settingsState(t, te.Store))
		}
	})
	t.Run("accepted", func(t *testing.T) {
		svc, store, _ := newTestService(t, good)
		low := int64(7)
		res, err := svc.SaveWHAPISettings(context.Background(), admin, SettingsInput{PartnerToken: good, ProjectID: "kpSv3OFq9PkP1W1Ogv7p", LowBalanceThreshold: &low})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := store.Settings(context.Background())
		if st.VerifyStatus != models.VerifyVerified || st.ProjectID != "kpSv3OFq9PkP1W1Ogv7p" || st.ProjectKnown == nil || *st.ProjectKnown ||
			len(st.Projects) != 1 || st.Projects[0].ID != models.DefaultProjectID || st.ProjectsListedAt == nil || st.LowBalanceThreshold != 7 {
			t.Fatalf("saved: %s", settingsState(t, store))
		}
		if res.Check.Status != models.VerifyVerified || res.Check.ProjectKnown == nil || *res.Check.ProjectKnown || res.Check.Projects != 1 {
			t.Fatalf("check: %+v", res.Check)
		}
		// The listed project: known.
		if _, err := svc.SaveWHAPISettings(context.Background(), admin, SettingsInput{PartnerToken: good, ProjectID: models.DefaultProjectID}); err != nil {
			t.Fatal(err)
		}
		if st, _ := store.Settings(context.Background()); st.ProjectStatus() != models.ProjectKnown {
			t.Fatalf("saved: %s", settingsState(t, store))
		}
	})
}

// The reseller's ~1,300-character token pasted with "Bearer " in front
// (once, twice, any case) is checked and saved as "Bearer <token>", and
// WHAPI receives it exactly so — at the check before the save and after.
func TestLongBearerTokenCheckedAndSentOnce(t *testing.T) {
	good := genToken(1300)
	for _, paste := range []string{"Bearer " + good, "Bearer Bearer " + good, "bearer " + good, good} {
		svc, store, sim := newTestService(t, good)
		ctx := context.Background()
		if _, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: paste}); err != nil {
			t.Fatal(err)
		}
		if tok, _ := store.PartnerToken(ctx); tok != "Bearer "+good {
			t.Fatalf("stored %.20q…", tok)
		}
		if _, _, err := svc.TestConnection(ctx, admin); err != nil {
			t.Fatal(err)
		}
		auths := projectsAuths(sim)
		if len(auths) != 2 {
			t.Fatalf("%d /projects requests, want the check before the save and the test", len(auths))
		}
		for _, a := range auths {
			if a != "Bearer "+good {
				t.Fatalf("WHAPI received %.20q…, want exactly \"Bearer <token>\"", a)
			}
		}
		if st, _ := store.Settings(ctx); st.VerifyStatus != models.VerifyVerified {
			t.Fatalf("status %s", st.VerifyStatus)
		}
	}
}

// Two admins saving at once: the save that reaches the database last wins
// as a whole, and the status on the row is always that of the token
// stored with it, whichever check answers first. The check of a new token
// is held at WHAPI while the other save completes.
func TestConcurrentSavesEndConsistent(t *testing.T) {
	good, wrong := genToken(1300), genToken(1300)
	ctx := context.Background()
	consistent := func(t *testing.T, store *models.Store, wantTok string, want models.VerifyStatus) {
		t.Helper()
		st, _ := store.Settings(ctx)
		if tok, _ := store.PartnerToken(ctx); tok != "Bearer "+wantTok || st.VerifyStatus != want || st.TokenHint != TokenHint(tok) {
			t.Fatalf("after both saves: token as wanted %v, status %s (want %s)", tok == "Bearer "+wantTok, st.VerifyStatus, want)
		}
	}
	t.Run("the good token's check is slow", func(t *testing.T) {
		hold := newHold("/projects", "Bearer "+good)
		svc, store, _ := newTestServiceBehind(t, good, hold.front)
		unhold := sync.OnceFunc(func() { close(hold.release) })
		t.Cleanup(unhold)
		var wg sync.WaitGroup
		var slowErr error
		wg.Go(func() { _, slowErr = svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: good}) })
		hold.wait(t)
		if _, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: wrong, ReplaceRefused: true}); err != nil {
			t.Fatal(err)
		}
		consistent(t, store, wrong, models.VerifyRefused)
		unhold()
		wg.Wait()
		if slowErr != nil {
			t.Fatal(slowErr)
		}
		consistent(t, store, good, models.VerifyVerified)
	})
	t.Run("the refused token's check is slow", func(t *testing.T) {
		hold := newHold("/projects", "Bearer "+wrong)
		svc, store, _ := newTestServiceBehind(t, good, hold.front)
		unhold := sync.OnceFunc(func() { close(hold.release) })
		t.Cleanup(unhold)
		var wg sync.WaitGroup
		var slowErr error
		wg.Go(func() {
			_, slowErr = svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: wrong, ReplaceRefused: true})
		})
		hold.wait(t)
		if _, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: good}); err != nil {
			t.Fatal(err)
		}
		consistent(t, store, good, models.VerifyVerified)
		unhold()
		wg.Wait()
		if slowErr != nil {
			t.Fatal(slowErr)
		}
		consistent(t, store, wrong, models.VerifyRefused)
	})
	t.Run("the project id changes while a new token is checked", func(t *testing.T) {
		hold := newHold("/projects", "Bearer "+good)
		svc, store, _ := newTestServiceBehind(t, good, hold.front)
		unhold := sync.OnceFunc(func() { close(hold.release) })
		t.Cleanup(unhold)
		var wg sync.WaitGroup
		var slowErr error
		wg.Go(func() { _, slowErr = svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: good}) })
		hold.wait(t)
		// Another admin sets a project id WHAPI does not list (no token is
		// saved yet, so nothing is checked: not configured is no error).
		if _, _, err := store.UpdateSettings(ctx, admin, models.SettingsChange{ProjectID: new("kpSv3OFq9PkP1W1Ogv7p")}); err != nil {
			t.Fatal(err)
		}
		unhold()
		wg.Wait()
		if slowErr != nil {
			t.Fatal(slowErr)
		}
		st, _ := store.Settings(ctx)
		if st.ProjectID != "kpSv3OFq9PkP1W1Ogv7p" || st.ProjectStatus() != models.ProjectUnknown || st.VerifyStatus != models.VerifyVerified {
			t.Fatalf("the project's status is not that of the project id saved: %s", settingsState(t, store))
		}
	})
}

// A slow "Test connection" of a token that was replaced meanwhile must not
// mark the newer token with its answer.
func TestLateCheckOfReplacedTokenChangesNothing(t *testing.T) {
	old, next := genToken(1300), genToken(1300)
	hold := newHold("/projects", "Bearer "+old)
	svc, store, sim := newTestServiceBehind(t, old, hold.front)
	ctx := context.Background()
	// Saved while WHAPI still accepted it; its check is not held (the
	// hold takes the first matching request only after it is armed).
	hold.held.Store(true)
	if _, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: old}); err != nil {
		t.Fatal(err)
	}
	hold.held.Store(false)
	sim.SetPartnerToken(next) // WHAPI rotated it
	unhold := sync.OnceFunc(func() { close(hold.release) })
	t.Cleanup(unhold)

	var wg sync.WaitGroup
	var slow *Check
	var slowErr error
	wg.Go(func() { slow, _, slowErr = svc.TestConnection(ctx, admin) })
	hold.wait(t)
	fast, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: next})
	unhold()
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if slowErr != nil {
		t.Fatal(slowErr)
	}
	if fast.Check.Status != models.VerifyVerified || slow.Status != models.VerifyRefused || slow.Recorded {
		t.Fatalf("checks: fast %s, slow %s (recorded %v)", fast.Check.Status, slow.Status, slow.Recorded)
	}
	if tok, _ := store.PartnerToken(ctx); tok != "Bearer "+next {
		t.Fatal("the newer token is not the stored one")
	}
	if st, _ := store.Settings(ctx); st.VerifyStatus != models.VerifyVerified {
		t.Fatalf("the late refusal of the old token overwrote the new token's status: %s", st.VerifyStatus)
	}
}

func TestSaveRequiresATokenFirstAndKeepsItWhenEmpty(t *testing.T) {
	good := genToken(1300)
	svc, store, sim := newTestService(t, good)
	ctx := context.Background()

	_, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{ProjectID: "kpSv3OFq9PkP1W1Ogv7p"})
	var fe FieldErrors
	if !errors.As(err, &fe) || fe["partner_token"] == "" {
		t.Fatalf("first save without a token: %v", err)
	}
	if st, _ := store.Settings(ctx); st.ProjectID != models.DefaultProjectID {
		t.Fatal("a refused save changed the project id")
	}
	if len(sim.Requests()) != 0 {
		t.Fatal("a refused save called WHAPI")
	}

	if _, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: "Bearer " + good}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{ProjectID: "kpSv3OFq9PkP1W1Ogv7p"})
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := store.PartnerToken(ctx); tok != "Bearer "+good {
		t.Fatal("an empty token field replaced the token")
	}
	if res.Check == nil || res.Check.ProjectKnown == nil || *res.Check.ProjectKnown {
		t.Fatal("a changed project id must be checked again (and this one is unknown)")
	}

	// Nothing changed: no audit event, no WHAPI call.
	before := len(sim.Requests())
	res, err = svc.SaveWHAPISettings(ctx, admin, SettingsInput{ProjectID: "kpSv3OFq9PkP1W1Ogv7p"})
	if err != nil || res.Changed {
		t.Fatalf("unchanged save: changed=%v err=%v", res.Changed, err)
	}
	if len(sim.Requests()) != before {
		t.Fatal("an unchanged, verified save called WHAPI again")
	}
}
