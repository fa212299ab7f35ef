package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// hookLimitBytes is hookBodyLimit, "64K": 64,000 bytes, as Echo counts.
const hookLimitBytes = 64_000

// hookFix is the app reached by WHAPI's webhooks: a customer with a
// channel whose webhook is registered.
type hookFix struct {
	*custFix
	cust   *models.User
	ch     *models.Channel
	secret string
}

func newHookFix(t *testing.T, opts ...func(*custOptions)) *hookFix {
	t.Helper()
	f := &hookFix{custFix: newCustFix(t, append([]func(*custOptions){func(o *custOptions) { o.hooks = true }}, opts...)...)}
	f.cust = f.customer("cust@example.com", true)
	f.ch = f.channel(f.cust, "Sales")
	f.secret = f.hookSecret(f.ch)
	return f
}

// hookSecret reads the secret of the channel's webhook at WHAPI (the
// simulator), where the app registered it.
func (a *testApp) hookSecret(ch *models.Channel) string {
	a.t.Helper()
	tok, err := a.store.ChannelToken(ch)
	if err != nil {
		a.t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", a.simURL+"/settings", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct{ Webhooks []struct{ URL string } }
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		a.t.Fatal(err)
	}
	for _, w := range st.Webhooks {
		if s, ok := strings.CutPrefix(w.URL, a.srv.URL+hookPrefix); ok {
			return s
		}
	}
	a.t.Fatalf("no webhook of the app at WHAPI: %+v", st.Webhooks)
	return ""
}

// post sends body to the webhook address of secret, as WHAPI does.
func (f *hookFix) post(secret string, body []byte) result {
	f.t.Helper()
	req, err := http.NewRequest("POST", f.srv.URL+hookPrefix+secret, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return f.client().do(req)
}

// state is what an event may change: the channel's link, what is known
// of its gate, the audit log.
func (f *hookFix) state() string {
	f.t.Helper()
	ctx := context.Background()
	ch, err := f.store.ChannelByID(ctx, f.ch.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	g, err := f.store.ChannelGate(ctx, f.ch.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	n, err := f.store.CountAudit(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := json.Marshal([]any{ch.Linked, ch.LinkedPhone, ch.UpdatedAt, g, n})
	return string(b)
}

func (f *hookFix) authEvent(channelID string, startAt int64) []byte {
	return []byte(fmt.Sprintf(`{"health":{"start_at":%d,"uptime":5,"status":{"code":4,"text":"AUTH"},`+
		`"user":{"id":"15551234567","name":"Jo"}},"event":{"type":"channel","event":"post"},"channel_id":%q}`, startAt, channelID))
}

// The receiver: a forged or malformed secret is 404, a body that is not
// WHAPI's event 400, a body over 64 KB 413, with nothing written, no
// session, the security headers, and the secret never in the logs; a
// good event is 200 and applied without a call to WHAPI.
func TestWebhookReceiver(t *testing.T) {
	f := newHookFix(t)
	forged, _, _ := models.NewSecret()
	good := f.authEvent(f.ch.RemoteID(), time.Now().Unix())
	pad := func(n int) []byte { // good, padded with spaces to n bytes: still JSON
		return append(bytes.Repeat([]byte(" "), n-len(good)), good...)
	}
	before := f.state()
	simCalls := len(f.sim.Requests())
	for _, tc := range []struct {
		name, secret string
		body         []byte
		want         int
	}{
		{"a forged secret", forged, good, 404},
		{"a short secret", "abc", good, 404},
		{"a secret with a dot", strings.Repeat(".", 43), good, 404},
		{"an empty body", f.secret, nil, 400},
		{"not JSON", f.secret, []byte(`{"event":`), 400},
		{"a form", f.secret, []byte(`event=channel.post`), 400},
		{"no payload", f.secret, []byte(`{"event":{"type":"channel","event":"post"}}`), 400},
		{"another channel's", f.secret, f.authEvent("ABCDEF-12345", time.Now().Unix()), 400},
		{"just over 64 KB", f.secret, pad(hookLimitBytes + 1), 413},
		{"100 KB", f.secret, pad(100 << 10), 413},
	} {
		r := f.post(tc.secret, tc.body)
		if r.StatusCode != tc.want || r.body != "" {
			t.Errorf("%s: %d %q, want %d and no body", tc.name, r.StatusCode, r.body, tc.want)
		}
		smCheckHeaders(t, tc.name, r)
		if c := r.Header.Get("Set-Cookie"); c != "" {
			t.Errorf("%s: sets a cookie %q", tc.name, c)
		}
	}
	if r := f.client().get(hookPrefix + f.secret); r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", r.StatusCode)
	}
	if after := f.state(); after != before {
		t.Fatalf("refused requests changed something:\n%s\n%s", before, after)
	}

	// A good event, just under the limit: applied at once, WHAPI not asked.
	start := time.Now()
	if r := f.post(f.secret, pad(hookLimitBytes)); r.StatusCode != http.StatusOK {
		t.Fatalf("a good event: %d %q", r.StatusCode, r.body)
	}
	took := time.Since(start)
	if ch := f.reload(f.ch); !ch.Linked || ch.LinkedPhone != "15551234567" {
		t.Fatalf("not applied: %+v", ch)
	}
	if n := len(f.sim.Requests()); n != simCalls {
		t.Fatalf("the receiver called WHAPI %d times", n-simCalls)
	}
	t.Logf("a webhook answered in %v", took)

	logs := f.logs.String()
	if strings.Contains(logs, f.secret) || strings.Contains(logs, forged) {
		t.Fatal("a webhook secret is in the logs")
	}
	if !strings.Contains(logs, `path=/hooks/whapi/…`) {
		t.Fatalf("the request log does not show the webhook requests:\n%s", logs)
	}
}

// The simulator links the phone; its webhook reaches the app by real HTTP
// and, at once, the API and the connect page say linked, although the
// gate's /health hangs (polling is switched off: the simulator hangs it,
// and the app's cached status would keep saying "QR" on the test's still
// clock); then it unlinks, and they say so.
func TestWebhookShowsTheLinkAtOnce(t *testing.T) {
	f := newHookFix(t, func(o *custOptions) { o.manualClock = true })
	c := f.signedIn("cust@example.com")
	id := strconv.FormatInt(f.ch.ID, 10)
	status := connectPath(f.ch.ID, "/status")
	if s := custShown(t, c.get(status).body); s.step != "qr" {
		t.Fatalf("before: %s", s.step)
	}
	f.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/health", Kind: whapisim.FaultHang, Times: 1000})
	health := f.sim.CountRequests("GET", "/health")
	linked := func() bool {
		var ch struct{ Linked bool }
		r := c.jsonReq("GET", "/api/channels/"+id, "")
		if err := json.Unmarshal([]byte(r.body), &ch); err != nil {
			t.Fatalf("%d %s", r.StatusCode, r.body)
		}
		return ch.Linked
	}
	if linked() {
		t.Fatal("linked before the phone")
	}

	if err := f.sim.LinkChannel(f.ch.RemoteID(), "15551234567"); err != nil {
		t.Fatal(err)
	}
	delivered := waitHooks(t, f.sim, 2)
	if !linked() {
		t.Fatal("the API does not say linked once the webhook was answered")
	}
	s := custShown(t, c.get(status).body)
	if s.step != "connected" || s.poll != "" {
		t.Fatalf("connect status %+v", s)
	}
	t.Logf("linked shown %v after the webhook", time.Since(delivered))
	if n := f.sim.CountRequests("GET", "/health"); n != health {
		t.Fatalf("%d calls to the gate's /health: the webhook should have told", n-health)
	}

	if err := f.sim.UnlinkChannel(f.ch.RemoteID()); err != nil {
		t.Fatal(err)
	}
	waitHooks(t, f.sim, 5)
	if linked() {
		t.Fatal("the API still says linked after the unlink's webhook")
	}
}

// waitHooks waits until n webhook deliveries are answered 200 and returns
// when that was seen.
func waitHooks(t *testing.T, sim *whapisim.Sim, n int) time.Time {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ds := sim.Hooks()
		done := 0
		for _, d := range ds {
			if d.Delivered {
				done++
			}
		}
		if done >= n {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d webhooks delivered: %+v", done, n, ds)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// FuzzWebhookBody posts any body to a channel's real webhook address:
// the answer is 200, 400 or 413, never a 500; a body the receiver refuses
// changes nothing, and one it takes is an event WHAPI could send.
func FuzzWebhookBody(f *testing.F) {
	ctx := context.Background()
	a := newTestApp(f, func(o *appOptions) {
		o.sim.StartupDelay = -1
		o.hooks = true
		o.quietLog = true // many inputs: keep no logs
	})
	tok, err := provision.NormalizePartnerToken(a.partnerToken)
	if err != nil {
		f.Fatal(err)
	}
	if _, _, err := a.store.UpdateSettings(ctx, models.SystemActor, models.SettingsChange{PartnerToken: &tok, Hint: provision.TokenHint(tok)}); err != nil {
		f.Fatal(err)
	}
	plan, err := a.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "Fuzz", MaxChannels: 1, DaysPerPeriod: 30, PeriodDays: 30})
	if err != nil {
		f.Fatal(err)
	}
	u, err := a.store.CreateUser(ctx, models.NewUser{Email: "c@example.com", Name: "c", Password: testPassword, Role: models.RoleCustomer})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := a.svc.ActivatePlan(ctx, models.SystemActor, u.ID, plan.ID); err != nil {
		f.Fatal(err)
	}
	ch, err := a.svc.CreateChannel(ctx, models.SystemActor, provision.CreateInput{UserID: u.ID, Name: "Fuzz line"})
	if err != nil {
		f.Fatal(err)
	}
	secret := a.hookSecret(ch)
	// Seeds: what the simulator sends, and near misses.
	if err := a.sim.LinkChannel(ch.RemoteID(), "15551234567"); err != nil {
		f.Fatal(err)
	}
	if err := a.sim.UnlinkChannel(ch.RemoteID()); err != nil {
		f.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Millisecond) { // nothing on its way
		ds, done := a.sim.Hooks(), 0
		for _, d := range ds {
			if d.Done {
				done++
			}
		}
		if done == len(ds) && done >= 5 {
			for _, d := range ds {
				f.Add(d.Body)
			}
			break
		}
		if time.Now().After(deadline) {
			f.Fatalf("webhooks not delivered: %+v", ds)
		}
	}
	id := ch.RemoteID()
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `"x"`, `{"event":{}}`, `{"event":{"type":"users"}}`,
		`{"user":{"id":"15551234567"},"event":{"type":"users","event":"post"},"channel_id":"` + id + `"}`,
		`{"user":{"id":"1"},"event":{"type":"users","method":"delete"}}`,
		`{"health":{"start_at":1e300,"uptime":-1,"status":{"text":"AUTH"}},"event":{"type":"channel","event":"post"}}`,
		`{"health":{"status":{"text":"QR"}},"event":{"type":"channel","event":"post"},"channel_id":"` + id + `"}`,
		`{"qr":{"status":"OK","base64":"not base64"},"event":{"type":"channel","event":"patch"}}`,
		`{"messages":[],"event":{"type":"messages","event":"post"}}`,
		`{"user":{"id":"15551234567"},"event":{"type":"users","event":"post","method":"delete"}}`,
		`{"event":{"type":"users","event":"post"},"user":{"id":"15551234567"}} x`,
		"{\"event\":{\"type\":\"users\",\"event\":\"post\"},\"user\":{\"id\":\"\xff\"}}",
	} {
		f.Add([]byte(s))
	}
	state := func(t *testing.T) string {
		c, err := a.store.ChannelByID(ctx, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		g, err := a.store.ChannelGate(ctx, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		n, err := a.store.CountAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal([]any{c.Linked, c.LinkedPhone, c.UpdatedAt, g, n})
		return string(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := state(t)
		req := httptest.NewRequest(http.MethodPost, hookPrefix+secret, bytes.NewReader(body))
		rec := httptest.NewRecorder()
		a.e.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if _, err := provision.ParseHookEvent(body); err != nil {
				t.Fatalf("%q → 200, but it is not an event: %v", body, err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if after := state(t); after != before {
				t.Fatalf("%q → %d changed the channel:\n%s\n%s", body, rec.Code, before, after)
			}
		default:
			t.Fatalf("%q → %d", body, rec.Code)
		}
	})
}
