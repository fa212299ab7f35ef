package whapisim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// receiver is a webhook endpoint that records what it gets and answers
// fail's statuses first, then 200.
type receiver struct {
	mu   sync.Mutex
	got  []received
	fail []int
	srv  *httptest.Server
}

type received struct {
	method, path, contentType, header string
	body                              map[string]json.RawMessage
}

func newReceiver(t *testing.T, fail ...int) *receiver {
	rc := &receiver{fail: fail}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]json.RawMessage
		_ = json.Unmarshal(b, &body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("X-Desk"), body})
		status := http.StatusOK
		if len(rc.fail) > 0 {
			status, rc.fail = rc.fail[0], rc.fail[1:]
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// events are the "type/method" of what arrived, in order.
func (rc *receiver) events() []string {
	var out []string
	for _, r := range rc.all() {
		var ev struct{ Type, Event string }
		_ = json.Unmarshal(r.body["event"], &ev)
		out = append(out, ev.Type+"/"+ev.Event)
	}
	return out
}

func (e *env) subscribe(token, url string, events ...[2]string) {
	e.t.Helper()
	var evs []map[string]string
	for _, ev := range events {
		evs = append(evs, map[string]string{"type": ev[0], "method": ev[1]})
	}
	r := e.patchSettings(token, map[string]any{"webhooks": []any{map[string]any{"url": url, "events": evs, "mode": "body",
		"headers": map[string]string{"X-Desk": "1"}}}})
	if r.status != http.StatusOK {
		e.t.Fatalf("PATCH /settings: %d %s", r.status, r.body)
	}
}

var loginEvents = [][2]string{{"channel", "post"}, {"channel", "patch"}, {"users", "post"}, {"users", "delete"}}

// waitDone waits until every delivery is done (delivered, dropped or out
// of attempts).
func waitDone(t *testing.T, s *Sim, n int) []HookDelivery {
	t.Helper()
	var ds []HookDelivery
	waitFor(t, "the webhook deliveries", func() bool {
		ds = s.Hooks()
		if len(ds) < n {
			return false
		}
		for _, d := range ds {
			if !d.Done {
				return false
			}
		}
		return true
	})
	return ds
}

func TestWebhooksTellTheLineAndTheAccount(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: 2 * time.Second})
	rc := newReceiver(t)
	ch := e.create("hooks")
	e.subscribe(ch.Token, rc.srv.URL+"/hooks/whapi/k", loginEvents...)

	e.clock.Advance(2 * time.Second) // the line is up: QR
	e.sim.Tick()
	waitDone(t, e.sim, 2)
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	waitDone(t, e.sim, 4)
	if err := e.sim.UnlinkChannel(ch.ID); err != nil {
		t.Fatal(err)
	}
	ds := waitDone(t, e.sim, 7)
	want := []string{"channel/post", "channel/patch", "channel/post", "users/post", "channel/post", "channel/patch", "users/delete"}
	if got := rc.events(); len(got) != len(want) { // the events of one channel arrive in order
		t.Fatalf("events %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("events %v, want %v", got, want)
			}
		}
	}
	all := rc.all()
	for i, r := range all {
		if r.method != "POST" || r.path != "/hooks/whapi/k" || r.contentType != "application/json" || r.header != "1" {
			t.Fatalf("delivery %d: %+v", i, r)
		}
		if string(r.body["channel_id"]) != `"`+ch.ID+`"` {
			t.Fatalf("delivery %d: channel_id %s", i, r.body["channel_id"])
		}
		if !ds[i].Delivered || ds[i].Attempts != 1 {
			t.Fatalf("delivery %d: %+v", i, ds[i])
		}
	}
	status := func(i int) (text string, start, uptime int64) {
		var h wireHealth
		if err := json.Unmarshal(all[i].body["health"], &h); err != nil {
			t.Fatal(err)
		}
		return h.Status.Text, h.StartAt, h.Uptime
	}
	if text, start, up := status(0); text != "QR" || start != t0().Unix() || up != 2 {
		t.Fatalf("first status %s %d %d", text, start, up)
	}
	if text, _, _ := status(2); text != "AUTH" {
		t.Fatalf("status after the link: %s", text)
	}
	for _, i := range []int{3, 6} {
		var user struct{ ID, Name string }
		if err := json.Unmarshal(all[i].body["user"], &user); err != nil || user.ID != "61371989950" {
			t.Fatalf("users event %d: %s", i, all[i].body["user"])
		}
	}
	if text, _, _ := status(4); text != "QR" {
		t.Fatalf("status after the unlink: %s", text)
	}
	var qr wireQR
	if err := json.Unmarshal(all[1].body["qr"], &qr); err != nil || qr.Status != "OK" || qr.Base64 == "" || qr.Expire == nil {
		t.Fatalf("qr: %s", all[1].body["qr"])
	}

	// A QR code that rotates is told; nothing else changed, so nothing else is.
	e.clock.Advance(DefaultQRLifetime)
	e.sim.Tick()
	waitDone(t, e.sim, 8)
	if got := rc.events(); len(got) != 8 || got[7] != "channel/patch" {
		t.Fatalf("events %v", got)
	}
	e.sim.Tick()
	if got := e.sim.Hooks(); len(got) != 8 {
		t.Fatalf("%d deliveries after a Tick that changed nothing", len(got))
	}
}

// Only the events a webhook asks for go to it, and a channel without
// webhooks sends nothing.
func TestWebhooksSendOnlyWhatIsAsked(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: -1})
	rc := newReceiver(t)
	ch := e.create("users only")
	quiet := e.create("no hooks")
	e.subscribe(ch.Token, rc.srv.URL+"/h", [2]string{"users", "post"})
	for _, id := range []string{ch.ID, quiet.ID} {
		if err := e.sim.LinkChannel(id, "61371989950"); err != nil {
			t.Fatal(err)
		}
	}
	ds := waitDone(t, e.sim, 1)
	if len(ds) != 1 || ds[0].Type != "users" || ds[0].ChannelID != ch.ID {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestWebhookModes(t *testing.T) {
	for _, tc := range []struct{ mode, method, path string }{
		{"body", "POST", "/h"},
		{"path", "POST", "/h/users/post"},
		{"method", "POST", "/h/users"},
	} {
		e := newEnv(t, Options{StartupDelay: -1})
		rc := newReceiver(t)
		ch := e.create("modes")
		r := e.patchSettings(ch.Token, map[string]any{"webhooks": []any{map[string]any{"url": rc.srv.URL + "/h",
			"events": []map[string]string{{"type": "users", "method": "post"}}, "mode": tc.mode}}})
		if r.status != http.StatusOK {
			t.Fatal(string(r.body))
		}
		if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
			t.Fatal(err)
		}
		waitDone(t, e.sim, 1)
		if got := rc.all(); len(got) != 1 || got[0].method != tc.method || got[0].path != tc.path {
			t.Fatalf("mode %s: %+v", tc.mode, got)
		}
	}
}

// A delivery not answered 200 is retried with a backoff until it is, at
// most HookAttempts times; later events do not wait for it.
func TestWebhookRetriesUntil200(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: -1, HookBackoff: 10 * time.Millisecond, HookAttempts: 4})
	rc := newReceiver(t, 500, 404, 503)
	ch := e.create("retry")
	e.subscribe(ch.Token, rc.srv.URL+"/h", [2]string{"users", "post"}, [2]string{"users", "delete"})
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	ds := waitDone(t, e.sim, 1)
	if !ds[0].Delivered || ds[0].Attempts != 4 || ds[0].Status != 200 {
		t.Fatalf("delivery %+v", ds[0])
	}

	// Never answered 200: it gives up after HookAttempts.
	rc.mu.Lock()
	rc.fail = []int{500, 500, 500, 500, 500}
	rc.mu.Unlock()
	if err := e.sim.UnlinkChannel(ch.ID); err != nil {
		t.Fatal(err)
	}
	ds = waitDone(t, e.sim, 2)
	if ds[1].Delivered || ds[1].Attempts != 4 || ds[1].Status != 500 {
		t.Fatalf("delivery %+v", ds[1])
	}
}

func TestHookFaultsDropAndDelay(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: -1})
	rc := newReceiver(t)
	ch := e.create("faults")
	e.subscribe(ch.Token, rc.srv.URL+"/h", loginEvents...)

	e.sim.InjectHookFault(HookFault{Type: "users", Drop: true})
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	ds := waitDone(t, e.sim, 2)
	if !ds[1].Dropped || ds[1].Attempts != 0 || ds[0].Dropped {
		t.Fatalf("deliveries %+v", ds)
	}
	if got := rc.events(); len(got) != 1 || got[0] != "channel/post" {
		t.Fatalf("events %v", got)
	}

	// A delayed event is overtaken by the one after it.
	e.sim.InjectHookFault(HookFault{Type: "channel", Method: "post", Delay: 300 * time.Millisecond})
	if err := e.sim.UnlinkChannel(ch.ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, e.sim, 5)
	got := rc.events()
	if len(got) != 4 || got[2] != "users/delete" || got[3] != "channel/post" {
		t.Fatalf("events %v: want the delayed status last", got)
	}
}

func TestCloseStopsDeliveries(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: -1, HookBackoff: time.Hour})
	rc := newReceiver(t, 500) // the first delivery fails: its retry waits an hour
	ch := e.create("close")
	e.subscribe(ch.Token, rc.srv.URL+"/h", loginEvents...)
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both events of the link", func() bool { return len(rc.all()) == 2 })
	e.sim.Close()
	if err := e.sim.UnlinkChannel(ch.ID); err != nil {
		t.Fatal(err)
	}
	ds := e.sim.Hooks()
	if len(ds) != 5 {
		t.Fatalf("%d events, want 2 of the link and 3 of the unlink", len(ds))
	}
	for _, d := range ds[2:] {
		if d.Attempts != 0 {
			t.Fatalf("sent after Close: %+v", d)
		}
	}
}
