package provision

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/whapi"
	"whapidesk/whapi/whapisim"
)

// hookEnv is an env whose simulator retries failed deliveries quickly.
func hookEnv(t *testing.T, opts ...func(*envOpts)) *env {
	return newEnv(t, append([]func(*envOpts){func(o *envOpts) { o.sim.HookBackoff = 20 * time.Millisecond }}, opts...)...)
}

// receiver serves the webhook route as the handlers do (parse, then hand
// to ReceiveHook), by real HTTP, and makes its address the public one.
func (e *env) receiver() string {
	e.t.Helper()
	return e.receiverFor(e.svc)
}

// receiverFor is receiver with svc receiving the events (another
// instance than e.svc, which registers the webhooks).
func (e *env) receiverFor(svc *Service) string {
	e.t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.URL.Path, HookPath)
		body, _ := io.ReadAll(r.Body)
		ev, err := ParseHookEvent(body)
		switch {
		case !ok || r.Method != http.MethodPost:
			w.WriteHeader(http.StatusNotFound)
		case err != nil:
			w.WriteHeader(http.StatusBadRequest)
		default:
			switch err := svc.ReceiveHook(r.Context(), secret, ev); {
			case errors.Is(err, ErrUnknownHook):
				w.WriteHeader(http.StatusNotFound)
			case errors.Is(err, ErrBadHookEvent):
				w.WriteHeader(http.StatusBadRequest)
			case err != nil:
				w.WriteHeader(http.StatusInternalServerError)
			}
		}
	}))
	e.t.Cleanup(srv.Close)
	e.svc.SetPublicURL(srv.URL)
	return srv.URL
}

// simSettings reads a channel's settings at the simulator.
func (e *env) simSettings(ch *models.Channel) (*whapi.Settings, map[string]json.RawMessage) {
	e.t.Helper()
	tok, err := e.store.ChannelToken(ch)
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := e.client().GetSettings(e.ctx, tok)
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/settings", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		e.t.Fatal(err)
	}
	return st, raw
}

// ourHook returns the channel's webhook of ours at the simulator and its
// secret; it fails unless there is exactly one.
func (e *env) ourHook(ch *models.Channel, base string) (whapi.Webhook, string) {
	e.t.Helper()
	st, _ := e.simSettings(ch)
	var found []whapi.Webhook
	for _, w := range st.Webhooks {
		if strings.HasPrefix(w.URL, base+HookPath) {
			found = append(found, w)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("%d webhooks of ours at WHAPI: %v", len(found), st.Webhooks)
	}
	return found[0], strings.TrimPrefix(found[0].URL, base+HookPath)
}

// waitFor polls cond until it holds; the minute is only there to end a
// wait that never would.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The webhook is registered right after the create (and, for a channel
// made without a public address, on the next Reconcile), with the events
// and mode we need; the PATCH body fits WHAPI's schemas and names only
// the webhooks, so a webhook the partner set up at WHAPI and every other
// setting stay as they were; only the secret's hash is stored.
func TestHookRegisteredAfterCreateKeepingOtherWebhooks(t *testing.T) {
	spec := testenv.LoadSpec(t, "gate.yaml")
	e := hookEnv(t)
	u := e.customer("amal", 3, 30, 90)
	old := e.create(u.ID, "made before") // no public address yet: no webhook
	if n := e.sim.CountRequests("", "/settings"); n != 0 {
		t.Fatalf("%d settings calls without a public address", n)
	}
	// The partner's own webhook, set at WHAPI.
	tok, _ := e.store.ChannelToken(old)
	crm := `{"url":"https://crm.example.com/in","events":[{"type":"messages","method":"post"}],"mode":"method",` +
		`"headers":{"X-Key":"k"},"webhook_max_age_seconds":3600,"send_undecrypted_ad":true}`
	if r := patchRaw(t, e.srv.URL, tok, `{"webhooks":[`+crm+`],"callback_backoff_delay_ms":5000}`); r != http.StatusOK {
		t.Fatalf("PATCH: %d", r)
	}
	_, before := e.simSettings(old)

	base := e.receiver()
	e.sim.ResetRequests()
	ch := e.create(u.ID, "shop")
	if n, p := e.sim.CountRequests("GET", "/settings"), e.sim.CountRequests("PATCH", "/settings"); n != 1 || p != 1 {
		t.Fatalf("%d GETs and %d PATCHes of the settings for one registration, want one each", n, p)
	}
	w, secret := e.ourHook(ch, base)
	for _, ev := range hookEvents {
		if !w.Has(ev.Type, ev.Method) {
			t.Errorf("our webhook lacks %s/%s: %v", ev.Type, ev.Method, w.Events)
		}
	}
	if w.Mode != "body" || !models.WellFormedSecret(secret) {
		t.Fatalf("our webhook %v", w)
	}
	g, err := e.store.ChannelGate(e.ctx, ch.ID)
	if err != nil || !g.Registered(base) || *g.HookHash != models.SecretHash(secret) {
		t.Fatalf("gate %+v %v", g, err)
	}

	rep, err := e.svc.Reconcile(e.ctx)
	if err != nil || rep.Hooked != 1 {
		t.Fatalf("reconcile %+v %v: want the old channel hooked", rep, err)
	}
	ow, _ := e.ourHook(old, base)
	_, after := e.simSettings(old)
	var hooks []json.RawMessage
	if err := json.Unmarshal(after["webhooks"], &hooks); err != nil || len(hooks) != 2 {
		t.Fatalf("webhooks %s", after["webhooks"])
	}
	var was []json.RawMessage
	_ = json.Unmarshal(before["webhooks"], &was)
	if string(hooks[0]) != string(was[0]) {
		t.Fatalf("the CRM's webhook changed:\n%s\n%s", was[0], hooks[0])
	}
	for k, v := range before {
		if k != "webhooks" && string(after[k]) != string(v) {
			t.Errorf("setting %s changed: %s → %s", k, v, after[k])
		}
	}
	if ow.URL == w.URL {
		t.Fatal("two channels share a webhook address")
	}

	// Every PATCH sent names only the webhooks, and fits WHAPI's schemas.
	patches := 0
	for _, r := range e.sim.Requests() {
		if r.Method != "PATCH" || r.Path != "/settings" {
			continue
		}
		patches++
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &keys); err != nil || len(keys) != 1 || keys["webhooks"] == nil {
			t.Fatalf("PATCH body %s: want only webhooks", r.Body)
		}
		if errs := spec.Validate(spec.Schema(t, "Settings"), r.Body); len(errs) > 0 {
			t.Errorf("PATCH body does not fit Settings:\n%s", strings.Join(errs, "\n"))
		}
		var items []json.RawMessage
		_ = json.Unmarshal(keys["webhooks"], &items)
		for _, it := range items {
			if errs := spec.Validate(spec.Schema(t, "Webhook"), it); len(errs) > 0 {
				t.Errorf("webhook %s does not fit Webhook:\n%s", it, strings.Join(errs, "\n"))
			}
		}
	}
	if patches != 2 {
		t.Fatalf("%d PATCHes", patches)
	}

	// Nothing more to do: the next Reconcile does not ask.
	e.sim.ResetRequests()
	if rep, err := e.svc.Reconcile(e.ctx); err != nil || rep.Hooked != 0 {
		t.Fatalf("second reconcile %+v %v", rep, err)
	}
	if n := e.sim.CountRequests("", "/settings"); n != 0 {
		t.Fatalf("%d settings calls once registered", n)
	}
}

func patchRaw(t *testing.T, base, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest("PATCH", base+"/settings", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// A registration WHAPI refuses, or never answers, does not fail the
// create; the next Reconcile registers the webhook.
func TestHookRegistrationFailureNeverFailsTheCreate(t *testing.T) {
	for _, f := range []whapisim.Fault{
		{Method: "GET", Path: "/settings", Kind: whapisim.FaultStatus, Status: 500},
		{Method: "PATCH", Path: "/settings", Kind: whapisim.FaultStatus, Status: 400},
		{Method: "PATCH", Path: "/settings", Kind: whapisim.FaultLostAfterApply},
	} {
		t.Run(f.Kind.String()+" on "+f.Method, func(t *testing.T) {
			e := hookEnv(t)
			base := e.receiver()
			u := e.customer("amal", 1, 30, 30)
			e.sim.InjectFault(f)
			ch := e.create(u.ID, "shop")
			if ch.Status != models.ChannelTrial {
				t.Fatalf("channel %s", ch.Status)
			}
			if g, _ := e.store.ChannelGate(e.ctx, ch.ID); g.Registered(base) {
				t.Fatal("registered although WHAPI did not confirm it")
			}
			rep, err := e.svc.Reconcile(e.ctx)
			if err != nil || rep.Hooked != 1 {
				t.Fatalf("reconcile %+v %v", rep, err)
			}
			e.ourHook(ch, base) // exactly one: a lost registration's is replaced
		})
	}
}

// A gate that does not answer delays the create by HookTimeout at most:
// the channel is made, and the next Reconcile registers its webhook.
func TestHookRegistrationIsBoundedAfterCreate(t *testing.T) {
	e := hookEnv(t)
	base := e.receiver()
	e.svc.HookTimeout = 300 * time.Millisecond
	u := e.customer("amal", 1, 30, 30)
	e.sim.InjectFault(whapisim.Fault{Method: "GET", Path: "/settings", Kind: whapisim.FaultHang})
	start := time.Now()
	ch := e.create(u.ID, "shop")
	if took := time.Since(start); took > 5*time.Second { // the client alone would wait 15 s
		t.Fatalf("the create took %v with the gate hanging", took)
	}
	if ch.Status != models.ChannelTrial {
		t.Fatalf("channel %s", ch.Status)
	}
	if rep, err := e.svc.Reconcile(e.ctx); err != nil || rep.Hooked != 1 {
		t.Fatalf("reconcile %+v %v", rep, err)
	}
	e.ourHook(ch, base)
}

// The simulator links the phone: the webhook arrives by real HTTP, the
// channel is linked with its number, and the connect state says so
// without asking the gate; the phone unlinks, and it says so too.
func TestHookEventsAreApplied(t *testing.T) {
	e := hookEnv(t)
	e.receiver()
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	if st, err := e.svc.ConnectState(e.ctx, ch.ID); err != nil || st.Phase != PhaseWaiting {
		t.Fatalf("before: %+v %v", st, err)
	}
	healthCalls := e.sim.CountRequests("GET", "/health")
	if err := e.sim.LinkChannel(ch.RemoteID(), "97313300383"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the channel linked", func() bool { c := e.channel(ch.ID); return c.Linked && c.LinkedPhone == "97313300383" })
	st, err := e.svc.ConnectState(e.ctx, ch.ID)
	if err != nil || st.Phase != PhaseConnected || st.Phone != "97313300383" {
		t.Fatalf("after the link: %+v %v", st, err)
	}
	if n := e.sim.CountRequests("GET", "/health"); n != healthCalls {
		t.Fatalf("%d health calls: the webhook should have told", n-healthCalls)
	}
	if g, _ := e.store.ChannelGate(e.ctx, ch.ID); g.GateStatus != "AUTH" || g.HookSeenAt == nil {
		t.Fatalf("gate %+v", g)
	}

	e.clock.Advance(time.Minute)
	if err := e.sim.UnlinkChannel(ch.RemoteID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the channel unlinked", func() bool { return !e.channel(ch.ID).Linked })
	if c := e.channel(ch.ID); c.LinkedPhone != "" {
		t.Fatalf("unlinked with number %q", c.LinkedPhone)
	}
	e.hooksDelivered()
}

// hooksDelivered waits until the simulator has delivered every event it
// sent (answered 200: received in full).
func (e *env) hooksDelivered() {
	e.t.Helper()
	waitFor(e.t, "every event delivered", func() bool {
		for _, d := range e.sim.Hooks() {
			if !d.Delivered {
				return false
			}
		}
		return true
	})
}

// A new QR code told by webhook is the one the connect page shows: the
// gate is not asked for it.
func TestHookQRCodeIsShown(t *testing.T) {
	e := hookEnv(t)
	e.receiver()
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	if _, err := e.svc.ConnectState(e.ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	qrCalls := e.sim.CountRequests("GET", "/users/login")
	e.clock.Advance(whapisim.DefaultQRLifetime) // the code rotates
	e.sim.Tick()
	waitFor(t, "the new code's event", func() bool {
		for _, d := range e.sim.Hooks() {
			if d.Type == "channel" && d.Method == "patch" && d.Delivered {
				return true
			}
		}
		return false
	})
	st, err := e.svc.ConnectState(e.ctx, ch.ID)
	if err != nil || st.Phase != PhaseWaiting || len(st.PNG) == 0 {
		t.Fatalf("%+v %v", st, err)
	}
	if n := e.sim.CountRequests("GET", "/users/login"); n != qrCalls {
		t.Fatalf("%d QR calls: the webhook's code should be shown", n-qrCalls)
	}
}

// Out of order and replayed events never move a channel back: the link's
// status, held back until after the unlink, changes nothing, and neither
// do the link's events sent again.
func TestHookReplayAndOutOfOrderChangeNothing(t *testing.T) {
	e := hookEnv(t)
	base := e.receiver()
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	_, secret := e.ourHook(ch, base)

	e.sim.InjectHookFault(whapisim.HookFault{Type: "channel", Method: "post", Delay: 400 * time.Millisecond})
	if err := e.sim.LinkChannel(ch.RemoteID(), "97313300383"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "users post", func() bool { return e.channel(ch.ID).Linked })
	e.clock.Advance(10 * time.Second)
	if err := e.sim.UnlinkChannel(ch.RemoteID()); err != nil {
		t.Fatal(err)
	}
	var link []whapisim.HookDelivery
	waitFor(t, "every event, the late one last", func() bool {
		ds := e.sim.Hooks()
		link = ds[:2]
		if len(ds) != 5 {
			return false
		}
		for _, d := range ds {
			if !d.Delivered {
				return false
			}
		}
		return true
	})
	if c := e.channel(ch.ID); c.Linked {
		t.Fatal("the link's late status linked the channel again after the unlink")
	}
	before := e.fingerprint(ch.ID)
	for _, d := range link { // the link's status (AUTH) and users post, once more
		if res := post(t, base+HookPath+secret, d.Body); res != http.StatusOK {
			t.Fatalf("replay: %d", res)
		}
	}
	if after := e.fingerprint(ch.ID); after != before {
		t.Fatalf("a replay changed the channel:\n%s\n%s", before, after)
	}
}

func post(t *testing.T, url string, body []byte) int {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// fingerprint is what an event may change of a channel.
func (e *env) fingerprint(id int64) string {
	e.t.Helper()
	c := e.channel(id)
	g, err := e.store.ChannelGate(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	evs, _ := e.store.ListAudit(e.ctx, 1, 0)
	b, _ := json.Marshal([]any{c.Linked, c.LinkedPhone, c.Status, g.GateStatus, g.GateAtMS, g.GateLinked, g.HookHash, len(evs) > 0 && evs[0].ID > 0, evs})
	return string(b)
}

// An unknown secret, and an event naming another channel, change nothing.
func TestReceiveHookRefusals(t *testing.T) {
	e := hookEnv(t)
	base := e.receiver()
	u := e.customer("amal", 2, 30, 60)
	ch := e.create(u.ID, "shop")
	other := e.create(u.ID, "other")
	_, secret := e.ourHook(ch, base)
	before := e.fingerprint(ch.ID)
	auth := `{"health":{"start_at":1,"uptime":1,"status":{"code":4,"text":"AUTH"},"user":{"id":"97313300383","name":"x"}},` +
		`"event":{"type":"channel","event":"post"},"channel_id":"` + ch.RemoteID() + `"}`
	forged, _, _ := models.NewSecret()
	for _, tc := range []struct {
		name, secret, body string
		want               error
	}{
		{"a forged secret", forged, auth, ErrUnknownHook},
		{"not a secret at all", "../../admin", auth, ErrUnknownHook},
		{"another channel's id", secret, strings.Replace(auth, ch.RemoteID(), other.RemoteID(), 1), ErrBadHookEvent},
	} {
		ev, err := ParseHookEvent([]byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ReceiveHook(e.ctx, tc.secret, ev); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := ParseHookEvent([]byte(`{"health":{}}`)); !errors.Is(err, ErrBadHookEvent) {
		t.Fatalf("a malformed body: %v", err)
	}
	if after := e.fingerprint(ch.ID); after != before {
		t.Fatalf("a refused event changed the channel:\n%s\n%s", before, after)
	}
}

// A poll that sees a link the webhook never told (here: WHAPI dropped the
// events) has the next Reconcile look at the webhook: intact, it is left
// alone; gone from WHAPI, it is registered again under a new secret, and
// the old one is refused.
func TestSilentHookIsCheckedAndRegisteredAgain(t *testing.T) {
	e := hookEnv(t)
	base := e.receiver()
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	_, secret := e.ourHook(ch, base)

	e.sim.InjectHookFault(whapisim.HookFault{Drop: true, Times: 10})
	if err := e.sim.LinkChannel(ch.RemoteID(), "97313300383"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if st, err := e.svc.ConnectState(e.ctx, ch.ID); err != nil || st.Phase != PhaseConnected {
		t.Fatalf("polling: %+v %v", st, err) // polling still works
	}
	if g, _ := e.store.ChannelGate(e.ctx, ch.ID); !g.HookRecheck {
		t.Fatal("no recheck after a change the webhook did not tell")
	}
	e.sim.ResetRequests()
	if rep, err := e.svc.Reconcile(e.ctx); err != nil || rep.Hooked != 0 {
		t.Fatalf("reconcile %+v %v", rep, err)
	}
	if n, p := e.sim.CountRequests("GET", "/settings"), e.sim.CountRequests("PATCH", "/settings"); n != 1 || p != 0 {
		t.Fatalf("%d GETs and %d PATCHes: want the webhook looked at, not replaced", n, p)
	}

	// Someone removes our webhook at WHAPI; the phone unlinks unheard.
	tok, _ := e.store.ChannelToken(ch)
	if r := patchRaw(t, e.srv.URL, tok, `{"webhooks":[]}`); r != http.StatusOK {
		t.Fatal(r)
	}
	if err := e.sim.UnlinkChannel(ch.RemoteID()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if st, err := e.svc.ConnectState(e.ctx, ch.ID); err != nil || st.Phase != PhaseWaiting {
		t.Fatalf("polling: %+v %v", st, err)
	}
	if rep, err := e.svc.Reconcile(e.ctx); err != nil || rep.Hooked != 1 {
		t.Fatalf("reconcile %+v %v: want the webhook registered again", rep, err)
	}
	_, again := e.ourHook(ch, base)
	if again == secret {
		t.Fatal("registered again under the old secret")
	}
	ev, _ := ParseHookEvent([]byte(`{"user":{"id":"97313300383","name":"x"},"event":{"type":"users","event":"post"}}`))
	if err := e.svc.ReceiveHook(e.ctx, secret, ev); !errors.Is(err, ErrUnknownHook) {
		t.Fatalf("the old secret: %v", err)
	}
}
