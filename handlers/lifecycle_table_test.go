package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// lifecycleRow is one row of the lifecycle: a channel state, or a running
// state whose line WHAPI holds stopped (a flag on running channels, not a
// state of its own: it keeps the state's slot and days).
type lifecycleRow struct {
	st      models.ChannelStatus
	stopped bool
}

func (r lifecycleRow) String() string {
	if r.stopped {
		return string(r.st) + "+stopped"
	}
	return string(r.st)
}

// Short names for the table below.
const (
	aConnect = provision.ActConnect
	aExtend  = provision.ActExtend
	aRestart = provision.ActRestart
	aStop    = provision.ActStop
	aStart   = provision.ActStart
	aDelete  = provision.ActDelete
	aSync    = provision.ActSync
	aTestMsg = provision.ActTestMessage
	busy     = "channel_busy"
)

// lifecycleWant is the documented rule (docs/api.md, README "Design
// notes"): for each channel state (and each running state stopped) and
// action, "" when the action is open, else the code every surface refuses
// it with. It is written out here, not read from provision, so that a
// change of the lifecycle that nobody meant fails this test.
var lifecycleWant = map[lifecycleRow]map[provision.Action]string{
	{models.ChannelPending, false}:  {aConnect: "", aExtend: busy, aRestart: busy, aStop: busy, aStart: busy, aDelete: busy, aSync: busy, aTestMsg: busy},
	{models.ChannelTrial, false}:    {aConnect: "", aExtend: "", aRestart: "", aStop: "", aStart: "channel_running", aDelete: "", aSync: "", aTestMsg: "not_linked"},
	{models.ChannelTrial, true}:     {aConnect: "no_code", aExtend: "", aRestart: "channel_stopped", aStop: "channel_stopped", aStart: "", aDelete: "", aSync: "", aTestMsg: "channel_stopped"},
	{models.ChannelActive, false}:   {aConnect: "", aExtend: "", aRestart: "", aStop: "", aStart: "channel_running", aDelete: "", aSync: "", aTestMsg: "not_linked"},
	{models.ChannelActive, true}:    {aConnect: "no_code", aExtend: "", aRestart: "channel_stopped", aStop: "channel_stopped", aStart: "", aDelete: "", aSync: "", aTestMsg: "channel_stopped"},
	{models.ChannelExpired, false}:  {aConnect: "no_code", aExtend: "", aRestart: busy, aStop: busy, aStart: busy, aDelete: "", aSync: "", aTestMsg: busy},
	{models.ChannelDeleting, false}: {aConnect: "no_code", aExtend: busy, aRestart: busy, aStop: busy, aStart: busy, aDelete: busy, aSync: busy, aTestMsg: busy},
	{models.ChannelDeleted, false}:  {aConnect: "no_code", aExtend: busy, aRestart: busy, aStop: busy, aStart: busy, aDelete: "already_deleted", aSync: busy, aTestMsg: busy},
	{models.ChannelFailed, false}:   {aConnect: "no_code", aExtend: busy, aRestart: busy, aStop: busy, aStart: busy, aDelete: "", aSync: busy, aTestMsg: busy},
}

// lifecycleRows are the rows the lifecycle has, in its order: every state,
// and after each one that can be stopped, the same state stopped.
func lifecycleRows() []lifecycleRow {
	var rows []lifecycleRow
	remote := "ABCDEF-12345"
	for _, st := range provision.ChannelStates {
		rows = append(rows, lifecycleRow{st, false})
		if provision.CheckState(&models.Channel{Status: st, WhapiID: &remote}, provision.ActStop) == nil {
			rows = append(rows, lifecycleRow{st, true})
		}
	}
	return rows
}

// lifecycleFix makes channels in every state for one auto-mode customer
// on a roomy plan, with an admin and API keys for both.
type lifecycleFix struct {
	*custFix
	cust, admin       *models.User
	custKey, adminKey string
	adminC, custC     *testClient
	expired           []*models.Channel // made ten days back: their days have run out
	made              int
	ctx               context.Context
}

func newLifecycleFix(t *testing.T, expired int) *lifecycleFix {
	f := &lifecycleFix{ctx: context.Background()}
	f.custFix = newCustFix(t, func(o *custOptions) {
		o.manualClock = true
		o.maxChannels = 200
		o.sim.CreateLimit = 1000 // this test makes many channels; the limit has tests of its own
		o.sim.BalanceDays = 100000
	})
	f.cust = f.customer("cust@example.com", true)
	// Manual: a new channel stays on its trial (auto mode would give it
	// days at once); the top-up's selection is read in auto mode.
	f.setMode(models.AllocationManual)
	f.admin = f.newUser(models.RoleAdmin, "admin@example.com")
	var err error
	if f.custKey, _, err = f.store.CreateAPIKey(f.ctx, models.SystemActor, f.cust.ID, "table"); err != nil {
		t.Fatal(err)
	}
	if f.adminKey, _, err = f.store.CreateAPIKey(f.ctx, models.SystemActor, f.admin.ID, "table"); err != nil {
		t.Fatal(err)
	}
	f.adminC, f.custC = f.signedIn(f.admin.Email), f.signedIn(f.cust.Email)
	// Expired channels are made ten days back (their trial has run out by
	// now); every other channel is made now, with its days still ahead.
	start := f.clock.Now()
	f.clock.Set(start.Add(-10 * 24 * time.Hour))
	for i := 0; i < expired; i++ {
		f.expired = append(f.expired, f.trial())
	}
	f.clock.Set(start)
	for _, ch := range f.expired {
		if got, err := f.svc.Sync(f.ctx, ch.ID); err != nil || got.Status != models.ChannelExpired {
			t.Fatalf("expire channel %d: %v %+v", ch.ID, err, got)
		}
	}
	return f
}

func (f *lifecycleFix) setMode(m models.AllocationMode) {
	f.t.Helper()
	if err := f.store.SetAllocationMode(f.ctx, models.SystemActor, f.cust.ID, m); err != nil {
		f.t.Fatal(err)
	}
}

func (f *lifecycleFix) trial() *models.Channel {
	f.t.Helper()
	f.made++
	return f.channel(f.cust, fmt.Sprintf("Line %d", f.made))
}

// in returns a new channel in row r's state, stopped when r says so.
func (f *lifecycleFix) in(r lifecycleRow) *models.Channel {
	f.t.Helper()
	ch := f.inState(r.st)
	if r.stopped {
		var err error
		if ch, err = f.svc.Stop(f.ctx, models.SystemActor, ch.ID); err != nil || !provision.IsStopped(ch) {
			f.t.Fatalf("stop a %s channel: %v", r.st, err)
		}
	}
	return ch
}

// inState returns a new channel in state st (expired ones come from the
// stock made first).
func (f *lifecycleFix) inState(st models.ChannelStatus) *models.Channel {
	f.t.Helper()
	ctx, t := f.ctx, f.t
	switch st {
	case models.ChannelPending:
		f.made++
		ch, _, err := f.store.ReserveChannel(ctx, models.SystemActor, f.cust.ID, fmt.Sprintf("Line %d", f.made), "")
		if err != nil {
			t.Fatal(err)
		}
		return ch
	case models.ChannelFailed:
		f.made++
		ch, op, err := f.store.ReserveChannel(ctx, models.SystemActor, f.cust.ID, fmt.Sprintf("Line %d", f.made), "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.FailCreate(ctx, op.ID, "refused upstream"); err != nil {
			t.Fatal(err)
		}
		return f.reload(ch)
	case models.ChannelTrial:
		return f.trial()
	case models.ChannelActive:
		ch, err := f.svc.Extend(ctx, models.SystemActor, provision.ExtendInput{ChannelID: f.trial().ID, Days: 10, Comment: "paid"})
		if err != nil {
			t.Fatal(err)
		}
		// WHAPI takes the next extend of it once its cool-down is over.
		f.clock.Advance(whapisim.DefaultExtendCoolDown)
		return ch
	case models.ChannelExpired:
		if len(f.expired) == 0 {
			t.Fatal("no expired channel left: make more in newLifecycleFix")
		}
		ch := f.expired[0]
		f.expired = f.expired[1:]
		return f.reload(ch)
	case models.ChannelDeleting:
		ch := f.trial()
		if _, err := f.store.ReserveDelete(ctx, models.SystemActor, ch.ID); err != nil {
			t.Fatal(err)
		}
		return f.reload(ch)
	case models.ChannelDeleted:
		ch := f.trial()
		if _, err := f.svc.Delete(ctx, models.SystemActor, ch.ID); err != nil {
			t.Fatal(err)
		}
		return f.reload(ch)
	}
	t.Fatalf("no fixture for state %q", st)
	return nil
}

// answer is what one surface said: "" for done, else the refusal's code.
type answer struct{ surface, code string }

// flashAfter follows a redirect and returns the flash the page shows.
func flashAfter(t *testing.T, c *testClient, r result) string {
	t.Helper()
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want a redirect: %.300s", r.StatusCode, r.body)
	}
	return flashText(c.get(r.Header.Get("Location")).body)
}

// rowOf is the admin list's row of a channel.
func rowOf(t *testing.T, page string, id int64) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<tr id="channel-` + strconv.FormatInt(id, 10) + `" data-testid="channel-row">.*?</tr>`)
	row := re.FindString(page)
	if row == "" {
		t.Fatalf("channel %d is not on the admin list", id)
	}
	return row
}

// TestLifecycleTable walks every channel state × every action × every
// surface — the buttons a page shows, the page's form post, the JSON API,
// the background jobs' selections — and asserts one answer per (state,
// action): the lifecycleWant above.
//
// A customer's pages never show a channel that is gone (deleted or never
// made): there every action on it answers 404, which is asserted apart.
func TestLifecycleTable(t *testing.T) {
	f := newLifecycleFix(t, 20)
	ctx := f.ctx
	rows := lifecycleRows()
	if len(rows) != len(lifecycleWant) {
		t.Fatalf("the lifecycle has the rows %v, lifecycleWant has %d", rows, len(lifecycleWant))
	}
	for _, row := range rows {
		want := lifecycleWant[row]
		if want == nil {
			t.Fatalf("row %v has no row in lifecycleWant", row)
		}
		if len(want) != len(provision.Actions) {
			t.Fatalf("row %v has %d actions in lifecycleWant, the lifecycle %d", row, len(want), len(provision.Actions))
		}
		st := row.st
		t.Run(row.String(), func(t *testing.T) {
			gone := st == models.ChannelDeleted || st == models.ChannelFailed
			for _, a := range provision.Actions {
				t.Run(string(a), func(t *testing.T) {
					var got []answer
					say := func(surface string, done bool, code string) {
						if done {
							code = ""
						}
						got = append(got, answer{surface, code})
					}
					// The domain: what Permit says (settings included).
					ch := f.in(row)
					err := f.svc.Permit(ctx, ch, a)
					code := ""
					if err != nil {
						if _, c, _, ok := domainError(err); ok {
							code = c
						} else if err == provision.ErrNoQR {
							code = "no_code"
						} else {
							t.Fatalf("Permit: %v", err)
						}
					}
					say("provision.Permit", err == nil, code)

					// Admin list: the button.
					list := f.adminC.get("/admin/channels?status=" + string(st)).body // newest first: ch is on its first page
					listRow := rowOf(t, list, ch.ID)
					// Admin customer page: the button (gone channels are not listed).
					user := f.adminC.get(userPath(f.cust.ID)).body
					// Customer dashboard: the link.
					dash := f.custC.get("/app").body
					card := regexp.MustCompile(`(?s)<article[^>]*id="channel-` + strconv.FormatInt(ch.ID, 10) + `".*?</article>`).FindString(dash)
					if !gone && card == "" {
						t.Fatalf("channel %d has no card on the dashboard", ch.ID)
					}
					switch a {
					case provision.ActConnect:
						if !gone {
							say("customer dashboard link", strings.Contains(card, "/connect"), want[a])
						}
						// The JSON connect state, as the owner.
						r := f.custC.jsonReq(http.MethodGet, "/api/channels/"+strconv.FormatInt(ch.ID, 10)+"/qr", "", "Authorization", "Bearer "+f.custKey)
						switch {
						case gone:
							if r.StatusCode != http.StatusNotFound {
								t.Errorf("API qr of a gone channel: %d", r.StatusCode)
							}
						default:
							body := apiDecode[struct{ State string }](t, r)
							say("API qr", slices.Contains([]string{"qr", "preparing", "connected"}, body.State), "no_code")
						}
						// The connect page, as the owner.
						page := f.custC.get(connectPath(ch.ID, ""))
						if gone {
							custWant(t, page, http.StatusNotFound)
						} else {
							custWant(t, page, http.StatusOK)
							step := regexp.MustCompile(`data-step="([a-z]+)"`).FindStringSubmatch(page.body)
							if step == nil {
								t.Fatalf("the connect page shows no step: %.300s", page.body)
							}
							say("connect page", slices.Contains([]string{"qr", "preparing", "connected"}, step[1]), "no_code")
						}
					case provision.ActExtend:
						say("admin list button", strings.Contains(listRow, "extend="+strconv.FormatInt(ch.ID, 10)), want[a])
						if !gone {
							say("customer page button", userChannelHas(t, user, ch.ID, "/extend"), want[a])
						}
						// The form post.
						before := f.reload(ch).DaysAllocated
						r := f.adminC.submit("/admin/channels", adminChannelPath(ch.ID, "extend"), url.Values{"days": {"1"}, "comment": {"table"}})
						flashAfter(t, f.adminC, r)
						say("admin extend post", f.reload(ch).DaysAllocated == before+1, want[a])
						// The API, on a fresh channel in the same state.
						ch2 := f.in(row)
						ar := f.adminC.jsonReq(http.MethodPost, "/api/channels/"+strconv.FormatInt(ch2.ID, 10)+"/extend", `{"days":1,"comment":"table"}`, "Authorization", "Bearer "+f.adminKey)
						say("API extend", ar.StatusCode == http.StatusOK, apiCode(t, ar))
						// The auto top-up's selection.
						f.setMode(models.AllocationAuto)
						cands, err := f.store.TopUpCandidates(ctx, f.cust.ID, f.svc.Now(), f.svc.Now().Add(10000*24*time.Hour))
						f.setMode(models.AllocationManual)
						if err != nil {
							t.Fatal(err)
						}
						say("top-up job", slices.ContainsFunc(cands, func(c models.TopUpCandidate) bool { return c.ChannelID == ch2.ID }), want[a])
					case provision.ActDelete:
						say("admin list button", strings.Contains(listRow, adminChannelPath(ch.ID, "delete")), want[a])
						if !gone {
							say("customer page button", userChannelHas(t, user, ch.ID, "/delete"), want[a])
							say("customer dashboard link", strings.Contains(card, custChannelPath(ch.ID, "/delete")), want[a])
						}
						r := f.adminC.submit("/admin/channels", adminChannelPath(ch.ID, "delete"), url.Values{})
						flashAfter(t, f.adminC, r)
						after := f.reload(ch).Status
						say("admin delete post", st != models.ChannelDeleted && after == models.ChannelDeleted, want[a])
						ch2 := f.in(row)
						ar := f.adminC.jsonReq(http.MethodDelete, "/api/channels/"+strconv.FormatInt(ch2.ID, 10), "", "Authorization", "Bearer "+f.adminKey)
						say("API delete (admin)", ar.StatusCode == http.StatusOK, apiCode(t, ar))
						ch3 := f.in(row)
						cr := f.custC.jsonReq(http.MethodDelete, "/api/channels/"+strconv.FormatInt(ch3.ID, 10), "", "Authorization", "Bearer "+f.custKey)
						say("API delete (owner)", cr.StatusCode == http.StatusOK, apiCode(t, cr))
						ch4 := f.in(row)
						pr := f.custC.submit("/app", custChannelPath(ch4.ID, "/delete"), url.Values{})
						if gone {
							custWant(t, pr, http.StatusNotFound)
						} else {
							flashAfter(t, f.custC, pr)
							say("customer delete post", f.reload(ch4).Status == models.ChannelDeleted, want[a])
						}
					case provision.ActRestart, provision.ActStop, provision.ActStart:
						path := adminChannelPath(ch.ID, string(a))
						say("admin list button", strings.Contains(listRow, path), want[a])
						if !gone {
							say("customer page button", userChannelHas(t, user, ch.ID, "/"+string(a)), want[a])
						}
						// The confirmation page offers the button, or says why not.
						page := f.adminC.get(path)
						if page.StatusCode != http.StatusOK {
							t.Fatalf("confirm page: %d", page.StatusCode)
						}
						say("admin confirm page", strings.Contains(page.body, `data-testid="line-effect"`) && !strings.Contains(page.body, `data-testid="delete-busy"`), want[a])
						// The form posts: from the list, and from the customer's page.
						done := f.lineDone(ch, a)
						flashAfter(t, f.adminC, f.adminC.submit(path, path, url.Values{}))
						say("admin "+string(a)+" post", done(), want[a])
						ch3 := f.in(row)
						done = f.lineDone(ch3, a)
						userAction := userPath(f.cust.ID) + "/channels/" + strconv.FormatInt(ch3.ID, 10) + "/" + string(a)
						flashAfter(t, f.adminC, f.adminC.submit(userPath(f.cust.ID), userAction, url.Values{}))
						say("customer page "+string(a)+" post", done(), want[a])
						// The API, on a fresh channel in the same row.
						ch2 := f.in(row)
						done = f.lineDone(ch2, a)
						ar := f.adminC.jsonReq(http.MethodPost, "/api/channels/"+strconv.FormatInt(ch2.ID, 10)+"/"+string(a), "", "Authorization", "Bearer "+f.adminKey)
						say("API "+string(a), ar.StatusCode == http.StatusOK && done(), apiCode(t, ar))
					case provision.ActTestMessage:
						say("admin list button", strings.Contains(listRow, adminChannelPath(ch.ID, "test-message")), want[a])
						if !gone {
							say("customer page button", userChannelHas(t, user, ch.ID, "/test-message"), want[a])
						}
						sent := len(f.sim.Messages())
						ar := f.adminC.jsonReq(http.MethodPost, "/api/channels/"+strconv.FormatInt(ch.ID, 10)+"/test-message", `{"to":"447700900123"}`, "Authorization", "Bearer "+f.adminKey)
						say("API test-message", ar.StatusCode == http.StatusCreated && len(f.sim.Messages()) == sent+1, apiCode(t, ar))
					case provision.ActSync:
						say("admin list button", strings.Contains(listRow, adminChannelPath(ch.ID, "sync")), want[a])
						remote := ch.RemoteID()
						n := 0
						if remote != "" {
							n = f.sim.CountRequests(http.MethodGet, "/channels/"+remote)
						}
						r := f.adminC.submit("/admin/channels", adminChannelPath(ch.ID, "sync"), url.Values{})
						flashAfter(t, f.adminC, r)
						say("admin sync post", remote != "" && f.sim.CountRequests(http.MethodGet, "/channels/"+remote) > n, want[a])
						ids, err := f.store.SyncableChannelIDs(ctx)
						if err != nil {
							t.Fatal(err)
						}
						say("reconcile job", slices.Contains(ids, ch.ID), want[a])
					}
					for _, g := range got {
						if g.code != want[a] {
							t.Errorf("%v %s on %s: answered %q, want %q", row, a, g.surface, g.code, want[a])
						}
					}
				})
			}
		})
	}
}

// lineDone returns a check of whether a (a restart, stop or start) was
// done to ch: a restart reached WHAPI, a stop or start changed the line
// here and at WHAPI alike.
func (f *lifecycleFix) lineDone(ch *models.Channel, a provision.Action) func() bool {
	remote := ch.RemoteID()
	restarts := 0
	if remote != "" {
		restarts = f.sim.CountRequests(http.MethodPost, "/channels/"+remote+"/restart")
	}
	was := provision.IsStopped(ch)
	return func() bool {
		if remote == "" {
			return false
		}
		now := provision.IsStopped(f.reload(ch))
		sim, _ := f.sim.Channel(remote)
		switch a {
		case provision.ActRestart:
			return f.sim.CountRequests(http.MethodPost, "/channels/"+remote+"/restart") > restarts && now == was
		case provision.ActStop:
			return !was && now && sim.Halted
		}
		return was && !now && !sim.Halted
	}
}

// userChannelHas reports whether the admin's customer page offers the
// channel's action (its path ends in suffix).
func userChannelHas(t *testing.T, page string, id int64, suffix string) bool {
	t.Helper()
	return strings.Contains(page, "/channels/"+strconv.FormatInt(id, 10)+suffix)
}

// apiCode is the error code of an API answer, "" for a 2xx.
func apiCode(t *testing.T, r result) string {
	t.Helper()
	if r.StatusCode < 300 {
		return ""
	}
	return apiDecode[apiErrorBody](t, r).Error.Code
}

func adminChannelPath(id int64, action string) string {
	return "/admin/channels/" + strconv.FormatInt(id, 10) + "/" + action
}
