package provision

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"whapidesk/models"
	"whapidesk/whapi"
)

// A channel WHAPI hosts on another gate host is served from there: the
// apiUrl of the create answer is kept, a sync keeps it current, and the
// connect page's health, QR and pairing code come from that host.
func TestChannelOnItsOwnGateHost(t *testing.T) {
	e := newEnv(t, func(o *envOpts) { o.secondGate = true })
	u := e.customer("amal", 2, 30, 60)
	if err := e.sim.PlaceNewChannels(e.gate2); err != nil {
		t.Fatal(err)
	}
	born := e.create(u.ID, "born there")
	if got := e.channel(born.ID).APIURL; got != e.gate2 {
		t.Fatalf("apiUrl kept from the create answer: %q, want %q", got, e.gate2)
	}
	if err := e.sim.PlaceNewChannels(""); err != nil {
		t.Fatal(err)
	}
	moved := e.create(u.ID, "moved")
	if got := e.channel(moved.ID).APIURL; got != e.srv.URL+"/" {
		t.Fatalf("apiUrl of a channel on the configured gate: %q", got)
	}
	if err := e.sim.PlaceChannel(moved.RemoteID(), e.gate2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Sync(e.ctx, moved.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.channel(moved.ID).APIURL; got != e.gate2 {
		t.Fatalf("apiUrl after a sync: %q, want %q", got, e.gate2)
	}

	e.sim.ResetRequests()
	for _, ch := range []*models.Channel{born, moved} {
		st, err := e.svc.ConnectState(e.ctx, ch.ID)
		if err != nil || st.Phase != PhaseWaiting || len(st.PNG) == 0 {
			t.Fatalf("connect state of %q: %+v %v", ch.Name, st, err)
		}
	}
	if _, err := e.svc.PairingCode(e.ctx, admin, born.ID, "+49 151 2345678"); err != nil {
		t.Fatal(err)
	}
	host2 := strings.TrimSuffix(strings.TrimPrefix(e.gate2, "https://"), "/")
	calls := map[string]int{}
	for _, r := range e.sim.Requests() {
		if r.Host != host2 {
			t.Fatalf("%s %s went to %s, not to the channel's gate host %s", r.Method, r.Path, r.Host, host2)
		}
		calls[r.Path]++
	}
	if calls["/health"] != 2 || calls["/users/login"] != 2 || len(calls) != 3 {
		t.Fatalf("gate calls on the channel's host: %v", calls)
	}
}

// An apiUrl that may not receive a channel's token — another host, plain
// http, credentials in it — is never called, even when WHAPI's answers
// (here a tampered front) name it: the channel's gate calls go to the
// configured gate, so the customer still gets a QR; the refusal is logged
// once, without a token, and the host records nothing.
func TestChannelGateHostRefused(t *testing.T) {
	var hits atomic.Int32
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	hostileTLS := httptest.NewTLSServer(record)
	t.Cleanup(hostileTLS.Close)
	hostilePlain := httptest.NewServer(record)
	t.Cleanup(hostilePlain.Close)
	plainHost := hostilePlain.Listener.Addr().String()

	for _, tt := range []struct{ apiURL, why string }{
		{hostileTLS.URL + "/", "host not on"},
		{hostilePlain.URL + "/", "not https"}, // its host is on the allowlist below
		{"https://user:pass@" + plainHost + "/", "credentials"},
	} {
		t.Run(tt.why, func(t *testing.T) {
			var front apiURLRewriter
			e := newEnv(t, func(o *envOpts) { o.front = front.wrap })
			front.set(`"apiUrl":"`+e.srv.URL+`/"`, `"apiUrl":"`+tt.apiURL+`"`)
			client := e.te.Client(whapi.WithGateHosts(plainHost), whapi.WithLogger(e.te.Log))
			svc := New(e.store, client, e.te.Log)
			svc.SetClock(e.clock.Now)
			u := e.customer("amal", 1, 30, 30)
			ch, err := svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			if got := e.channel(ch.ID).APIURL; got != tt.apiURL {
				t.Fatalf("apiUrl %q, want the answer's %q kept", got, tt.apiURL)
			}
			for range 2 {
				st, err := svc.ConnectState(e.ctx, ch.ID)
				if err != nil || st.Phase != PhaseWaiting || len(st.PNG) == 0 {
					t.Fatalf("connect state: %+v %v", st, err)
				}
				e.clock.Advance(healthTTL)
			}
			if n := hits.Load(); n != 0 {
				t.Fatalf("the refused host got %d requests", n)
			}
			if e.sim.CountRequests(http.MethodGet, "/users/login") != 1 {
				t.Fatal("the QR did not come from the configured gate")
			}
			token, _ := e.store.ChannelToken(e.channel(ch.ID))
			logs := e.te.Logs.String()
			if strings.Contains(logs, token) || strings.Contains(logs, e.token) || strings.Contains(logs, "pass@") {
				t.Fatalf("the log carries a secret: %s", logs)
			}
			if n := strings.Count(logs, "gate address was refused"); n != 1 || !strings.Contains(logs, tt.why) {
				t.Fatalf("want the refusal (%s) logged once, got %d: %s", tt.why, n, logs)
			}
		})
	}
}

// apiURLRewriter is a front of the simulator that rewrites the apiUrl in
// its answers (from → to): WHAPI's answers naming a host of a test's
// choosing.
type apiURLRewriter struct {
	mu       sync.Mutex
	from, to string
}

func (f *apiURLRewriter) set(from, to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.from, f.to = from, to
}

func (f *apiURLRewriter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		f.mu.Lock()
		body := rec.Body.Bytes()
		if f.from != "" {
			body = bytes.ReplaceAll(body, []byte(f.from), []byte(f.to))
		}
		f.mu.Unlock()
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// A channel on its own gate host gets its webhook registered there (the
// settings are read and patched on that host, never on the configured
// gate), and the events WHAPI sends for it from there are applied.
func TestHookRegisteredOnTheChannelsOwnGateHost(t *testing.T) {
	e := hookEnv(t, func(o *envOpts) { o.secondGate = true })
	base := e.receiver()
	u := e.customer("amal", 1, 30, 30)
	if err := e.sim.PlaceNewChannels(e.gate2); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	ch := e.create(u.ID, "born there")
	host2 := strings.TrimSuffix(strings.TrimPrefix(e.gate2, "https://"), "/")
	settings := 0
	for _, r := range e.sim.Requests() {
		if r.Path != "/settings" {
			continue
		}
		settings++
		if r.Host != host2 {
			t.Fatalf("%s /settings went to %s, not to the channel's gate host %s", r.Method, r.Host, host2)
		}
	}
	if settings != 2 {
		t.Fatalf("%d settings calls for one registration, want a GET and a PATCH", settings)
	}
	tok, err := e.store.ChannelToken(ch)
	if err != nil {
		t.Fatal(err)
	}
	st, err := whapi.New(e.srv.URL, e.srv.URL, e.store, e.clientOpts...).Gate(e.gate2).GetSettings(e.ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	ours := 0
	for _, w := range st.Webhooks {
		if strings.HasPrefix(w.URL, base+HookPath) {
			ours++
		}
	}
	if ours != 1 {
		t.Fatalf("%d webhooks of ours on the channel's gate host: %v", ours, st.Webhooks)
	}
	if g, err := e.store.ChannelGate(e.ctx, ch.ID); err != nil || !g.Registered(base) {
		t.Fatalf("gate %+v %v", g, err)
	}

	if err := e.sim.LinkChannel(ch.RemoteID(), "97313300383"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the channel linked by its webhook", func() bool { c := e.channel(ch.ID); return c.Linked && c.LinkedPhone == "97313300383" })
}
