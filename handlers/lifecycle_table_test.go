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

// lifecycleWant is the documented rule (docs/api.md, README "Design
// notes"): for each channel state and action, "" when the action is open,
// else the code every surface refuses it with. It is written out here, not
// read from provision, so that a change of the lifecycle that nobody meant
// fails this test.
var lifecycleWant = map[models.ChannelStatus]map[provision.Action]string{
	models.ChannelPending:  {provision.ActConnect: "", provision.ActExtend: "channel_busy", provision.ActDelete: "channel_busy", provision.ActSync: "channel_busy"},
	models.ChannelTrial:    {provision.ActConnect: "", provision.ActExtend: "", provision.ActDelete: "", provision.ActSync: ""},
	models.ChannelActive:   {provision.ActConnect: "", provision.ActExtend: "", provision.ActDelete: "", provision.ActSync: ""},
	models.ChannelExpired:  {provision.ActConnect: "no_code", provision.ActExtend: "", provision.ActDelete: "", provision.ActSync: ""},
	models.ChannelDeleting: {provision.ActConnect: "no_code", provision.ActExtend: "channel_busy", provision.ActDelete: "channel_busy", provision.ActSync: "channel_busy"},
	models.ChannelDeleted:  {provision.ActConnect: "no_code", provision.ActExtend: "channel_busy", provision.ActDelete: "already_deleted", provision.ActSync: "channel_busy"},
	models.ChannelFailed:   {provision.ActConnect: "no_code", provision.ActExtend: "channel_busy", provision.ActDelete: "", provision.ActSync: "channel_busy"},
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

// in returns a new channel in state st (expired ones come from the stock
// made first).
func (f *lifecycleFix) in(st models.ChannelStatus) *models.Channel {
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
	f := newLifecycleFix(t, 8)
	ctx := f.ctx
	for _, st := range provision.ChannelStates {
		want := lifecycleWant[st]
		if want == nil {
			t.Fatalf("state %q has no row in lifecycleWant", st)
		}
		t.Run(string(st), func(t *testing.T) {
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
					ch := f.in(st)
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
					list := f.adminC.get("/admin/channels?status=all").body
					row := rowOf(t, list, ch.ID)
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
							say("connect page", !strings.Contains(page.body, `data-step="expired"`) && !strings.Contains(page.body, `data-step="failed"`), "no_code")
						}
					case provision.ActExtend:
						say("admin list button", strings.Contains(row, "extend="+strconv.FormatInt(ch.ID, 10)), want[a])
						if !gone {
							say("customer page button", userChannelHas(t, user, ch.ID, "/extend"), want[a])
						}
						// The form post.
						before := f.reload(ch).DaysAllocated
						r := f.adminC.submit("/admin/channels", adminChannelPath(ch.ID, "extend"), url.Values{"days": {"1"}, "comment": {"table"}})
						flashAfter(t, f.adminC, r)
						say("admin extend post", f.reload(ch).DaysAllocated == before+1, want[a])
						// The API, on a fresh channel in the same state.
						ch2 := f.in(st)
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
						say("admin list button", strings.Contains(row, adminChannelPath(ch.ID, "delete")), want[a])
						if !gone {
							say("customer page button", userChannelHas(t, user, ch.ID, "/delete"), want[a])
							say("customer dashboard link", strings.Contains(card, custChannelPath(ch.ID, "/delete")), want[a])
						}
						r := f.adminC.submit("/admin/channels", adminChannelPath(ch.ID, "delete"), url.Values{})
						flashAfter(t, f.adminC, r)
						after := f.reload(ch).Status
						say("admin delete post", st != models.ChannelDeleted && after == models.ChannelDeleted, want[a])
						ch2 := f.in(st)
						ar := f.adminC.jsonReq(http.MethodDelete, "/api/channels/"+strconv.FormatInt(ch2.ID, 10), "", "Authorization", "Bearer "+f.adminKey)
						say("API delete (admin)", ar.StatusCode == http.StatusOK, apiCode(t, ar))
						ch3 := f.in(st)
						cr := f.custC.jsonReq(http.MethodDelete, "/api/channels/"+strconv.FormatInt(ch3.ID, 10), "", "Authorization", "Bearer "+f.custKey)
						say("API delete (owner)", cr.StatusCode == http.StatusOK, apiCode(t, cr))
						ch4 := f.in(st)
						pr := f.custC.submit("/app", custChannelPath(ch4.ID, "/delete"), url.Values{})
						if gone {
							custWant(t, pr, http.StatusNotFound)
						} else {
							flashAfter(t, f.custC, pr)
							say("customer delete post", f.reload(ch4).Status == models.ChannelDeleted, want[a])
						}
					case provision.ActSync:
						say("admin list button", strings.Contains(row, adminChannelPath(ch.ID, "sync")), want[a])
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
							t.Errorf("%s %s on %s: answered %q, want %q", st, a, g.surface, g.code, want[a])
						}
					}
				})
			}
		})
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
