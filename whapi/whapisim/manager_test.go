package whapisim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// realProjectID is a project id as WHAPI issues them (from its example).
const realProjectID = "kpSv3OFq9PkP1W1Ogv7p"

var (
	wantChannelID = regexp.MustCompile(`^[A-Z]{6}-[A-Z0-9]{5}$`)
	wantToken     = regexp.MustCompile(`^[a-zA-Z0-9]{32}$`)
	wantOwner     = regexp.MustCompile(`^[a-zA-Z0-9]{28}$`)
)

func TestProjects(t *testing.T) {
	e := newEnv(t, Options{ProjectIDs: []string{"HPN0H0hFDL1GFg154PI", "abcdefghij0123456789"}})
	var got struct {
		Projects []struct {
			ID         string   `json:"id"`
			Name       string   `json:"name"`
			CreationTS int64    `json:"creationTS"`
			OwnerID    string   `json:"ownerId"`
			Users      []string `json:"users"`
			IsDefault  bool     `json:"isDefault"`
		} `json:"projects"`
		Count, Total, Offset int
	}
	decode(t, e.manager("GET", "/projects", nil), &got)
	if len(got.Projects) != 2 || got.Total != 2 || got.Count != 100 || got.Offset != 0 {
		t.Fatalf("projects = %+v", got)
	}
	p := got.Projects[0]
	if p.ID != "HPN0H0hFDL1GFg154PI" || !p.IsDefault || got.Projects[1].IsDefault || p.Users == nil ||
		p.CreationTS != t0().UnixMilli() || !wantOwner.MatchString(p.OwnerID) || p.Name == "" {
		t.Fatalf("projects = %+v", got.Projects)
	}
	// The 19-character id is accepted because it is listed; "default" is its alias.
	for _, pid := range []string{"HPN0H0hFDL1GFg154PI", "default"} {
		r := e.manager("PUT", "/channels", map[string]string{"name": "n", "projectId": pid})
		var ch wireChannel
		decode(t, r, &ch)
		if r.status != 200 || ch.ProjectID != "HPN0H0hFDL1GFg154PI" {
			t.Fatalf("create in %q: %d %s", pid, r.status, r.body)
		}
	}
	decode(t, e.manager("GET", "/projects?count=1&offset=1", nil), &got)
	if len(got.Projects) != 1 || got.Projects[0].ID != "abcdefghij0123456789" || got.Total != 2 || got.Count != 1 || got.Offset != 1 {
		t.Fatalf("page = %+v", got)
	}
	for _, q := range []string{"count=0", "count=501", "count=x", "offset=-1", "uid=short"} {
		wantError(t, e.manager("GET", "/projects?"+q, nil), 400)
	}

	// Without ProjectIDs the partner has one project, DefaultProjectID: an
	// id WHAPI could issue, and not whapidesk's default setting, which this
	// partner does not know.
	d := newEnv(t, Options{})
	if ids := d.sim.Projects(); len(ids) != 1 || ids[0] != DefaultProjectID {
		t.Fatalf("default projects = %v", ids)
	}
	if !regexp.MustCompile(`^[a-zA-Z0-9]{20}$`).MatchString(DefaultProjectID) || DefaultProjectID == "HPN0H0hFDL1GFg154PI" {
		t.Fatalf("DefaultProjectID %q: want 20 alphanumerics, not whapidesk's default setting", DefaultProjectID)
	}
	decode(t, d.manager("GET", "/projects", nil), &got)
	if len(got.Projects) != 1 || got.Projects[0].ID != DefaultProjectID || !got.Projects[0].IsDefault {
		t.Fatalf("default GET /projects = %+v", got)
	}
	wantError(t, d.manager("PUT", "/channels", map[string]string{"name": "n", "projectId": "HPN0H0hFDL1GFg154PI"}), 404)
	if r := d.manager("PUT", "/channels", map[string]string{"name": "n", "projectId": DefaultProjectID}); r.status != 200 {
		t.Fatalf("create in the default project: %d %s", r.status, r.body)
	}
	// A realistic partner does not know the 19-character id.
	realistic := newEnv(t, Options{ProjectIDs: []string{realProjectID}})
	wantError(t, realistic.manager("PUT", "/channels", map[string]string{"name": "n", "projectId": "HPN0H0hFDL1GFg154PI"}), 404)
	if r := realistic.manager("PUT", "/channels", map[string]string{"name": "n", "projectId": realProjectID}); r.status != 200 {
		t.Fatalf("create in %s: %d %s", realProjectID, r.status, r.body)
	}
}

func TestCreateChannel(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.manager("PUT", "/channels", map[string]string{"name": "Bot for Ukindo", "projectId": DefaultProjectID, "phone": "61371989950"})
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var ch wireChannel
	decode(t, r, &ch)
	day := int64(24 * time.Hour / time.Millisecond)
	switch {
	case !wantChannelID.MatchString(ch.ID), !wantToken.MatchString(ch.Token), !wantOwner.MatchString(ch.OwnerID):
		t.Fatalf("ids: %+v", ch)
	case ch.CreationTS != t0().UnixMilli():
		t.Fatalf("creationTS = %d, want epoch ms %d", ch.CreationTS, t0().UnixMilli())
	case ch.Trial == nil || *ch.Trial-ch.CreationTS != 5*day || ch.ActiveTill-ch.CreationTS != 6*day:
		t.Fatalf("trial/activeTill: %+v", ch)
	case ch.Mode != "trial" || ch.Status == nil || *ch.Status != "active" || ch.Stopped || ch.Server != 6:
		t.Fatalf("state: %+v", ch)
	case ch.APIURL != DefaultGateURL || ch.Name != "Bot for Ukindo" || ch.ProjectID != DefaultProjectID || ch.Phone != "61371989950":
		t.Fatalf("fields: %+v", ch)
	}
	if got := e.getChannel(ch.ID); !reflect.DeepEqual(got, ch) {
		t.Fatalf("GET = %+v, want %+v", got, ch)
	}
	st, ok := e.sim.Channel(ch.ID)
	if !ok || st.Token != ch.Token || st.Mode != "trial" || !st.CreationTS.Equal(t0()) || st.Linked || st.Deleted {
		t.Fatalf("state = %+v", st)
	}
}

func TestCreateChannelValidation(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name string
		body any
		want int
	}{
		{"lowercase projectid", map[string]string{"name": "n", "projectid": DefaultProjectID}, 400},
		{"ProjectID", map[string]string{"name": "n", "ProjectID": DefaultProjectID}, 400},
		{"missing name", map[string]string{"projectId": DefaultProjectID}, 400},
		{"empty name", map[string]string{"name": "", "projectId": DefaultProjectID}, 400},
		{"blank name", map[string]string{"name": "  ", "projectId": DefaultProjectID}, 400},
		{"Name", map[string]string{"Name": "n", "projectId": DefaultProjectID}, 400},
		{"numeric name", map[string]any{"name": 5, "projectId": DefaultProjectID}, 400},
		{"null name", map[string]any{"name": nil, "projectId": DefaultProjectID}, 400},
		{"missing projectId", map[string]string{"name": "n"}, 400},
		{"phone with plus", map[string]string{"name": "n", "projectId": DefaultProjectID, "phone": "+61371989950"}, 400},
		{"phone too short", map[string]string{"name": "n", "projectId": DefaultProjectID, "phone": "123456"}, 400},
		{"phone too long", map[string]string{"name": "n", "projectId": DefaultProjectID, "phone": "1234567890123456"}, 400},
		{"numeric phone", map[string]any{"name": "n", "projectId": DefaultProjectID, "phone": 61371989950}, 400},
		{"malformed JSON", `{"name":"n",`, 400},
		{"array", `[]`, 400},
		{"null", `null`, 400},
		{"no body", nil, 400},
		{"unknown project", map[string]string{"name": "n", "projectId": "zzzzzzzzzzzzzzzzzzzz"}, 404},
		{"empty phone is allowed by the spec", map[string]string{"name": "n", "projectId": DefaultProjectID, "phone": ""}, 200},
		{"extra fields ignored", map[string]string{"name": "n", "projectId": DefaultProjectID, "recurrentPaymentId": "x"}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.manager("PUT", "/channels", tc.body)
			if tc.want == 200 {
				if r.status != 200 {
					t.Fatalf("status %d %s", r.status, r.body)
				}
				return
			}
			wantError(t, r, tc.want)
		})
	}
	// A JSON body sent as text/plain is not read as JSON.
	plain, err := http.NewRequest("PUT", e.srv.URL+"/channels", strings.NewReader(`{"name":"n","projectId":"`+DefaultProjectID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	plain.Header.Set("Authorization", "Bearer "+testPartnerToken)
	plain.Header.Set("Content-Type", "text/plain")
	res, err := e.srv.Client().Do(plain)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("text/plain body: %d", res.StatusCode)
	}
	if n := len(e.sim.Channels()); n != 2 {
		t.Fatalf("%d channels created, want 2", n)
	}
}

func TestCreateRateLimit(t *testing.T) {
	e := newEnv(t, Options{})
	body := map[string]string{"name": "n", "projectId": DefaultProjectID}
	for i := range 20 {
		if r := e.manager("PUT", "/channels", body); r.status != 200 {
			t.Fatalf("create %d: %d %s", i+1, r.status, r.body)
		}
		if i == 0 {
			e.clock.Advance(time.Minute) // the oldest creation is at t0()
		}
	}
	r := e.manager("PUT", "/channels", body)
	wantError(t, r, 429)
	if got := r.header.Get("Retry-After"); got != strconv.Itoa(29*60) {
		t.Fatalf("Retry-After = %q, want %d", got, 29*60)
	}
	// Failed validation is still 400, not 429.
	wantError(t, e.manager("PUT", "/channels", map[string]string{"name": "n"}), 400)

	e.clock.Advance(10 * time.Minute)
	r = e.manager("PUT", "/channels", body)
	wantError(t, r, 429)
	if got := r.header.Get("Retry-After"); got != strconv.Itoa(19*60) {
		t.Fatalf("Retry-After = %q, want %d", got, 19*60)
	}

	// 30 minutes after the first creation it leaves the window: one more fits.
	e.clock.Set(t0().Add(30 * time.Minute))
	if r := e.manager("PUT", "/channels", body); r.status != 200 {
		t.Fatalf("after the window slid: %d %s", r.status, r.body)
	}
	wantError(t, e.manager("PUT", "/channels", body), 429)
	if n := len(e.sim.Channels()); n != 21 {
		t.Fatalf("%d channels, want 21", n)
	}
}

func TestListChannels(t *testing.T) {
	second := "abcdefghij0123456789"
	e := newEnv(t, Options{ProjectIDs: []string{DefaultProjectID, second}})
	var ids []string
	for i := range 5 {
		ids = append(ids, e.create(fmt.Sprintf("c%d", i)).ID)
	}
	r := e.manager("PUT", "/channels", map[string]string{"name": "p2", "projectId": second})
	var p2 wireChannel
	decode(t, r, &p2)
	wantSuccess(t, e.manager("DELETE", "/channels/"+ids[1], nil))

	type list struct {
		Channels             []wireChannel `json:"channels"`
		Count, Total, Offset int
	}
	var l list
	decode(t, e.manager("GET", "/channels/list", nil), &l)
	want := []string{ids[0], ids[2], ids[3], ids[4], p2.ID}
	if l.Total != 5 || l.Count != 100 || l.Offset != 0 || len(l.Channels) != 5 {
		t.Fatalf("list = %+v", l)
	}
	for i, ch := range l.Channels {
		if ch.ID != want[i] || !wantToken.MatchString(ch.Token) {
			t.Fatalf("list[%d] = %+v, want id %s", i, ch, want[i])
		}
	}
	decode(t, e.manager("GET", "/channels/list?count=2&offset=3", nil), &l)
	if len(l.Channels) != 2 || l.Channels[0].ID != ids[4] || l.Channels[1].ID != p2.ID || l.Total != 5 || l.Count != 2 || l.Offset != 3 {
		t.Fatalf("page = %+v", l)
	}
	decode(t, e.manager("GET", "/channels/list?offset=9", nil), &l)
	if l.Channels == nil || len(l.Channels) != 0 || l.Total != 5 {
		t.Fatalf("past the end = %+v", l)
	}
	decode(t, e.manager("GET", "/channels/list/"+second, nil), &l)
	if len(l.Channels) != 1 || l.Channels[0].ID != p2.ID {
		t.Fatalf("project list = %+v", l)
	}
	decode(t, e.manager("GET", "/channels/list/default", nil), &l)
	if len(l.Channels) != 4 {
		t.Fatalf("default project list = %+v", l)
	}
	wantError(t, e.manager("GET", "/channels/list/zzzzzzzzzzzzzzzzzzzz", nil), 404)
	for _, q := range []string{"count=0", "count=501", "count=1.5", "offset=-1", "offset=x"} {
		wantError(t, e.manager("GET", "/channels/list?"+q, nil), 400)
	}
	if r := e.manager("GET", "/channels/list?count=500", nil); r.status != 200 {
		t.Fatalf("count=500: %d", r.status)
	}
}

func TestExtend(t *testing.T) {
	e := newEnv(t, Options{BalanceDays: 100})
	ch := e.create("extend")
	path := "/channels/" + ch.ID + "/extend"
	invalid := []struct {
		name string
		body any
	}{
		{"no body", nil},
		{"missing days", map[string]any{"comment": "c"}},
		{"missing comment", map[string]any{"days": 5}},
		{"empty comment", map[string]any{"days": 5, "comment": ""}},
		{"zero days", map[string]any{"days": 0, "comment": "c"}},
		{"negative days", map[string]any{"days": -3, "comment": "c"}},
		{"fractional days", map[string]any{"days": 1.5, "comment": "c"}},
		{"string days", map[string]any{"days": "5", "comment": "c"}},
		{"null days", map[string]any{"days": nil, "comment": "c"}},
		{"bad currency", map[string]any{"days": 5, "comment": "c", "currency": "EUR"}},
		{"Days", map[string]any{"Days": 5, "comment": "c"}},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.manager("POST", path, tc.body), 400)
		})
	}
	wantError(t, e.manager("POST", "/channels/ABCDEF-12345/extend", map[string]any{"days": 5, "comment": "c"}), 404)
	if b := e.sim.Balance(); b != 100 {
		t.Fatalf("balance after failures = %d", b)
	}

	// Insufficient balance: 400, nothing moves.
	r := e.manager("POST", path, map[string]any{"days": 101, "comment": "c"})
	if wantError(t, r, 400).Error.Message != "Not enough days on the balance" {
		t.Fatalf("message: %s", r.body)
	}
	if b := e.sim.Balance(); b != 100 {
		t.Fatalf("balance = %d", b)
	}

	// During the trial the days are added to activeTill.
	e.clock.Advance(24 * time.Hour)
	wantSuccess(t, e.manager("POST", path, map[string]any{"days": 30, "comment": "[Whapi Billing] Auto Top-Up", "amount": 12.5, "currency": "USD"}))
	got := e.getChannel(ch.ID)
	if got.ActiveTill != t0().Add(36*24*time.Hour).UnixMilli() || got.Mode != "trial" {
		t.Fatalf("after extend: %+v", got)
	}
	if b := e.sim.Balance(); b != 70 {
		t.Fatalf("balance = %d, want 70", b)
	}

	// After expiry the days count from now.
	e.clock.Set(t0().Add(40 * 24 * time.Hour))
	if got := e.getChannel(ch.ID); !got.Stopped {
		t.Fatalf("expired channel not stopped: %+v", got)
	}
	wantSuccess(t, e.manager("POST", path, map[string]any{"days": 10.0, "comment": "c"}))
	got = e.getChannel(ch.ID)
	// It stays stopped until started (reference §5: "extend + start resumes").
	if got.ActiveTill != t0().Add(50*24*time.Hour).UnixMilli() || !got.Stopped {
		t.Fatalf("after late extend: %+v", got)
	}
	wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/start", nil))
	if got := e.getChannel(ch.ID); got.Stopped {
		t.Fatalf("after start: %+v", got)
	}
	st, _ := e.sim.Channel(ch.ID)
	if st.ExtendedDays != 40 || e.sim.Balance() != 60 {
		t.Fatalf("extended %d, balance %d", st.ExtendedDays, e.sim.Balance())
	}
	e.sim.SetBalance(3)
	e.clock.Advance(DefaultExtendCoolDown)
	wantError(t, e.manager("POST", path, map[string]any{"days": 4, "comment": "c"}), 400)
}

// A second extend of a channel within the cool-down WHAPI's changelog
// announces is refused, 429 with a Retry-After of the seconds left, and
// moves nothing; refused extends do not restart the window, other
// channels are not held back, and the window is an option.
func TestExtendCoolDown(t *testing.T) {
	e := newEnv(t, Options{BalanceDays: 100})
	a, b := e.create("a"), e.create("b")
	extend := func(id string) resp {
		return e.manager("POST", "/channels/"+id+"/extend", map[string]any{"days": 1, "comment": "c"})
	}
	wantSuccess(t, extend(a.ID))
	e.clock.Advance(2 * time.Minute)
	r := extend(a.ID)
	if wantError(t, r, 429); r.header.Get("Retry-After") != "180" {
		t.Fatalf("Retry-After %q, want 180 (3 minutes left)", r.header.Get("Retry-After"))
	}
	wantSuccess(t, extend(b.ID)) // another channel is not held back
	e.clock.Advance(3*time.Minute - time.Second)
	r = extend(a.ID)
	if wantError(t, r, 429); r.header.Get("Retry-After") != "1" {
		t.Fatalf("a second before the end: Retry-After %q", r.header.Get("Retry-After"))
	}
	e.clock.Advance(time.Second)
	wantSuccess(t, extend(a.ID)) // the refusals did not restart the window
	if st, _ := e.sim.Channel(a.ID); st.ExtendedDays != 2 || e.sim.Balance() != 97 {
		t.Fatalf("extended %d days, balance %d: refused extends moved days", st.ExtendedDays, e.sim.Balance())
	}

	short := newEnv(t, Options{BalanceDays: 100, ExtendCoolDown: time.Minute})
	c := short.create("c")
	path := "/channels/" + c.ID + "/extend"
	wantSuccess(t, short.manager("POST", path, map[string]any{"days": 1, "comment": "c"}))
	wantError(t, short.manager("POST", path, map[string]any{"days": 1, "comment": "c"}), 429)
	short.clock.Advance(time.Minute)
	wantSuccess(t, short.manager("POST", path, map[string]any{"days": 1, "comment": "c"}))

	none := newEnv(t, Options{BalanceDays: 100, ExtendCoolDown: -1})
	d := none.create("d")
	for range 3 {
		wantSuccess(t, none.manager("POST", "/channels/"+d.ID+"/extend", map[string]any{"days": 1, "comment": "c"}))
	}
}

func TestChangeMode(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("mode")
	path := "/channels/" + ch.ID + "/mode"
	for _, body := range []any{map[string]string{"mode": "LIVE"}, map[string]string{"mode": "sandbox"}, map[string]any{"mode": 1}, `[]`} {
		wantError(t, e.manager("PATCH", path, body), 400)
	}
	wantError(t, e.manager("PATCH", "/channels/ABCDEF-12345/mode", map[string]string{"mode": "live"}), 404)
	for _, tc := range []struct {
		body any
		want string
	}{
		{map[string]string{"mode": "dev"}, "dev"},
		{map[string]string{"mode": "dev_archive"}, "dev_archive"},
		{map[string]string{"mode": ""}, "live"},
		{map[string]string{"mode": "trial"}, "trial"},
		{nil, "live"},
		{map[string]string{"mode": "live"}, "live"},
	} {
		wantSuccess(t, e.manager("PATCH", path, tc.body))
		if got := e.getChannel(ch.ID).Mode; got != tc.want {
			t.Fatalf("mode after %v = %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestUpdateChannel(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("old")
	wantError(t, e.manager("PATCH", "/channels/"+ch.ID, map[string]string{"name": "new"}), 400)
	wantError(t, e.manager("PATCH", "/channels/"+ch.ID, map[string]string{"name": "new", "projectId": "zzzzzzzzzzzzzzzzzzzz"}), 404)
	wantSuccess(t, e.manager("PATCH", "/channels/"+ch.ID, map[string]string{"name": "new", "projectId": "default", "phone": "5511999998888"}))
	if got := e.getChannel(ch.ID); got.Name != "new" || got.Phone != "5511999998888" || got.ProjectID != DefaultProjectID {
		t.Fatalf("after update: %+v", got)
	}
}

func TestDeleteRefund(t *testing.T) {
	const d = 24 * time.Hour
	tests := []struct {
		name       string
		opts       Options
		extend     int           // days extended at t0()
		deleteAt   time.Duration // after t0()
		wantRefund int
	}{
		// Trial 5 days: activeTill = t0()+6d, +30 = t0()+36d. Days before the
		// trial end are not refunded, and never more than extended.
		{"in trial, capped at paid days", Options{}, 30, 2 * d, 30},
		{"after trial", Options{}, 30, 10 * d, 26},
		{"partial day rounds down", Options{}, 30, 10*d + time.Hour, 25},
		{"trial only, nothing paid", Options{}, 0, 1 * d, 0},
		{"expired", Options{}, 30, 40 * d, 0},
		{"no trial", Options{NoTrial: true}, 10, 3*d + 12*time.Hour, 6},
		{"negative TrialDays is no trial", Options{TrialDays: -1}, 10, 0, 10},
		{"custom trial", Options{TrialDays: 2}, 10, 0, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.BalanceDays = 50
			e := newEnv(t, tc.opts)
			ch := e.create("refund")
			if tc.extend > 0 {
				wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/extend", map[string]any{"days": tc.extend, "comment": "c"}))
			}
			e.clock.Advance(tc.deleteAt)
			wantSuccess(t, e.manager("DELETE", "/channels/"+ch.ID, nil))
			if b := e.sim.Balance(); b != 50-tc.extend+tc.wantRefund {
				t.Fatalf("balance = %d, want %d", b, 50-tc.extend+tc.wantRefund)
			}
			st, ok := e.sim.Channel(ch.ID)
			if !ok || !st.Deleted || st.RefundedDays != tc.wantRefund {
				t.Fatalf("state = %+v", st)
			}
			wantError(t, e.manager("DELETE", "/channels/"+ch.ID, nil), 404)
			wantError(t, e.manager("GET", "/channels/"+ch.ID, nil), 404)
			wantError(t, e.manager("POST", "/channels/"+ch.ID+"/extend", map[string]any{"days": 1, "comment": "c"}), 404)
		})
	}
}

func TestNoTrialChannel(t *testing.T) {
	e := newEnv(t, Options{NoTrial: true, BalanceDays: 10})
	ch := e.create("paid")
	if ch.Trial != nil || ch.ActiveTill != ch.CreationTS {
		t.Fatalf("no-trial channel: %+v", ch)
	}
	e.clock.Advance(time.Millisecond)
	if got := e.getChannel(ch.ID); !got.Stopped {
		t.Fatalf("not stopped: %+v", got)
	}
	if h := e.health(ch.Token); h.Status.Text != "STOP" {
		t.Fatalf("health = %+v", h)
	}
}

func TestConcurrentCreates(t *testing.T) {
	const n = 60
	e := newEnv(t, Options{CreateLimit: n})
	var wg sync.WaitGroup
	chans := make([]wireChannel, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			r, err := e.rawRequest("PUT", "/channels", "Bearer "+testPartnerToken, map[string]string{"name": fmt.Sprint(i), "projectId": DefaultProjectID})
			if err != nil || r.status != 200 {
				errs <- fmt.Errorf("create %d: %v %d %s", i, err, r.status, r.body)
				return
			}
			if err := json.Unmarshal(r.body, &chans[i]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ids, tokens := map[string]bool{}, map[string]bool{}
	for _, ch := range chans {
		if ids[ch.ID] || tokens[ch.Token] || !wantChannelID.MatchString(ch.ID) {
			t.Fatalf("duplicate or bad id/token: %+v", ch)
		}
		ids[ch.ID], tokens[ch.Token] = true, true
	}
	if got := len(e.sim.Channels()); got != n {
		t.Fatalf("%d channels, want %d", got, n)
	}
	if got := e.sim.CountRequests("PUT", "/channels"); got != n {
		t.Fatalf("%d requests recorded, want %d", got, n)
	}
	wantError(t, e.manager("PUT", "/channels", map[string]string{"name": "one too many", "projectId": DefaultProjectID}), 429)
}
