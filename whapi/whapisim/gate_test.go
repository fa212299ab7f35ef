package whapisim

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"
)

func TestHealthProgression(t *testing.T) {
	e := newEnv(t, Options{BalanceDays: 10})
	ch := e.create("health")
	step := func(d time.Duration, wantText string, wantCode int) wireHealth {
		t.Helper()
		e.clock.Advance(d)
		h := e.health(ch.Token)
		if h.Status.Text != wantText || h.Status.Code != wantCode || h.ChannelID != ch.ID || h.Version == "" {
			t.Fatalf("at %v: health = %+v, want %s (%d)", e.clock.Now().Sub(t0()), h, wantText, wantCode)
		}
		return h
	}
	h := step(0, "INIT", 1)
	if h.StartAt != t0().Unix() || h.Uptime != 0 || h.User != nil {
		t.Fatalf("INIT health = %+v", h)
	}
	step(1499*time.Millisecond, "INIT", 1)
	step(time.Millisecond, "LAUNCH", 2)
	step(1499*time.Millisecond, "LAUNCH", 2)
	h = step(time.Millisecond, "QR", 3)
	if h.Uptime != 3 {
		t.Fatalf("uptime = %d, want 3", h.Uptime)
	}
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	h = step(time.Second, "AUTH", 4)
	if h.User == nil || h.User.ID != "61371989950" || h.User.Name == "" {
		t.Fatalf("AUTH user = %+v", h.User)
	}
	if st, _ := e.sim.Channel(ch.ID); !st.Linked || st.LinkedPhone != "61371989950" {
		t.Fatalf("state = %+v", st)
	}

	// A mode change restarts the channel: LAUNCH for the startup delay, then AUTH again.
	wantSuccess(t, e.manager("PATCH", "/channels/"+ch.ID+"/mode", map[string]string{"mode": "live"}))
	step(0, "LAUNCH", 2)
	step(2999*time.Millisecond, "LAUNCH", 2)
	step(time.Millisecond, "AUTH", 4)

	// Expiry: STOP. Extending revives the channel NOT_INIT, until woken.
	e.clock.Set(t0().Add(6*24*time.Hour + time.Millisecond))
	step(0, "STOP", 6)
	wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/extend", map[string]any{"days": 1, "comment": "c"}))
	step(0, "NOT_INIT", 0)
	step(time.Minute, "NOT_INIT", 0) // wakeup=false never starts it
	wantError(t, e.gate(ch.Token, "GET", "/health?wakeup=maybe"), 400)
	var woken wireHealth
	decode(t, e.gate(ch.Token, "GET", "/health"), &woken) // wakeup defaults to true
	if woken.Status.Text != "INIT" {
		t.Fatalf("woken = %+v", woken)
	}
	step(3*time.Second, "AUTH", 4) // the linked session survived
}

func TestModeChangeBeforeQR(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: 10 * time.Second})
	ch := e.create("restart")
	e.clock.Advance(2 * time.Second)
	wantSuccess(t, e.manager("PATCH", "/channels/"+ch.ID+"/mode", map[string]string{"mode": "dev"}))
	if h := e.health(ch.Token); h.Status.Text != "LAUNCH" {
		t.Fatalf("health = %+v", h)
	}
	e.clock.Advance(10 * time.Second)
	if h := e.health(ch.Token); h.Status.Text != "QR" {
		t.Fatalf("health = %+v", h)
	}
}

func TestLinkChannelErrors(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("link")
	tests := []struct {
		name    string
		advance time.Duration
		id      string
		phone   string
		want    error
	}{
		{"unknown", 0, "ABCDEF-12345", "61371989950", ErrChannelNotFound},
		{"bad phone", 0, ch.ID, "+61371989950", ErrInvalidPhone},
		{"still INIT", 0, ch.ID, "61371989950", ErrNoQR},
		{"LAUNCH", 2 * time.Second, ch.ID, "61371989950", ErrNoQR},
		{"QR", time.Second, ch.ID, "61371989950", nil},
		{"again", 0, ch.ID, "61371989951", ErrAlreadyLinked},
	}
	for _, tc := range tests {
		e.clock.Advance(tc.advance)
		if err := e.sim.LinkChannel(tc.id, tc.phone); !errors.Is(err, tc.want) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	wantSuccess(t, e.manager("DELETE", "/channels/"+ch.ID, nil))
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); !errors.Is(err, ErrChannelNotFound) {
		t.Fatalf("deleted: %v", err)
	}
	expired := newEnv(t, Options{NoTrial: true})
	c2 := expired.create("expired")
	expired.clock.Advance(time.Hour)
	if err := expired.sim.LinkChannel(c2.ID, "61371989950"); !errors.Is(err, ErrNoQR) {
		t.Fatalf("expired: %v", err)
	}
}

func (e *env) login(token, query string) (wireQR, resp) {
	e.t.Helper()
	r := e.gate(token, "GET", "/users/login"+query)
	if r.status != 200 {
		e.t.Fatalf("login: %d %s", r.status, r.body)
	}
	var q wireQR
	decode(e.t, r, &q)
	return q, r
}

// checkQRImage checks that img shows, centred, a QR code of size pixels
// encoding content.
func checkQRImage(t *testing.T, img image.Image, content string, size int) {
	t.Helper()
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bm := q.Bitmap()
	n := len(bm)
	b := img.Bounds()
	offX, offY := b.Min.X+(b.Dx()-size)/2, b.Min.Y+(b.Dy()-size)/2
	for my := range n {
		for mx := range n {
			px := offX + int((float64(mx)+0.5)*float64(size)/float64(n))
			py := offY + int((float64(my)+0.5)*float64(size)/float64(n))
			r, g, bl, _ := img.At(px, py).RGBA()
			dark := r+g+bl < 3*0x8000
			if dark != bm[my][mx] {
				t.Fatalf("module (%d,%d): dark = %v, want %v", mx, my, dark, bm[my][mx])
			}
		}
	}
}

func decodeDataURL(t *testing.T, s string) image.Image {
	t.Helper()
	b64, ok := strings.CutPrefix(s, "data:image/png;base64,")
	if !ok {
		t.Fatalf("base64 = %.40q…, want a data:image/png;base64, URL", s)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

func TestQRLogin(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("qr")

	// Before the QR is up: WAITING, no image.
	q, r := e.login(ch.Token, "?wakeup=true")
	if q.Status != "WAITING" || q.Base64 != "" || q.Rowdata != "" || q.Expire != nil {
		t.Fatalf("early login = %s", r.body)
	}

	e.clock.Advance(3 * time.Second)
	q, _ = e.login(ch.Token, "?wakeup=true")
	if q.Status != "OK" || q.Rowdata == "" || q.Expire == nil || *q.Expire != 20 {
		t.Fatalf("login = %+v", q)
	}
	img := decodeDataURL(t, q.Base64)
	if b := img.Bounds(); b.Dx() != 300 || b.Dy() != 300 {
		t.Fatalf("image is %v, want 300x300", b)
	}
	checkQRImage(t, img, q.Rowdata, 264)
	first := q.Rowdata

	// The same QR counts down, then a new one is served.
	e.clock.Advance(5 * time.Second)
	q, _ = e.login(ch.Token, "")
	if q.Rowdata != first || *q.Expire != 15 {
		t.Fatalf("after 5 s: expire %v, same rowdata %v", *q.Expire, q.Rowdata == first)
	}
	e.clock.Advance(14500 * time.Millisecond)
	q, _ = e.login(ch.Token, "")
	if q.Rowdata != first || *q.Expire != 1 {
		t.Fatalf("after 19.5 s: expire %v, same rowdata %v", *q.Expire, q.Rowdata == first)
	}
	e.clock.Advance(500 * time.Millisecond)
	q, _ = e.login(ch.Token, "")
	if q.Rowdata == first || *q.Expire != 20 {
		t.Fatalf("after 20 s: expire %v, rotated %v", *q.Expire, q.Rowdata != first)
	}
	checkQRImage(t, decodeDataURL(t, q.Base64), q.Rowdata, 264)

	// Every period has its own payload; /users/login/rowdata agrees.
	seen := map[string]bool{first: true}
	for range 5 {
		var rd wireQR
		decode(t, e.gate(ch.Token, "GET", "/users/login/rowdata"), &rd)
		q, _ = e.login(ch.Token, "")
		if rd.Status != "OK" || rd.Rowdata != q.Rowdata || rd.Base64 != "" || seen[q.Rowdata] {
			t.Fatalf("rowdata %+v vs login %+v (seen before: %v)", rd, q.Rowdata, seen[q.Rowdata])
		}
		seen[q.Rowdata] = true
		e.clock.Advance(20 * time.Second)
	}
	other := e.create("other")
	e.clock.Advance(3 * time.Second)
	if q2, _ := e.login(other.Token, ""); seen[q2.Rowdata] {
		t.Fatal("two channels share a QR payload")
	}
}

func TestQRImage(t *testing.T) {
	e := newEnv(t, Options{QRLifetime: time.Minute})
	ch := e.create("image")
	e.clock.Advance(3 * time.Second)
	q, _ := e.login(ch.Token, "?size=200&width=200&height=200&color_dark=%23000000&color_light=ffffff")
	checkQRImage(t, decodeDataURL(t, q.Base64), q.Rowdata, 200)
	if *q.Expire != 60 {
		t.Fatalf("expire = %d, want 60", *q.Expire)
	}

	r := e.gate(ch.Token, "GET", "/users/login/image?wakeup=true&size=150&width=180&height=160")
	if r.status != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("image: %d %s", r.status, r.header.Get("Content-Type"))
	}
	img, err := png.Decode(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 180 || b.Dy() != 160 {
		t.Fatalf("image is %v", b)
	}
	checkQRImage(t, img, q.Rowdata, 150)

	for _, query := range []string{"size=0", "size=x", "width=-1", "height=99999", "color_dark=zzz", "color_light=%23ff", "wakeup=yes"} {
		wantError(t, e.gate(ch.Token, "GET", "/users/login?"+query), 400)
		wantError(t, e.gate(ch.Token, "GET", "/users/login/image?"+query), 400)
	}
}

func TestLoginStates(t *testing.T) {
	e := newEnv(t, Options{BalanceDays: 5})
	ch := e.create("states")

	// The image endpoint has no QR yet: it answers the JSON status.
	r := e.gate(ch.Token, "GET", "/users/login/image")
	var q wireQR
	decode(t, r, &q)
	if r.status != 200 || q.Status != "WAITING" {
		t.Fatalf("early image: %d %s", r.status, r.body)
	}

	// Expired: ERROR.
	e.clock.Set(t0().Add(7 * 24 * time.Hour))
	if q, _ := e.login(ch.Token, "?wakeup=true"); q.Status != "ERROR" || q.Base64 != "" {
		t.Fatalf("expired login = %+v", q)
	}
	wantError(t, e.gate(ch.Token, "GET", "/users/login/61371989950"), 422)

	// Extended: NOT_INIT. wakeup=false leaves it; wakeup=true starts it.
	wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/extend", map[string]any{"days": 5, "comment": "c"}))
	if q, _ := e.login(ch.Token, "?wakeup=false"); q.Status != "WAITING" {
		t.Fatalf("login wakeup=false = %+v", q)
	}
	if h := e.health(ch.Token); h.Status.Text != "NOT_INIT" {
		t.Fatalf("health = %+v", h)
	}
	if q, _ := e.login(ch.Token, ""); q.Status != "WAITING" {
		t.Fatalf("login = %+v", q)
	}
	if h := e.health(ch.Token); h.Status.Text != "INIT" {
		t.Fatalf("health after wakeup = %+v", h)
	}
	e.clock.Advance(3 * time.Second)
	if q, _ := e.login(ch.Token, "?wakeup=false"); q.Status != "OK" {
		t.Fatalf("login = %+v", q)
	}
}

func TestAuthenticatedConflicts(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("linked")
	e.clock.Advance(3 * time.Second)
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/users/login", "/users/login?wakeup=true", "/users/login/image", "/users/login/rowdata", "/users/login/61371989950"} {
		r := e.gate(ch.Token, "GET", path)
		if m := wantError(t, r, 409).Error.Message; m != "Channel already authenticated" {
			t.Fatalf("%s: message %q", path, m)
		}
	}
}

func TestPairingCode(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("pairing")
	for _, phone := range []string{"abc", "123456", "1234567890123456", "+61371989950", "6137198995a"} {
		if m := wantError(t, e.gate(ch.Token, "GET", "/users/login/"+phone), 400).Error.Message; m != "Invalid phone number" {
			t.Fatalf("%s: %q", phone, m)
		}
	}
	wantError(t, e.gate(ch.Token, "GET", "/users/login/61371989950"), 422) // INIT
	e.clock.Advance(3 * time.Second)
	r := e.gate(ch.Token, "GET", "/users/login/61371989950")
	var got struct {
		Code string `json:"code"`
	}
	decode(t, r, &got)
	if r.status != 200 || !regexp.MustCompile(`^[A-Z0-9]{4}-[A-Z0-9]{4}$`).MatchString(got.Code) {
		t.Fatalf("pairing code: %d %s", r.status, r.body)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("logout")
	e.clock.Advance(3 * time.Second)
	if m := wantError(t, e.gate(ch.Token, "POST", "/users/logout"), 409).Error.Message; m != "Channel already logged out" {
		t.Fatalf("message %q", m)
	}
	q1, _ := e.login(ch.Token, "")
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	wantSuccess(t, e.gate(ch.Token, "POST", "/users/logout"))
	if h := e.health(ch.Token); h.Status.Text != "QR" || h.User != nil {
		t.Fatalf("after logout: %+v", h)
	}
	q2, _ := e.login(ch.Token, "")
	if q2.Status != "OK" || q2.Rowdata == q1.Rowdata || *q2.Expire != 20 {
		t.Fatalf("after logout login = %+v", q2)
	}
	wantError(t, e.gate(ch.Token, "POST", "/users/logout"), 409)
	if err := e.sim.LinkChannel(ch.ID, "61371989951"); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.sim.Channel(ch.ID); st.LinkedPhone != "61371989951" {
		t.Fatalf("state = %+v", st)
	}
}

// A channel can live on a second gate host: create and get report that
// host as its apiUrl, only that host serves its gate calls (the main root
// answers 401, as for an unknown token), and the second host serves no
// other channel and no partner API.
func TestSecondGateHost(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: -1})
	gate2 := httptest.NewTLSServer(e.sim.GateHost())
	t.Cleanup(gate2.Close)
	apiURL := gate2.URL + "/"
	onGate2 := func(token, path string) resp {
		t.Helper()
		req, err := http.NewRequest("GET", gate2.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		r, err := gate2.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return resp{status: r.StatusCode, header: r.Header, body: b}
	}

	moved, stays := e.create("moved"), e.create("stays")
	if err := e.sim.PlaceChannel(moved.ID, apiURL); err != nil {
		t.Fatal(err)
	}
	if got := e.getChannel(moved.ID).APIURL; got != apiURL {
		t.Fatalf("apiUrl of the moved channel %q, want %q", got, apiURL)
	}
	if got := e.getChannel(stays.ID).APIURL; got != DefaultGateURL {
		t.Fatalf("apiUrl of the other channel %q", got)
	}
	if st, _ := e.sim.Channel(moved.ID); st.APIURL != apiURL {
		t.Fatalf("ChannelState.APIURL %q", st.APIURL)
	}
	wantError(t, e.gate(moved.Token, "GET", "/health?wakeup=false"), 401)
	r := onGate2(moved.Token, "/health?wakeup=false")
	var h wireHealth
	decode(t, r, &h)
	if r.status != 200 || h.ChannelID != moved.ID || h.Status.Text != "QR" {
		t.Fatalf("health on the second host: %d %s", r.status, r.body)
	}
	if r := onGate2(moved.Token, "/users/login"); r.status != 200 {
		t.Fatalf("QR on the second host: %d %s", r.status, r.body)
	}
	wantError(t, onGate2(stays.Token, "/health?wakeup=false"), 401)
	wantError(t, onGate2(testPartnerToken, "/channels/list"), 404)
	if e.health(stays.Token).Status.Text != "QR" {
		t.Fatal("the main root stopped serving the other channel")
	}
	hosts := map[string]int{}
	for _, rq := range e.sim.Requests() {
		if rq.Path == "/health" {
			hosts[rq.Host]++
		}
	}
	if hosts[strings.TrimPrefix(gate2.URL, "https://")] != 2 || hosts[strings.TrimPrefix(e.srv.URL, "http://")] != 2 {
		t.Fatalf("health requests by host: %v", hosts)
	}

	// New channels may be placed there at once; "" brings one back.
	if err := e.sim.PlaceNewChannels(apiURL); err != nil {
		t.Fatal(err)
	}
	born := e.create("born there")
	if born.APIURL != apiURL || onGate2(born.Token, "/health?wakeup=false").status != 200 {
		t.Fatalf("a channel created on the second host: apiUrl %q", born.APIURL)
	}
	if err := e.sim.PlaceChannel(moved.ID, ""); err != nil {
		t.Fatal(err)
	}
	if e.getChannel(moved.ID).APIURL != DefaultGateURL || e.health(moved.Token).Status.Text != "QR" {
		t.Fatal("a channel moved back is not served by the main root")
	}
	wantError(t, onGate2(moved.Token, "/health?wakeup=false"), 401)

	if err := e.sim.PlaceChannel(moved.ID, "gate2.example"); !errors.Is(err, ErrBadGateURL) {
		t.Fatalf("a URL without scheme: %v", err)
	}
	if err := e.sim.PlaceChannel("ABCDEF-12345", apiURL); !errors.Is(err, ErrChannelNotFound) {
		t.Fatalf("unknown channel: %v", err)
	}
}
