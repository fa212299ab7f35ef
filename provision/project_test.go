package provision

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// ownProjects: the partner has only the simulator's own default project,
// which is not whapidesk's default setting (a new install).
func ownProjects(o *envOpts) { o.sim.ProjectIDs, o.ownProjects = nil, true }

// creates are the PUT /channels requests WHAPI received, and the project
// ids they named.
func (e *env) creates() []string {
	var ids []string
	for _, r := range e.sim.Requests() {
		if r.Method == "PUT" && r.Path == "/channels" {
			var body struct {
				ProjectID string `json:"projectId"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				e.t.Fatalf("PUT /channels body: %v", err)
			}
			ids = append(ids, body.ProjectID)
		}
	}
	return ids
}

// projectChecks counts the GET /projects requests WHAPI received.
func (e *env) projectChecks() int {
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Method == "GET" && r.Path == "/projects" {
			n++
		}
	}
	return n
}

// refusedForProject checks that a create was refused for the project with
// nothing reserved, no day moved and nothing sent to PUT /channels.
func (e *env) refusedForProject(u *models.User, wantUnchecked bool) {
	e.t.Helper()
	before := e.user(u.ID).DayBalance
	ch, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: "line"})
	var pe *ProjectError
	if !errors.As(err, &pe) || pe.Unchecked != wantUnchecked || ch != nil {
		e.t.Fatalf("create: %v, %v; want a ProjectError (unchecked %v)", ch, err, wantUnchecked)
	}
	st, _ := e.store.Settings(e.ctx)
	if pe.ProjectID != st.ProjectID {
		e.t.Fatalf("the error names project %q, the settings %q", pe.ProjectID, st.ProjectID)
	}
	if got := e.creates(); len(got) != 0 {
		e.t.Fatalf("PUT /channels was sent with %v", got)
	}
	if n, _ := e.store.CountLiveChannels(e.ctx, u.ID); n != 0 {
		e.t.Fatalf("%d channels reserved", n)
	}
	if rows, total, _ := e.store.ListChannels(e.ctx, models.ChannelFilter{UserID: u.ID, IncludeGone: true, Limit: 10}); total != 0 {
		e.t.Fatalf("a refused create left channel rows: %+v", rows)
	}
	if after := e.user(u.ID).DayBalance; after != before {
		e.t.Fatalf("balance %d → %d", before, after)
	}
	e.checkBooks()
}

// The project is unknown (a new install on the simulator's own project):
// creates are refused without a word to PUT /channels until the admin picks
// a project WHAPI listed; then they go to that project.
func TestCreateRefusedUntilAListedProjectIsPicked(t *testing.T) {
	e := newEnv(t, ownProjects)
	st, _ := e.store.Settings(e.ctx)
	if st.ProjectStatus() != models.ProjectUnknown || st.ProjectID != models.DefaultProjectID {
		t.Fatalf("after saving the token: project %s is %s, want unknown", st.ProjectID, st.ProjectStatus())
	}
	want := []models.Project{{ID: whapisim.DefaultProjectID, Name: "Default project", Default: true}}
	if !slices.Equal(st.Projects, want) || st.ProjectsListedAt == nil {
		t.Fatalf("kept projects %+v at %v, want %+v", st.Projects, st.ProjectsListedAt, want)
	}
	u := e.customer("amal", 2, 30, 60)
	e.refusedForProject(u, false)
	if n := e.projectChecks(); n != 0 {
		t.Fatalf("an unknown project was asked about again (%d GET /projects): the last answer stands", n)
	}

	// An id WHAPI did not list is not picked: nothing changes.
	audits, _ := e.store.ListAudit(e.ctx, 100, 0)
	for _, id := range []string{"abcdefghij0123456789", models.DefaultProjectID, "", "bad id!"} {
		_, err := e.svc.PickProject(e.ctx, admin, id)
		var fe FieldErrors
		if !errors.As(err, &fe) || !strings.Contains(fe["project_id"], "not one of the projects WHAPI listed") {
			t.Fatalf("pick %q: %v", id, err)
		}
	}
	if after, _ := e.store.Settings(e.ctx); after.ProjectID != st.ProjectID || !after.UpdatedAt.Equal(st.UpdatedAt) {
		t.Fatal("a refused pick changed the settings")
	}
	if a2, _ := e.store.ListAudit(e.ctx, 100, 0); len(a2) != len(audits) {
		t.Fatal("a refused pick was audited")
	}
	if len(e.sim.Requests()) != 0 {
		t.Fatal("a refused pick called WHAPI")
	}

	// The admin picks WHAPI's project: audited with its name, checked.
	res, err := e.svc.PickProject(e.ctx, admin, whapisim.DefaultProjectID)
	if err != nil || !res.Changed || res.Check == nil || res.Check.ProjectKnown == nil || !*res.Check.ProjectKnown {
		t.Fatalf("pick: %+v %v", res, err)
	}
	evs, _ := e.store.ListAudit(e.ctx, 5, 0)
	found := false
	for _, ev := range evs {
		if ev.Action == "settings.whapi.update" && ev.ActorEmail == admin.Email &&
			strings.Contains(ev.Detail, "project id "+models.DefaultProjectID+" → "+whapisim.DefaultProjectID+" (picked from WHAPI's projects: “Default project”)") {
			found = true
		}
	}
	if !found {
		t.Fatalf("the pick is not audited: %+v", evs)
	}
	ch := e.create(u.ID, "line")
	if got := e.creates(); !slices.Equal(got, []string{whapisim.DefaultProjectID}) {
		t.Fatalf("PUT /channels sent with %v", got)
	}
	if sc, ok := e.sim.Channel(ch.RemoteID()); !ok || sc.ProjectID != whapisim.DefaultProjectID {
		t.Fatalf("WHAPI's channel: %+v", sc)
	}
}

// The project was never checked (a token saved while WHAPI could not be
// reached): the create asks WHAPI first, and the answer decides. While
// WHAPI cannot be asked, the create is refused: nothing is sent with an
// id WHAPI has not listed.
func TestCreateWithAnUncheckedProjectAsksWHAPIFirst(t *testing.T) {
	t.Run("WHAPI unreachable, then back", func(t *testing.T) {
		e := newEnv(t)
		u := e.customer("amal", 2, 30, 60)
		e.sim.InjectFault(whapisim.Fault{Path: "/projects", Kind: whapisim.FaultStatus, Status: 503, Times: 2})
		if _, _, err := e.svc.TestConnection(e.ctx, admin); err != nil {
			t.Fatal(err)
		}
		if st, _ := e.store.Settings(e.ctx); st.ProjectStatus() != models.ProjectUnchecked || len(st.Projects) != 1 {
			t.Fatalf("after an unanswered check: %s, projects %+v", st.ProjectStatus(), st.Projects)
		}
		e.refusedForProject(u, true)
		if n := e.projectChecks(); n != 2 {
			t.Fatalf("GET /projects %d times, want 2 (the test, then the create's own check)", n)
		}
		// WHAPI answers again: the next create asks, then creates.
		e.create(u.ID, "line")
		if n, got := e.projectChecks(), e.creates(); n != 3 || !slices.Equal(got, []string{models.DefaultProjectID}) {
			t.Fatalf("GET /projects %d times, PUT /channels with %v", n, got)
		}
		if st, _ := e.store.Settings(e.ctx); st.ProjectStatus() != models.ProjectKnown {
			t.Fatalf("the create's check was not kept: %s", st.ProjectStatus())
		}
		evs, _ := e.store.ListAudit(e.ctx, 5, 0)
		if !slices.ContainsFunc(evs, func(ev models.AuditEvent) bool {
			return ev.Action == "settings.whapi.verify" && ev.ActorEmail == models.SystemActor.Email
		}) {
			t.Fatalf("the create's check is not audited as the system's: %+v", evs)
		}
		e.create(u.ID, "second")
		if n := e.projectChecks(); n != 3 {
			t.Fatalf("a known project was asked about again: %d GET /projects", n)
		}
	})
	t.Run("WHAPI refuses the token", func(t *testing.T) {
		e := newEnv(t)
		u := e.customer("amal", 2, 30, 60)
		e.sim.SetPartnerToken(genToken(1300)) // revoked at WHAPI
		if _, _, err := e.svc.TestConnection(e.ctx, admin); err != nil {
			t.Fatal(err)
		}
		e.refusedForProject(u, true)
	})
	t.Run("never checked, and WHAPI does not list it", func(t *testing.T) {
		e := newEnv(t, ownProjects)
		u := e.customer("amal", 2, 30, 60)
		// The project id changes (by hand, say): not checked yet.
		pid := "abcdefghij0123456789"
		if _, _, err := e.store.UpdateSettings(e.ctx, admin, models.SettingsChange{ProjectID: &pid}); err != nil {
			t.Fatal(err)
		}
		e.refusedForProject(u, false)
		if n := e.projectChecks(); n != 1 {
			t.Fatalf("GET /projects %d times, want 1", n)
		}
		if st, _ := e.store.Settings(e.ctx); st.ProjectStatus() != models.ProjectUnknown {
			t.Fatalf("the create's check was not kept: %s", st.ProjectStatus())
		}
	})
}

// The project id "default" (WHAPI's alias of the default project) is sent
// as the id WHAPI listed for its default project.
func TestCreateWithTheDefaultAliasNamesTheListedProject(t *testing.T) {
	e := newEnv(t, ownProjects)
	res, err := e.svc.SaveWHAPISettings(e.ctx, admin, SettingsInput{ProjectID: "default"})
	if err != nil || res.Check == nil || res.Check.ProjectKnown == nil || !*res.Check.ProjectKnown {
		t.Fatalf("saving project id default: %+v %v", res, err)
	}
	u := e.customer("amal", 2, 30, 60)
	e.create(u.ID, "line")
	if got := e.creates(); !slices.Equal(got, []string{whapisim.DefaultProjectID}) {
		t.Fatalf("PUT /channels sent with %v, want the listed default %s", got, whapisim.DefaultProjectID)
	}
	if st, _ := e.store.Settings(e.ctx); st.ProjectID != "default" {
		t.Fatalf("the setting became %q", st.ProjectID)
	}
}
