package handlers

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// Two projects WHAPI lists, neither of them whapidesk's default setting.
const (
	mainProject  = "Main0project0id00001"
	otherProject = "Other0project0id0002"
)

// whapiRequests counts the requests WHAPI received with method and path.
func (a *testApp) whapiRequests(method, path string) int {
	n := 0
	for _, r := range a.sim.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// pickForm matches one project's "Use this project" form: its action, the
// CSRF field and the project id it posts.
var pickForm = regexp.MustCompile(`(?s)<form method="post" action="/admin/settings/whapi/project" hx-post="/admin/settings/whapi/project"[^>]*>\s*<input type="hidden" name="_csrf" value="[^"]+">\s*<input type="hidden" name="project_id" value="([^"]+)">`)

// The settings page names an unknown project plainly and lists WHAPI's
// projects (name, id, default) from the last check, each with a one-click
// form; picking one saves it, audited, and the page shows it in use.
func TestSettingsPagePicksAProjectWHAPIListed(t *testing.T) {
	a, c := adminClient(t, func(o *appOptions) { o.sim.ProjectIDs = []string{mainProject, otherProject} })
	r := c.saveToken(a.partnerToken)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.StatusCode, r.body)
	}
	page := c.get("/admin/settings/whapi").body
	for _, want := range []string{
		"WHAPI does not know the project id " + models.DefaultProjectID + ", so channels cannot be created there: pick one of your WHAPI projects below.",
		`data-testid="project-picker-alert"`,
		"The project id <span class=\"mono\">" + models.DefaultProjectID + "</span> is not one of your WHAPI projects, so no channel can be created",
		"Default project", "Project " + otherProject, // the names WHAPI gave them
	} {
		if !strings.Contains(page, want) {
			t.Fatalf("the settings page lacks %q:\n%s", want, page)
		}
	}
	var offered []string
	for _, m := range pickForm.FindAllStringSubmatch(page, -1) {
		offered = append(offered, m[1])
	}
	if strings.Join(offered, ",") != mainProject+","+otherProject {
		t.Fatalf("projects offered to pick: %v", offered)
	}
	rows := regexp.MustCompile(`(?s)<tr data-testid="project-row" data-project-id="([^"]+)">(.*?)</tr>`).FindAllStringSubmatch(page, -1)
	if len(rows) != 2 || !strings.Contains(rows[0][2], ">Default<") || strings.Contains(rows[1][2], ">Default<") ||
		!strings.Contains(rows[0][2], mainProject) || !strings.Contains(rows[1][2], otherProject) {
		t.Fatalf("project rows (name, id, default): %q", rows)
	}

	// The page shows the kept list without asking WHAPI again.
	a.sim.ResetRequests()
	c.get("/admin/settings/whapi")
	c.get("/admin")
	if n := len(a.sim.Requests()); n != 0 {
		t.Fatalf("viewing the pages called WHAPI %d times", n)
	}

	// A pick of a project WHAPI did not list is refused beside the list,
	// and changes nothing.
	before, _ := a.store.Settings(context.Background())
	audits, _ := a.store.ListAudit(context.Background(), 100, 0)
	r = c.submit("/admin/settings/whapi", "/admin/settings/whapi/project", url.Values{"project_id": {"Forged0project0id003"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-project_pick">This is not one of the projects WHAPI listed: use “Test connection” to list them again.<`) {
		t.Fatalf("unlisted pick: %d %s", r.StatusCode, r.body)
	}
	after, _ := a.store.Settings(context.Background())
	if after.ProjectID != before.ProjectID || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatal("a refused pick changed the settings")
	}
	if n := len(a.sim.Requests()); n != 0 {
		t.Fatalf("a refused pick called WHAPI %d times", n)
	}
	if a2, _ := a.store.ListAudit(context.Background(), 100, 0); len(a2) != len(audits) {
		t.Fatal("a refused pick was audited")
	}

	// One click on the second project: saved, checked with WHAPI, audited.
	r = c.submit("/admin/settings/whapi", "/admin/settings/whapi/project", url.Values{"project_id": {otherProject}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/settings/whapi" {
		t.Fatalf("pick: %d %s", r.StatusCode, r.body)
	}
	st, _ := a.store.Settings(context.Background())
	if st.ProjectID != otherProject || st.ProjectStatus() != models.ProjectKnown || a.whapiRequests("GET", "/projects") != 1 {
		t.Fatalf("after the pick: project %s %s, %d checks", st.ProjectID, st.ProjectStatus(), a.whapiRequests("GET", "/projects"))
	}
	page = c.get("/admin/settings/whapi").body
	if !strings.Contains(page, html.EscapeString("New channels are now created in the project “Project "+otherProject+"” ("+otherProject+"): WHAPI confirmed it.")) ||
		strings.Contains(page, "project-picker-alert") || !strings.Contains(page, `data-testid="project-in-use"`) {
		t.Fatalf("the page after the pick:\n%s", page)
	}
	if m := pickForm.FindAllStringSubmatch(page, -1); len(m) != 1 || m[0][1] != mainProject {
		t.Fatalf("after the pick, the page offers %q; want only the other project", m)
	}
	evs, _ := a.store.ListAudit(context.Background(), 10, 0)
	var audited bool
	for _, ev := range evs {
		if ev.Action == "settings.whapi.update" && ev.ActorEmail == "admin@example.com" &&
			strings.Contains(ev.Detail, "project id "+models.DefaultProjectID+" → "+otherProject+" (picked from WHAPI's projects: “Project "+otherProject+"”)") {
			audited = true
		}
	}
	if !audited {
		t.Fatalf("the pick is not audited: %+v", evs)
	}

	// The API shows the same: the status, and the projects to pick from.
	var got struct {
		ProjectID     string `json:"project_id"`
		ProjectStatus string `json:"project_status"`
		Projects      []struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Default bool   `json:"default"`
		} `json:"projects"`
		ProjectsListedAt *string `json:"projects_listed_at"`
	}
	if r := c.jsonReq("GET", "/api/settings/whapi", ""); r.StatusCode != 200 || json.Unmarshal([]byte(r.body), &got) != nil {
		t.Fatalf("GET /api/settings/whapi: %d %s", r.StatusCode, r.body)
	}
	if got.ProjectID != otherProject || got.ProjectStatus != "known" || len(got.Projects) != 2 || got.Projects[0].ID != mainProject ||
		!got.Projects[0].Default || got.Projects[1].Default || got.Projects[1].Name != "Project "+otherProject || got.ProjectsListedAt == nil {
		t.Fatalf("GET /api/settings/whapi: %+v", got)
	}
}

// While the project is not one WHAPI listed, creating a channel is
// refused everywhere — with what to do on the admin's surfaces, and a
// neutral "temporarily unavailable" for customers, who never read WHAPI's
// name — and no PUT /channels is sent. Once the admin picks the project,
// channels are created there.
func TestCreateRefusedWhileTheProjectIsUnknown(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { simOwnProjects(&o.appOptions) })
	f.newUser(models.RoleAdmin, "admin@example.com")
	admin := f.client()
	admin.login("admin@example.com")
	admin.saveToken(f.partnerToken)
	if st, _ := f.store.Settings(context.Background()); st.ProjectStatus() != models.ProjectUnknown {
		t.Fatalf("project %s is %s, want unknown: the simulator's default project must not be whapidesk's", st.ProjectID, st.ProjectStatus())
	}
	u := f.customer("amal@example.com", true)
	customer := f.client()
	customer.login(u.Email)

	// The customer's page.
	r := customer.submit("/app", "/app/channels", url.Values{"name": {"Shop"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.StatusCode, r.body)
	}
	dash := customer.get("/app").body
	if !strings.Contains(dash, "Adding channels is temporarily unavailable. Nothing was charged; please try again later.") {
		t.Fatalf("the customer is not told:\n%s", dash)
	}
	// The customer's API.
	custKey, _, err := f.store.CreateAPIKey(context.Background(), models.SystemActor, u.ID, "k")
	if err != nil {
		t.Fatal(err)
	}
	r = f.client().jsonReq("POST", "/api/channels", `{"name":"Shop"}`, "Authorization", "Bearer "+custKey)
	if e := apiWant(t, r, http.StatusServiceUnavailable, "unavailable"); e.Error.Message != "adding channels is temporarily unavailable; nothing was changed: try again later" {
		t.Fatalf("customer API: %d %s", r.StatusCode, r.body)
	}
	for where, text := range map[string]string{"page": dash, "API": r.body} {
		low := strings.ToLower(text)
		for _, word := range []string{"whapi", "project", strings.ToLower(models.DefaultProjectID), strings.ToLower(whapisim.DefaultProjectID)} {
			if strings.Contains(low, word) {
				t.Errorf("the customer's %s says %q", where, word)
			}
		}
	}

	// The admin's API and dashboard say what to do.
	adminUser, _ := f.store.UserByEmail(context.Background(), "admin@example.com")
	adminKey, _, err := f.store.CreateAPIKey(context.Background(), models.SystemActor, adminUser.ID, "k")
	if err != nil {
		t.Fatal(err)
	}
	body := `{"name":"Shop","user_id":` + jsonInt(u.ID) + `}`
	r = f.client().jsonReq("POST", "/api/channels", body, "Authorization", "Bearer "+adminKey)
	if e := apiWant(t, r, http.StatusConflict, "project_unknown"); e.Error.Message != "the project id "+models.DefaultProjectID+" is not one of your WHAPI projects: pick one in WHAPI Settings; no channel was created" {
		t.Fatalf("admin API: %d %s", r.StatusCode, r.body)
	}
	home := admin.get("/admin").body
	if !strings.Contains(home, `data-testid="project-warning">New channels cannot be created: the project id <span class="mono">`+models.DefaultProjectID+
		`</span> is not one of your WHAPI projects. <a href="/admin/settings/whapi">Pick one in WHAPI Settings</a>.`) {
		t.Fatalf("the dashboard does not warn:\n%s", home)
	}

	if n := f.whapiRequests("PUT", "/channels"); n != 0 {
		t.Fatalf("PUT /channels was sent %d times with a project WHAPI did not list", n)
	}
	if _, total, _ := f.store.ListChannels(context.Background(), models.ChannelFilter{IncludeGone: true, Limit: 10}); total != 0 {
		t.Fatalf("refused creates left %d channels", total)
	}

	// The admin picks WHAPI's project; the customer's channel is made there.
	if r := admin.submit("/admin/settings/whapi", "/admin/settings/whapi/project", url.Values{"project_id": {whapisim.DefaultProjectID}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("pick: %d %s", r.StatusCode, r.body)
	}
	if r := customer.submit("/app", "/app/channels", url.Values{"name": {"Shop"}}); r.StatusCode != http.StatusSeeOther || !strings.HasSuffix(r.Header.Get("Location"), "/connect") {
		t.Fatalf("create after the pick: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	chs := f.sim.Channels()
	if len(chs) != 1 || chs[0].ProjectID != whapisim.DefaultProjectID || f.whapiRequests("PUT", "/channels") != 1 {
		t.Fatalf("WHAPI's channels: %+v", chs)
	}
	if strings.Contains(admin.get("/admin").body, "project-warning") {
		t.Fatal("the dashboard still warns after the pick")
	}
}

// When WHAPI cannot say whether it lists the project, creating a channel
// is refused too (the safe reading): the admin is told to test the
// connection, the customer that it is temporarily unavailable.
func TestCreateRefusedWhileWHAPICannotConfirmTheProject(t *testing.T) {
	f := newCustFix(t)
	f.newUser(models.RoleAdmin, "admin@example.com")
	admin := f.client()
	admin.login("admin@example.com")
	// WHAPI does not answer the token's check, nor the two creates' own.
	f.sim.InjectFault(whapisim.Fault{Path: "/projects", Kind: whapisim.FaultStatus, Status: 503, Times: 3})
	admin.saveToken(f.partnerToken)
	u := f.customer("amal@example.com", true)
	customer := f.client()
	customer.login(u.Email)

	if r := customer.submit("/app", "/app/channels", url.Values{"name": {"Shop"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.StatusCode, r.body)
	}
	if dash := customer.get("/app").body; !strings.Contains(dash, "Adding channels is temporarily unavailable.") || strings.Contains(strings.ToLower(dash), "whapi") {
		t.Fatalf("the customer's page:\n%s", dash)
	}
	adminUser, _ := f.store.UserByEmail(context.Background(), "admin@example.com")
	adminKey, _, _ := f.store.CreateAPIKey(context.Background(), models.SystemActor, adminUser.ID, "k")
	r := f.client().jsonReq("POST", "/api/channels", `{"name":"Shop","user_id":`+jsonInt(u.ID)+`}`, "Authorization", "Bearer "+adminKey)
	if e := apiWant(t, r, http.StatusServiceUnavailable, "project_unchecked"); !strings.HasPrefix(e.Error.Message, "WHAPI could not be asked whether the project id "+models.DefaultProjectID+" is one of your WHAPI projects, so no channel was created") {
		t.Fatalf("admin API: %d %s", r.StatusCode, r.body)
	}
	if n := f.whapiRequests("PUT", "/channels"); n != 0 {
		t.Fatalf("PUT /channels was sent %d times with a project WHAPI has not listed", n)
	}
	// WHAPI answers again: the next create asks it, and goes on.
	if r := customer.submit("/app", "/app/channels", url.Values{"name": {"Shop"}}); r.StatusCode != http.StatusSeeOther || !strings.HasSuffix(r.Header.Get("Location"), "/connect") {
		t.Fatalf("create once WHAPI answers: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if n := f.whapiRequests("PUT", "/channels"); n != 1 {
		t.Fatalf("PUT /channels %d times, want 1", n)
	}
}

func jsonInt(id int64) string {
	b, _ := json.Marshal(id)
	return string(b)
}
