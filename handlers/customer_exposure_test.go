package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// custCall is one request of a walk over the app's routes.
type custCall struct {
	route  string // the route as registered: "GET /app/channels/:id/connect"
	method string
	path   string
	apiKey bool // API key instead of the session cookie (API only)
}

func (c custCall) String() string {
	via := ""
	if c.apiKey {
		via = " (API key)"
	}
	return c.method + " " + c.path + via
}

// custAnswer is what one call got.
type custAnswer struct {
	call   custCall
	status int
	header http.Header
	body   []byte
}

// custIDs are the ids a walk puts into the routes' parameters.
type custIDs struct {
	channel, user, plan string
	// spare channels for the routes that delete one, used up in order.
	spares []string
}

// custStaticFiles are the files a walk fetches for /static*.
var custStaticFiles = []string{"/static/js/app.js", "/static/js/htmx.min.js", "/static/css/app.css", "/static/img/favicon.svg"}

// custDestructive reports whether a route ends the session or deletes the
// channel it names: such calls go last (or get a spare channel).
func custDestructive(method, path string) bool {
	return method == http.MethodDelete || (method == http.MethodPost && strings.HasSuffix(path, "/delete"))
}

// custRouteList is every route of e as "METHOD /path", sorted, without
// Echo's own "route not found" entries.
func custRouteList(e *echo.Echo) []string {
	var out []string
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		out = append(out, r.Method+" "+r.Path)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// custFill puts ids into a route's path parameters: a channel id after
// "channels" (or as :cid), a user id after "users", a plan id after
// "plans"; channel is the channel id to use.
func custFill(path, channel string, ids custIDs) string {
	seg := strings.Split(path, "/")
	for i, s := range seg {
		if !strings.HasPrefix(s, ":") {
			continue
		}
		switch {
		case s == ":cid" || seg[i-1] == "channels":
			seg[i] = channel
		case seg[i-1] == "users":
			seg[i] = ids.user
		case seg[i-1] == "plans":
			seg[i] = ids.plan
		default:
			seg[i] = "1"
		}
	}
	return strings.Join(seg, "/")
}

// custWalkCalls turns every route of e into calls a signed-in customer
// makes: pages with the session, the API with the session and with an API
// key; each route with a channel id also with a malformed and an unknown
// id. Calls that delete take a spare channel each and come after the
// others; POST /logout comes last.
func custWalkCalls(e *echo.Echo, ids custIDs) []custCall {
	var calls, deletes, last []custCall
	for _, route := range custRouteList(e) {
		method, path, _ := strings.Cut(route, " ")
		var paths []string
		switch {
		case path == "/static*":
			paths = custStaticFiles
		case custDestructive(method, path) && strings.Contains(path, ":"):
			// One spare channel per call: the session's and the API key's.
			for range custViaCount(path) {
				paths = append(paths, custFill(path, ids.spares[0], ids))
				ids.spares = ids.spares[1:]
			}
		case strings.Contains(path, ":"):
			paths = []string{custFill(path, ids.channel, ids), custFill(path, "999999", ids), custFill(path, "abc", ids)}
		default:
			paths = []string{path}
		}
		for i, p := range paths {
			cs := []custCall{{route: route, method: method, path: p}}
			switch {
			case custDestructive(method, path) && strings.Contains(path, ":"):
				cs[0].apiKey = i == 1 // the second spare is the API key's
			case strings.HasPrefix(p, "/api/"):
				cs = append(cs, custCall{route: route, method: method, path: p, apiKey: true})
			}
			switch {
			case method == http.MethodPost && path == "/logout":
				last = append(last, cs...)
			case custDestructive(method, path):
				deletes = append(deletes, cs...)
			default:
				calls = append(calls, cs...)
			}
		}
	}
	// What no route matches: Echo's 404 and 405 answers, and a polling
	// page past its time, and one showing an old code.
	for _, p := range []string{"/nope", "/app/nope", "/api/nope", "/admin/nope"} {
		calls = append(calls, custCall{route: "404", method: http.MethodGet, path: p})
	}
	calls = append(calls,
		custCall{route: "405", method: http.MethodPut, path: "/app"},
		custCall{route: "405", method: http.MethodPatch, path: "/api/channels/" + ids.channel + "/qr"},
		custCall{route: "HEAD", method: http.MethodHead, path: "/app"},
		custCall{route: "poll", method: http.MethodGet, path: "/app/channels/" + ids.channel + "/connect/status?since=1&shown=qr-1"},
		custCall{route: "poll", method: http.MethodGet, path: "/app/channels/" + ids.channel + "/connect/status?shown=qr-1&since=" +
			strconv.FormatInt(time.Now().Unix(), 10)},
	)
	return append(append(calls, deletes...), last...)
}

// custViaCount is how many ways a walk calls path: pages with the
// session, the API with the session and with an API key.
func custViaCount(path string) int {
	if strings.HasPrefix(path, "/api/") {
		return 2
	}
	return 1
}

// custSpareCount is how many spare channels a walk of e uses.
func custSpareCount(e *echo.Echo) int {
	n := 0
	for _, route := range custRouteList(e) {
		method, path, _ := strings.Cut(route, " ")
		if custDestructive(method, path) && strings.Contains(path, ":") {
			n += custViaCount(path)
		}
	}
	return n
}

// custForm is the form a walk posts: plausible values for every field any
// form of the app reads.
func custForm(csrf string) url.Values {
	return url.Values{"_csrf": {csrf}, "name": {"Walk"}, "phone": {"+1 555 123 4567"}, "days": {"1"}, "comment": {"walk"},
		"email": {"alice@example.com"}, "password": {"wrong password"}, "plan_id": {"1"}, "mode": {"auto"},
		"max_channels": {"2"}, "days_per_period": {"30"}, "period_days": {"30"}, "partner_token": {""}, "project_id": {""}}
}

// custJSON is the body a walk sends to an API route: a channel to create
// for POST /api/channels, else plausible values for the admin routes
// (which refuse a customer before reading them).
func custJSON(method, path string) string {
	if method == http.MethodPost && path == "/api/channels" {
		return `{"name":"Walk API","phone":"+15551234567"}`
	}
	return `{"name":"Walk API","days":1,"comment":"walk","allocation_mode":"auto","plan_id":1}`
}

// walk makes the calls as c (and key, for API-key calls), following each
// redirect once; it returns every answer, redirects included.
func (f *custFix) walk(t *testing.T, c *testClient, key string, calls []custCall) []custAnswer {
	t.Helper()
	home := f.walkHome
	if home == "" {
		home = "/app"
	}
	csrf := c.csrf(home)
	var out []custAnswer
	send := func(call custCall) custAnswer {
		var body io.Reader
		ctype := ""
		if call.method != http.MethodGet && call.method != http.MethodHead {
			if strings.HasPrefix(call.path, "/api/") {
				body, ctype = strings.NewReader(custJSON(call.method, call.path)), "application/json"
			} else {
				body, ctype = strings.NewReader(custForm(csrf).Encode()), "application/x-www-form-urlencoded"
			}
		}
		req, err := http.NewRequest(call.method, f.srv.URL+call.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		hc := c.http
		if call.apiKey {
			req.Header.Set("Authorization", "Bearer "+key)
			hc = &http.Client{Timeout: 30 * time.Second}
		} else if strings.HasPrefix(call.path, "/api/") {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", call, err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return custAnswer{call: call, status: res.StatusCode, header: res.Header, body: b}
	}
	for _, call := range calls {
		a := send(call)
		out = append(out, a)
		if loc := a.header.Get("Location"); loc != "" && strings.HasPrefix(loc, "/") && !call.apiKey {
			out = append(out, send(custCall{route: "redirect from " + call.route, method: http.MethodGet, path: loc}))
		}
	}
	return out
}

var custDataURL = regexp.MustCompile(`data:image/png;base64,([A-Za-z0-9+/=]+)`)

// custUpstreamTexts are error messages WHAPI (the simulator) answers with:
// they must never be passed on to a customer.
var custUpstreamTexts = []string{"internal error", "all servers are currently busy", "too many requests",
	"channel already authenticated", "channel already logged out", "render qr failed", "specified channel not found",
	"specified project not found", "not enough days on the balance", "wrong request parameters", "invalid phone number",
	"not waiting for authorization"}

// custSecrets are what must never reach a customer: WHAPI's name and
// error texts, every channel id and token the simulator has, and the
// partner token (lower case: they are looked for case-insensitively).
func (f *custFix) custSecrets(partnerTokens ...string) [][]byte {
	secrets := [][]byte{[]byte("whapi")}
	for _, s := range custUpstreamTexts {
		secrets = append(secrets, []byte(s))
	}
	for _, ch := range f.sim.Channels() {
		secrets = append(secrets, []byte(strings.ToLower(ch.ID)), []byte(strings.ToLower(ch.Token)))
	}
	for _, tok := range partnerTokens {
		tok = strings.ToLower(tok)
		secrets = append(secrets, []byte(tok[:40]), []byte(tok[len(tok)-40:]))
	}
	return secrets
}

// checkNothingOfWHAPI fails for every answer whose headers or body hold a
// secret (case-insensitive). Data URLs of QR images are decoded and the
// image checked instead of its base64 text.
func checkNothingOfWHAPI(t *testing.T, answers []custAnswer, secrets [][]byte) {
	t.Helper()
	for _, a := range answers {
		var parts [][]byte
		for name, vals := range a.header {
			parts = append(parts, []byte(name+": "+strings.Join(vals, ", ")))
		}
		body := custDataURL.ReplaceAllFunc(a.body, func(m []byte) []byte {
			img, err := base64.StdEncoding.DecodeString(string(custDataURL.FindSubmatch(m)[1]))
			if err != nil || !bytes.HasPrefix(img, pngMagic) {
				t.Errorf("%s: a data URL that is no PNG", a.call)
			}
			parts = append(parts, img)
			return []byte("data:image/png;base64,…")
		})
		parts = append(parts, body)
		for _, p := range parts {
			low := bytes.ToLower(p)
			for _, s := range secrets {
				if bytes.Contains(low, s) {
					t.Errorf("%s → %d shows %q:\n%.600s", a.call, a.status, s, p)
				}
			}
		}
	}
}

// TestCustomerSeesNothingOfWHAPI walks every route of the router as a
// signed-in customer — pages, partials, the QR image, the API with the
// session and with an API key, unknown paths — in a healthy state and
// with WHAPI failing in every way the simulator can, and checks every
// header and body for WHAPI's name, channel ids and tokens.
func TestCustomerSeesNothingOfWHAPI(t *testing.T) {
	revoked := fakeJWT(1300)
	all := func(kind whapisim.FaultKind, status int) func(f *custFix) {
		return func(f *custFix) {
			f.sim.InjectFault(whapisim.Fault{Kind: kind, Status: status, Times: 1 << 20})
		}
	}
	scenarios := []struct {
		name  string
		opts  func(o *custOptions)
		apply func(f *custFix)
	}{
		{name: "healthy, a code to scan"},
		{name: "line starting", opts: func(o *custOptions) { o.sim.StartupDelay = time.Hour }},
		{name: "phone linked", apply: func(f *custFix) { f.link(f.walkChannel, "15551234567") }},
		{name: "days ran out", apply: func(f *custFix) { f.advance(8 * 24 * time.Hour) }},
		{name: "line stopped", apply: func(f *custFix) {
			if _, err := f.svc.Stop(context.Background(), models.SystemActor, f.walkChannel.ID); err != nil {
				f.t.Fatal(err)
			}
		}},
		{name: "line stopped outside", apply: func(f *custFix) {
			if err := f.env.Client().StopChannel(context.Background(), f.walkChannel.RemoteID()); err != nil {
				f.t.Fatal(err)
			}
		}},
		{name: "line in ERROR", apply: func(f *custFix) {
			if err := f.sim.BreakChannel(f.walkChannel.RemoteID(), "ERROR"); err != nil {
				f.t.Fatal(err)
			}
		}},
		{name: "line in SYNC_ERROR", apply: func(f *custFix) {
			f.link(f.walkChannel, "15551234567")
			if err := f.sim.BreakChannel(f.walkChannel.RemoteID(), "SYNC_ERROR"); err != nil {
				f.t.Fatal(err)
			}
		}},
		{name: "WHAPI answers 500", apply: all(whapisim.FaultStatus, 500)},
		{name: "WHAPI answers 503", apply: all(whapisim.FaultStatus, 503)},
		{name: "WHAPI answers 429", apply: all(whapisim.FaultStatus, 429)},
		{name: "WHAPI answers 400", apply: all(whapisim.FaultStatus, 400)},
		{name: "WHAPI answers 404", apply: all(whapisim.FaultStatus, 404)},
		{name: "WHAPI answers 409", apply: all(whapisim.FaultStatus, 409)},
		{name: "WHAPI answers malformed JSON", apply: all(whapisim.FaultMalformed, 0)},
		{name: "WHAPI times out", apply: func(f *custFix) { f.giveUpAfter(150 * time.Millisecond); all(whapisim.FaultHang, 0)(f) }},
		{name: "WHAPI loses answers", apply: all(whapisim.FaultLostAfterApply, 0)},
		{name: "partner token revoked", apply: func(f *custFix) { f.sim.SetPartnerToken(revoked) }},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			f := newCustFix(t, func(o *custOptions) {
				o.maxChannels = 30
				o.manualClock = true
				if sc.opts != nil {
					sc.opts(o)
				}
			})
			u := f.customer("alice@example.com", true)
			f.walkChannel = f.channel(u, "Sales")
			ids := custIDs{channel: strconv.FormatInt(f.walkChannel.ID, 10), user: strconv.FormatInt(u.ID, 10), plan: strconv.FormatInt(f.plan.ID, 10)}
			for i := range custSpareCount(f.e) {
				ids.spares = append(ids.spares, strconv.FormatInt(f.channel(u, fmt.Sprint("Spare ", i)).ID, 10))
			}
			key, _, err := f.store.CreateAPIKey(context.Background(), models.SystemActor, u.ID, "walk")
			if err != nil {
				t.Fatal(err)
			}
			c := f.signedIn("alice@example.com")
			// An open page showed a code before WHAPI failed; it has expired
			// since, so every call of the walk asks WHAPI again.
			custWant(t, c.get(connectPath(f.walkChannel.ID, "")), http.StatusOK)
			f.advance(whapisim.DefaultQRLifetime + 2*time.Second)
			if sc.apply != nil {
				sc.apply(f)
			}
			answers := f.walk(t, c, key, custWalkCalls(f.e, ids))
			f.sim.ClearFaults()
			checkNothingOfWHAPI(t, answers, f.custSecrets(f.partnerToken, revoked))

			// The walk reached the customer's pages and WHAPI.
			statuses := map[string]int{}
			for _, a := range answers {
				statuses[a.call.String()] = a.status
			}
			if got := statuses["GET /app"]; got != http.StatusOK {
				t.Errorf("GET /app: %d", got)
			}
			if got := statuses["GET /admin"]; got != http.StatusForbidden {
				t.Errorf("GET /admin: %d", got)
			}
			if len(f.sim.Requests()) == 0 {
				t.Error("the walk made no call to WHAPI")
			}
			t.Logf("%d answers checked, %d WHAPI calls", len(answers), len(f.sim.Requests()))
		})
	}
}
