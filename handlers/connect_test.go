package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// custAttr returns the value of attribute name of the element with
// id="id" in body ("" if absent), HTML-unescaped.
func custAttr(body, id, name string) string {
	tag := regexp.MustCompile(`<[a-z]+ [^>]*id="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
	m := regexp.MustCompile(`\s` + regexp.QuoteMeta(name) + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// connectShown is what a connect page or status partial shows: its step,
// where it polls next ("" = it stopped), its QR image and the status line
// it announces out of band ("" = none).
type connectShown struct {
	step, poll, trigger, img, announce string
}

func custShown(t *testing.T, body string) connectShown {
	t.Helper()
	s := connectShown{step: custAttr(body, "connect-status", "data-step"), poll: custAttr(body, "connect-status", "hx-get"),
		trigger: custAttr(body, "connect-status", "hx-trigger")}
	if s.step == "" {
		t.Fatalf("no status partial in:\n%s", body)
	}
	if m := regexp.MustCompile(`<img class="qr" src="([^"]+)"`).FindStringSubmatch(body); m != nil {
		s.img = html.UnescapeString(m[1])
	}
	if m := regexp.MustCompile(`(?s)<p id="connect-announce" hx-swap-oob="innerHTML">(.*?)</p>`).FindStringSubmatch(body); m != nil {
		s.announce = html.UnescapeString(m[1])
	}
	return s
}

// poll asks for the status as the page's poll would.
func (s connectShown) pollFrom(t *testing.T, c *testClient) (result, connectShown) {
	t.Helper()
	if s.poll == "" {
		t.Fatalf("the %s state does not poll", s.step)
	}
	r := c.get(s.poll)
	if r.StatusCode == http.StatusNoContent {
		if r.body != "" {
			t.Fatalf("204 with a body: %q", r.body)
		}
		return r, s
	}
	custWant(t, r, http.StatusOK)
	return r, custShown(t, r.body)
}

func TestConnectPageFromPreparingToConnected(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) {
		o.manualClock = true
		o.sim.StartupDelay = 4 * time.Second
	})
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	c := f.signedIn("alice@example.com")

	page := c.get(connectPath(ch.ID, ""))
	custWant(t, page, http.StatusOK)
	custHas(t, page.body, "Link your phone to “Sales”", "Preparing your line…", "Link with phone number instead")
	s := custShown(t, page.body)
	if s.step != "preparing" || !strings.Contains(s.trigger, "every 1s") || !strings.Contains(s.trigger, "countdown-expired") {
		t.Fatalf("preparing: %+v", s)
	}
	if custAttr(page.body, "connect-announce", "role") != "status" || custAttr(page.body, "connect-announce", "aria-live") != "polite" {
		t.Fatal("the status line is not an ARIA live region")
	}

	// Nothing changed: 204, nothing swapped or announced.
	r, s2 := s.pollFrom(t, c)
	custWant(t, r, http.StatusNoContent)

	// The line is up: the QR code replaces "preparing" by itself.
	f.advance(4 * time.Second)
	r, s2 = s2.pollFrom(t, c)
	if s2.step != "qr" || s2.announce != "Scan the code with WhatsApp on your phone." {
		t.Fatalf("after startup: %+v", s2)
	}
	if !regexp.MustCompile(`^/app/channels/\d+/qr\.png\?v=\d+$`).MatchString(s2.img) {
		t.Fatalf("QR image from %q, want our own origin", s2.img)
	}
	custHas(t, r.body, "This code is renewed by itself in 0:20", "Settings", "Linked devices", "Link a device")
	if alt := regexp.MustCompile(`<img class="qr"[^>]* alt="([^"]+)"`).FindStringSubmatch(r.body); alt == nil || !strings.Contains(alt[1], "QR code") {
		t.Fatal("the QR image has no alt text")
	}
	if !regexp.MustCompile(`data-countdown="\d+\.\d{3}"`).MatchString(r.body) {
		t.Fatal("no countdown")
	}
	img1 := c.get(s2.img)
	custWant(t, img1, http.StatusOK)
	if ct, cc := img1.Header.Get("Content-Type"), img1.Header.Get("Cache-Control"); ct != "image/png" || cc != "no-store" {
		t.Fatalf("qr.png: Content-Type %q, Cache-Control %q", ct, cc)
	}
	if !strings.HasPrefix(img1.body, string(pngMagic)) {
		t.Fatal("qr.png is not a PNG")
	}

	// Same code: 204.
	r, s3 := s2.pollFrom(t, c)
	custWant(t, r, http.StatusNoContent)

	// The code expires: a new one, a new image, no new announcement.
	f.advance(20 * time.Second)
	r, s3 = s3.pollFrom(t, c)
	if s3.step != "qr" || s3.img == s2.img || s3.announce != "" {
		t.Fatalf("after the QR lifetime: %+v (before: %+v)", s3, s2)
	}
	if img2 := c.get(s3.img); img2.body == img1.body {
		t.Fatal("the new code's image is the old one")
	}

	// The phone scans: "Connected" with the number, and polling stops.
	f.link(ch, "15551234567")
	f.advance(2 * time.Second)
	r, s4 := s3.pollFrom(t, c)
	if s4.step != "connected" || s4.poll != "" || s4.trigger != "" || s4.announce != "Connected: +15551234567" {
		t.Fatalf("after linking: %+v", s4)
	}
	custHas(t, r.body, "Connected.", "WhatsApp number +15551234567 is linked to “Sales”.")
	if !strings.Contains(r.body, `<div id="pairing" hx-swap-oob="delete">`) || !strings.Contains(r.body, `<h2 id="connect-title" hx-swap-oob="innerHTML">Your phone is linked</h2>`) {
		t.Fatalf("the connected swap does not update the card's title or drop the pairing card:\n%s", r.body)
	}
	if ch := f.reload(ch); !ch.Linked || ch.LinkedPhone != "15551234567" {
		t.Fatalf("channel linked %v %q", ch.Linked, ch.LinkedPhone)
	}
	page = c.get(connectPath(ch.ID, ""))
	custHas(t, page.body, "Connected: +15551234567")
	custHasNot(t, page.body, "Link with phone number instead")
	custWant(t, c.get(s3.img), http.StatusNotFound) // no code once linked
}

func TestConnectPollingIsBounded(t *testing.T) {
	f := newCustFix(t)
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	c := f.signedIn("alice@example.com")
	s := custShown(t, c.get(connectPath(ch.ID, "")).body)
	if s.step != "qr" {
		t.Fatalf("step %q", s.step)
	}
	since := regexp.MustCompile(`since=(\d+)`).FindStringSubmatch(s.poll)
	if since == nil {
		t.Fatalf("poll URL %q has no since", s.poll)
	}

	// A page that has polled for 10 minutes stops, and says how to go on.
	old := strings.Replace(s.poll, "since="+since[1], fmt.Sprint("since=", time.Now().Add(-connectPollWindow).Unix()), 1)
	r := c.get(old)
	custWant(t, r, http.StatusOK)
	idle := custShown(t, r.body)
	if idle.step != "idle" || idle.poll != "" || idle.trigger != "" || idle.announce != "Still there? Get a new code." {
		t.Fatalf("after 10 minutes: %+v", idle)
	}
	m := regexp.MustCompile(`<a class="btn btn-primary" href="([^"]+)" hx-get="([^"]+)"[^>]*data-testid="retry">Get a new code</a>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no \"Get a new code\" button:\n%s", r.body)
	}
	if m[1] != connectPath(ch.ID, "") || strings.Contains(m[2], "since") {
		t.Fatalf("retry button: href %q, hx-get %q", m[1], m[2])
	}
	// The button starts polling afresh.
	r = c.get(html.UnescapeString(m[2]))
	if again := custShown(t, r.body); again.step != "qr" || again.poll == "" {
		t.Fatalf("after \"Get a new code\": %+v", again)
	}
	// A since in the future is now.
	future := strings.Replace(s.poll, "since="+since[1], fmt.Sprint("since=", time.Now().Add(time.Hour).Unix()), 1)
	custWant(t, c.get(future), http.StatusNoContent)
}

func TestConnectRenewalFails(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	c := f.signedIn("alice@example.com")
	s := custShown(t, c.get(connectPath(ch.ID, "")).body)
	if s.step != "qr" {
		t.Fatalf("step %q", s.step)
	}
	f.sim.InjectFault(whapisim.Fault{Path: "/health", Kind: whapisim.FaultStatus, Status: 500, Times: 1000})
	f.sim.InjectFault(whapisim.Fault{Path: "/users/login", Kind: whapisim.FaultStatus, Status: 503, Times: 1000})

	// While the code on screen still works, a failing line changes nothing.
	f.advance(3 * time.Second)
	r, _ := s.pollFrom(t, c)
	custWant(t, r, http.StatusNoContent)

	// It expires and no new one comes: a clear state with a button.
	f.advance(20 * time.Second)
	r, renew := s.pollFrom(t, c)
	if renew.step != "renew" || renew.poll != "" || renew.announce != "This code expired — get a new one." {
		t.Fatalf("renewal failed: %+v", renew)
	}
	custHas(t, r.body, "Get a new code")
	if strings.Contains(strings.ToLower(r.body), "whapi") || strings.Contains(r.body, "Internal") || strings.Contains(r.body, "busy") {
		t.Fatalf("upstream details shown:\n%s", r.body)
	}

	// The page opened meanwhile says the line cannot be reached, with a button.
	page := c.get(connectPath(ch.ID, ""))
	custWant(t, page, http.StatusOK)
	if st := custShown(t, page.body); st.step != "unavailable" || st.poll != "" {
		t.Fatalf("page while failing: %+v", st)
	}
	custHas(t, page.body, "Your line cannot be reached right now.", "Try again")
	custWant(t, c.get(fmt.Sprintf("/app/channels/%d/qr.png", ch.ID)), http.StatusServiceUnavailable)

	// The line is back: the button brings a new code.
	f.sim.ClearFaults()
	f.advance(2 * time.Second)
	r = c.get(connectPath(ch.ID, "/status"))
	if st := custShown(t, r.body); st.step != "qr" || st.poll == "" || st.announce == "" {
		t.Fatalf("after the button: %+v", st)
	}
}

func TestConnectPairingCode(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) {
		o.manualClock = true
		o.sim.StartupDelay = 4 * time.Second
	})
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	c := f.signedIn("alice@example.com")
	page, action := connectPath(ch.ID, ""), connectPath(ch.ID, "/pairing")

	r := c.submit(page, action, url.Values{"phone": {"+1 555 123 4567"}})
	custWant(t, r, http.StatusOK)
	custHas(t, r.body, "Your line is not ready for a code yet.")

	f.advance(4 * time.Second)
	r = c.submit(page, action, url.Values{"phone": {"not a number"}})
	custWant(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, `data-testid="error-pairing-phone"`) || !strings.Contains(r.body, `value="not a number"`) {
		t.Fatal("no error next to the phone field")
	}

	r = c.submit(page, action, url.Values{"phone": {"+1 555 123 4567"}})
	custWant(t, r, http.StatusOK)
	code := regexp.MustCompile(`data-testid="pairing-code">([A-Z0-9]{4}-[A-Z0-9]{4})<`).FindStringSubmatch(r.body)
	if code == nil {
		t.Fatalf("no pairing code:\n%s", custText(r.body))
	}
	custHas(t, r.body, "Your code for +15551234567:", "Settings → Linked devices → Link a device",
		"Tap Link with phone number instead", "Type the code above.")
	if n := f.sim.CountRequests("GET", "/users/login/15551234567"); n != 2 { // not ready, then the code
		t.Fatalf("%d pairing calls for the digits", n)
	}

	f.link(ch, "15551234567")
	r = c.submit(page, action, url.Values{"phone": {"+1 555 123 4567"}})
	custHas(t, r.body, "A phone is already linked to this channel.")
}

func TestConnectAPI(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) {
		o.manualClock = true
		o.sim.StartupDelay = 4 * time.Second
	})
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	key, _, err := f.store.CreateAPIKey(context.Background(), models.SystemActor, u.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	c := f.client()
	path := fmt.Sprintf("/api/channels/%d/qr", ch.ID)
	get := func() map[string]string {
		t.Helper()
		r := c.jsonReq("GET", path, "", "Authorization", "Bearer "+key)
		custWant(t, r, http.StatusOK)
		var out map[string]string
		if err := json.Unmarshal([]byte(r.body), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := get(); got["state"] != "preparing" || len(got) != 1 {
		t.Fatalf("while starting: %v", got)
	}
	f.advance(4 * time.Second)
	got := get()
	b64, ok := strings.CutPrefix(got["image"], "data:image/png;base64,")
	if got["state"] != "qr" || !ok {
		t.Fatalf("qr: %v", got)
	}
	if png, err := base64.StdEncoding.DecodeString(b64); err != nil || !bytes.HasPrefix(png, pngMagic) {
		t.Fatalf("image is no base64 PNG: %v", err)
	}
	exp, err := time.Parse(time.RFC3339, got["expires_at"])
	if want := f.clock.Now().Add(20 * time.Second); err != nil || !exp.Equal(want) {
		t.Fatalf("expires_at %q (%v), want %s", got["expires_at"], err, want.Format(time.RFC3339))
	}
	f.link(ch, "15551234567")
	f.advance(2 * time.Second)
	if got := get(); got["state"] != "connected" || got["image"] != "" {
		t.Fatalf("linked: %v", got)
	}

	// The session cookie works too (a GET needs no CSRF header).
	s := f.signedIn("alice@example.com")
	custWant(t, s.get(path), http.StatusOK)

	// The line unreachable: 502 in plain words.
	f.sim.InjectFault(whapisim.Fault{Path: "/health", Kind: whapisim.FaultStatus, Status: 500, Times: 10})
	f.advance(2 * time.Second)
	r := s.get(path)
	custWant(t, r, http.StatusBadGateway)
	if !strings.Contains(r.body, `"code":"unavailable"`) || strings.Contains(r.body, "Internal") {
		t.Fatalf("body %s", r.body)
	}
}

// custRawGet is a GET for goroutines (no t.Fatal): status and body.
func custRawGet(c *testClient, path string) (int, string, error) {
	res, err := c.http.Get(c.app.srv.URL + path)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// TestConnectPollersCoalesce: 20 tabs poll one channel's connect page for
// two QR lifetimes, each loading every new QR image as a browser would;
// the gate sees 2 QR calls, one per lifetime.
func TestConnectPollersCoalesce(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	clients := []*testClient{f.signedIn("alice@example.com"), f.signedIn("alice@example.com"),
		f.signedIn("alice@example.com"), f.signedIn("alice@example.com")}
	f.sim.ResetRequests()

	const tabs = 20
	type tab struct {
		c     *testClient
		poll  string
		seen  map[string]bool // QR images shown
		polls int
	}
	ts := make([]*tab, tabs)
	for i := range ts {
		ts[i] = &tab{c: clients[i%len(clients)], poll: connectPath(ch.ID, "/status"), seen: map[string]bool{}}
	}
	start := f.clock.Now()
	lifetime := whapisim.DefaultQRLifetime
	for f.clock.Now().Before(start.Add(2 * lifetime)) {
		var wg sync.WaitGroup
		for _, tb := range ts {
			wg.Go(func() {
				status, body, err := custRawGet(tb.c, tb.poll)
				tb.polls++
				switch {
				case err != nil:
					t.Error(err)
					return
				case status == http.StatusNoContent:
					return
				case status != http.StatusOK:
					t.Errorf("poll: status %d", status)
					return
				}
				poll := custAttr(body, "connect-status", "hx-get")
				img := regexp.MustCompile(`<img class="qr" src="([^"]+)"`).FindStringSubmatch(body)
				if poll == "" || img == nil {
					t.Errorf("poll answer without a QR or a next poll:\n%s", body)
					return
				}
				tb.poll = poll
				src := html.UnescapeString(img[1])
				if !tb.seen[src] {
					tb.seen[src] = true
					if status, png, err := custRawGet(tb.c, src); err != nil || status != http.StatusOK || !strings.HasPrefix(png, string(pngMagic)) {
						t.Errorf("qr.png: %d %v", status, err)
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		f.advance(500 * time.Millisecond)
	}
	if n := f.sim.CountRequests("GET", "/users/login"); n > 2 {
		t.Fatalf("%d QR calls for %d tabs over two QR lifetimes, want at most 2", n, tabs)
	}
	if n := f.sim.CountRequests("GET", "/users/login"); n != 2 {
		t.Fatalf("%d QR calls: the code was not renewed after its lifetime", n)
	}
	if n, most := f.sim.CountRequests("GET", "/health"), int(2*lifetime/(2*time.Second))+1; n > most {
		t.Fatalf("%d health calls, want at most %d (one per 2 s)", n, most)
	}
	for i, tb := range ts {
		if len(tb.seen) != 2 {
			t.Fatalf("tab %d saw %d codes in %d polls, want 2", i, len(tb.seen), tb.polls)
		}
	}

	// Linked: every tab is told once, and stops polling.
	f.link(ch, "15551234567")
	f.advance(2 * time.Second)
	for i, tb := range ts {
		status, body, err := custRawGet(tb.c, tb.poll)
		if err != nil || status != http.StatusOK || custAttr(body, "connect-status", "data-step") != "connected" ||
			custAttr(body, "connect-status", "hx-get") != "" {
			t.Fatalf("tab %d after linking: %d %v\n%s", i, status, err, body)
		}
	}
}

// TestConnectLinkedDuringRenewal: a phone linked just as its code is
// renewed is known as linked (the gate refuses a new code) before its
// number is; the page says Connected at once and polls once more for the
// number, then stops.
func TestConnectLinkedDuringRenewal(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	c := f.signedIn("alice@example.com")
	s := custShown(t, c.get(connectPath(ch.ID, "")).body)
	f.advance(19 * time.Second)
	if r, _ := s.pollFrom(t, c); r.StatusCode != http.StatusNoContent { // health seen as QR at 19 s
		t.Fatalf("status %d", r.StatusCode)
	}
	f.link(ch, "15551234567")
	f.advance(time.Second) // the code expired, the health seen is 1 s old
	_, s = s.pollFrom(t, c)
	if s.step != "connected" || s.poll == "" || s.announce != "Connected" {
		t.Fatalf("linked during renewal: %+v", s)
	}
	f.advance(2 * time.Second)
	_, s = s.pollFrom(t, c)
	if s.step != "connected" || s.poll != "" || s.announce != "Connected: +15551234567" {
		t.Fatalf("then: %+v", s)
	}
}

// A line whose gate reports an error asks its owner to reconnect, in plain
// words and with one button; the button logs the broken session out and
// the page shows a fresh code; a second press within a minute waits, and
// a line that works again is left alone. The JSON connect state says
// "reconnect" too.
func TestConnectReconnect(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	f.link(ch, "15551234567")
	key, _, err := f.store.CreateAPIKey(context.Background(), models.SystemActor, u.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sim.BreakChannel(ch.RemoteID(), "SYNC_ERROR"); err != nil {
		t.Fatal(err)
	}
	c := f.signedIn("alice@example.com")
	page := c.get(connectPath(ch.ID, ""))
	custWant(t, page, http.StatusOK)
	if s := custShown(t, page.body); s.step != "reconnect" || s.poll != "" {
		t.Fatalf("broken line: %+v", s)
	}
	custHas(t, page.body, "Reconnect your phone", "Your line needs reconnecting.", "lost its connection")
	if !regexp.MustCompile(`<form method="post" action="/app/channels/\d+/connect/reconnect"[^>]*><input type="hidden" name="_csrf" value="[^"]+">\s*<button[^>]*data-testid="reconnect">Reconnect</button>`).MatchString(page.body) {
		t.Fatalf("no Reconnect button posting with its CSRF token:\n%s", page.body)
	}
	custHasNot(t, page.body, "could not be prepared", "Link with phone number instead")
	r := f.client().jsonReq("GET", fmt.Sprintf("/api/channels/%d/qr", ch.ID), "", "Authorization", "Bearer "+key)
	if !strings.Contains(r.body, `"state":"reconnect"`) {
		t.Fatalf("API: %s", r.body)
	}

	// The button: logged out, and a fresh code.
	r = c.submit(connectPath(ch.ID, ""), connectPath(ch.ID, "/reconnect"), nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != connectPath(ch.ID, "") {
		t.Fatalf("reconnect: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	page = c.get(connectPath(ch.ID, ""))
	if s := custShown(t, page.body); s.step != "qr" {
		t.Fatalf("after reconnecting: %+v", s)
	}
	custHas(t, page.body, "Reconnecting: scan the new code below")
	if n := f.sim.CountRequests("POST", "/users/logout"); n != 1 {
		t.Fatalf("%d logouts", n)
	}

	// Broken again at once: one logout a minute.
	f.link(ch, "15551234567")
	if err := f.sim.BreakChannel(ch.RemoteID(), "ERROR"); err != nil {
		t.Fatal(err)
	}
	f.advance(3 * time.Second)
	c.submit(connectPath(ch.ID, ""), connectPath(ch.ID, "/reconnect"), nil)
	custHas(t, c.get(connectPath(ch.ID, "")).body, "This line was reconnected a moment ago. Wait 1 minute, then try again.")
	if n := f.sim.CountRequests("POST", "/users/logout"); n != 1 {
		t.Fatalf("%d logouts within a minute", n)
	}
	f.advance(time.Minute)
	c.submit(connectPath(ch.ID, ""), connectPath(ch.ID, "/reconnect"), nil)
	if n := f.sim.CountRequests("POST", "/users/logout"); n != 2 {
		t.Fatalf("%d logouts a minute later", n)
	}

	// A line that works is never logged out by a stale button.
	f.link(ch, "15551234567")
	f.advance(2 * time.Minute)
	c.submit(connectPath(ch.ID, ""), connectPath(ch.ID, "/reconnect"), nil)
	custHas(t, c.get(connectPath(ch.ID, "")).body, "there is nothing to reconnect")
	if n := f.sim.CountRequests("POST", "/users/logout"); n != 2 || !f.reload(ch).Linked {
		t.Fatalf("%d logouts; a working line was unlinked", n)
	}
}

// A stopped line: its connect page says it is paused and asks nothing of
// the gate (which would wake it); the JSON connect state says "stopped".
func TestConnectStoppedLine(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	if _, err := f.svc.Stop(context.Background(), models.SystemActor, ch.ID); err != nil {
		t.Fatal(err)
	}
	f.sim.ResetRequests()
	c := f.signedIn("alice@example.com")
	page := c.get(connectPath(ch.ID, ""))
	if s := custShown(t, page.body); s.step != "stopped" || s.poll != "" {
		t.Fatalf("stopped line: %+v", s)
	}
	custHas(t, page.body, "Line paused", "This line is paused")
	custHasNot(t, page.body, "Link with phone number instead", "expired")
	custWant(t, c.get(fmt.Sprintf("/app/channels/%d/qr.png", ch.ID)), http.StatusNotFound)
	if n := len(f.sim.Requests()); n != 0 {
		t.Fatalf("%d calls to WHAPI for a stopped line's page", n)
	}
	dash := c.get("/app").body
	custHas(t, dash, "Paused")
}
