package whapisim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openEnv is newEnv on a simulator opened with a state file, on clock.
func openEnv(t *testing.T, clock *Clock, opts Options) *env {
	t.Helper()
	if opts.PartnerToken == "" {
		opts.PartnerToken = testPartnerToken
	}
	opts.Now = clock.Now
	sim, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	return &env{t: t, clock: clock, sim: sim, srv: srv}
}

// asJSON is v as JSON, to compare snapshots whose times went through a file.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A simulator opened again on its state file is the WHAPI it was: the same
// channels with the same tokens, times, modes, linked phones, stopped
// flags and webhooks, the same partner token and balance, even when the
// new run's options say otherwise.
func TestStateFileKeepsTheSimulatedWHAPI(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sim.json")
	clock := NewClock(t0())
	opts := Options{StateFile: path, BalanceDays: 100, StartupDelay: 2 * time.Second, ProjectIDs: []string{"Proj0000000000000001", "Proj0000000000000002"}}
	e := openEnv(t, clock, opts)
	rc := newReceiver(t)

	linked, paused, gone := e.create("linked"), e.create("paused"), e.create("gone")
	e.subscribe(linked.Token, rc.srv.URL+"/hooks/whapi/k", loginEvents...)
	wantSuccess(t, e.manager("POST", "/channels/"+linked.ID+"/extend", map[string]any{"days": 30, "comment": "paid"}))
	wantSuccess(t, e.manager("PATCH", "/channels/"+linked.ID+"/mode", map[string]any{"mode": "live"}))
	clock.Advance(2 * time.Second)
	if err := e.sim.LinkChannel(linked.ID, "447700900123"); err != nil {
		t.Fatal(err)
	}
	wantSuccess(t, e.manager("POST", "/channels/"+paused.ID+"/stop", nil))
	wantSuccess(t, e.manager("DELETE", "/channels/"+gone.ID, nil))
	e.sim.SetPartnerToken(testPartnerToken + "-rotated")
	waitDone(t, e.sim, 3) // channel post (AUTH), users post… all delivered
	before, balance := e.sim.Channels(), e.sim.Balance()
	if balance != 70 {
		t.Fatalf("balance %d before the restart, want 70", balance)
	}
	e.srv.Close()
	e.sim.Close()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no state file: %v", err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("state file mode %o, want 600 (it holds tokens)", mode)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d files, want only the state file (no temporary file left)", len(entries))
	}

	// The next run: other options, the file wins.
	opts.BalanceDays, opts.PartnerToken = 5, "another-token"
	e2 := openEnv(t, clock, opts)
	if got := e2.sim.Balance(); got != balance {
		t.Errorf("balance after the restart %d, want %d", got, balance)
	}
	if got, want := asJSON(t, e2.sim.Channels()), asJSON(t, before); got != want {
		t.Errorf("channels after the restart:\n%s\nwant\n%s", got, want)
	}
	if got := strings.Join(e2.sim.Projects(), ","); got != "Proj0000000000000001,Proj0000000000000002" {
		t.Errorf("projects after the restart %s", got)
	}
	// Over HTTP: the rotated partner token works, the old one and the new
	// run's option do not; the channels' tokens still open their gates.
	if r := e2.request("GET", "/channels/list", "Bearer another-token", nil); r.status != http.StatusUnauthorized {
		t.Errorf("the new run's token option: %d, want 401", r.status)
	}
	r := e2.request("GET", "/channels/list", "Bearer "+testPartnerToken+"-rotated", nil)
	var list struct{ Channels []wireChannel }
	decode(t, r, &list)
	if len(list.Channels) != 2 || list.Channels[0].ID != linked.ID || list.Channels[0].Mode != "live" || list.Channels[1].ID != paused.ID || !list.Channels[1].Stopped {
		t.Errorf("channels listed after the restart: %s", r.body)
	}
	if h := e2.health(linked.Token); h.Status.Text != "AUTH" || h.User == nil || h.User.ID != "447700900123" {
		t.Errorf("health of the linked channel after the restart: %+v", h)
	}
	if r := e2.gate(gone.Token, "GET", "/health?wakeup=false"); r.status != http.StatusUnauthorized {
		t.Errorf("the deleted channel's token after the restart: %d, want 401", r.status)
	}
	// Its webhooks too: an unlink is told, as before the restart.
	n := len(rc.all())
	if err := e2.sim.UnlinkChannel(linked.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the unlink's events", func() bool { return len(rc.all()) >= n+3 })
	if evs := rc.events()[n:]; strings.Join(evs, ",") != "channel/post,channel/patch,users/delete" {
		t.Errorf("events after the restart %v, want channel/post (QR), channel/patch (the code), users/delete", evs)
	}
	// The unlink is in the file already: a third run sees it.
	e3 := openEnv(t, clock, opts)
	if st, _ := e3.sim.Channel(linked.ID); st.Linked {
		t.Error("a change made after the restart was not written to the state file")
	}
}

// A state file that cannot be read as a simulator's state is an error that
// names the file, and the file stays as it was: the simulator never starts
// afresh over channels it could not read.
func TestStateFileCorruptIsAnError(t *testing.T) {
	for name, content := range map[string]string{
		"not JSON":      "{\"version\":1,\"balance\":",
		"other version": `{"version":99,"ownerId":"x","projects":[{"id":"p"}]}`,
		"unknown field": `{"version":1,"ownerId":"x","projects":[{"id":"p"}],"extra":1}`,
		"bad channel":   `{"version":1,"ownerId":"x","projects":[{"id":"p"}],"channels":[{"ID":"nope","Token":"t","seed":"AA=="}]}`,
		"empty":         "",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sim.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(Options{StateFile: path, PartnerToken: testPartnerToken})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a corrupt state file")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a simulator state") {
				t.Errorf("error %q does not name the file and say what is wrong", err)
			}
			if raw, _ := os.ReadFile(path); string(raw) != content {
				t.Error("the corrupt file was changed")
			}
		})
	}
}

// Without a state file Open is New; New refuses a state file, which only
// Open reads and reports on.
func TestOpenWithoutStateFile(t *testing.T) {
	s, err := Open(Options{PartnerToken: testPartnerToken, BalanceDays: 3})
	if err != nil || s.Balance() != 3 {
		t.Fatalf("Open without a state file: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("New with a StateFile did not panic")
		}
	}()
	New(Options{StateFile: filepath.Join(t.TempDir(), "x.json")})
}
