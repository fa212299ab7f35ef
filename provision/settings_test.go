package provision

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
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

// A slow check of an old token must not mark a newer token as checked.
func TestLateCheckOfReplacedTokenChangesNothing(t *testing.T) {
	good := genToken(1300)
	wrong := genToken(1300)
	// The check of the wrong token is held in front of the simulator until
	// the newer token is saved and checked: the late answer comes last
	// however the goroutines are scheduled, with no guessed delay.
	arrived, release := make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	svc, store, _ := newTestServiceBehind(t, good, func(sim http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/projects" && r.Header.Get("Authorization") == "Bearer "+wrong && held.CompareAndSwap(false, true) {
				close(arrived)
				<-release
			}
			sim.ServeHTTP(w, r)
		})
	})
	unhold := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unhold) // before the server closes, should the test stop early
	ctx := context.Background()

	var wg sync.WaitGroup
	var slow *SettingsResult
	var slowErr error
	wg.Go(func() { slow, slowErr = svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: wrong}) })
	select {
	case <-arrived: // the slow request is in flight
	case <-time.After(time.Minute):
		t.Fatal("the check of the first token never reached WHAPI")
	}
	fast, err := svc.SaveWHAPISettings(ctx, admin, SettingsInput{PartnerToken: good})
	unhold()
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if slowErr != nil {
		t.Fatal(slowErr)
	}
	if fast.Check.Status != models.VerifyVerified || slow.Check.Status != models.VerifyRefused {
		t.Fatalf("checks: fast %s, slow %s", fast.Check.Status, slow.Check.Status)
	}
	st, err := store.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := store.PartnerToken(ctx); tok != "Bearer "+good {
		t.Fatal("the newer token is not the stored one")
	}
	if st.VerifyStatus != models.VerifyVerified {
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
