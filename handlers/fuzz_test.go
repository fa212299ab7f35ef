package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/provision"
)

// fuzzApp is the whole app, built once per fuzz target (newTestApp wants
// a *testing.T, and a fuzz target has only its *testing.F): a customer on
// a plan of 1,000 channels with a channel, an admin, an API key of each.
type fuzzApp struct {
	*testApp
	customer, admin   *models.User
	channel           *models.Channel
	custKey, adminKey string
	custHTTP          *http.Client // signed in as the customer
	custCSRF          string
}

func newFuzzApp(f *testing.F) *fuzzApp {
	f.Helper()
	ctx := context.Background()
	a := newTestApp(f, func(o *appOptions) {
		o.sim.StartupDelay = -1
		o.sim.BalanceDays = 100_000_000
		// Inputs extend the same channel many times a second: the fuzzers
		// check what is made of the input and the books, not WHAPI's
		// extend cool-down (which has tests of its own).
		o.sim.ExtendCoolDown = -1
		o.quietLog = true // many inputs: keep no logs
	})
	fa := &fuzzApp{testApp: a}
	tok, err := provision.NormalizePartnerToken(a.partnerToken)
	if err != nil {
		f.Fatal(err)
	}
	if _, _, err := a.store.UpdateSettings(ctx, models.SystemActor, models.SettingsChange{PartnerToken: &tok, Hint: provision.TokenHint(tok)}); err != nil {
		f.Fatal(err)
	}
	plan, err := a.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "Fuzz", MaxChannels: 1000, DaysPerPeriod: 30, PeriodDays: 30})
	if err != nil {
		f.Fatal(err)
	}
	for _, u := range []struct {
		dst   **models.User
		email string
		role  models.Role
	}{{&fa.customer, "customer@example.com", models.RoleCustomer}, {&fa.admin, "admin@example.com", models.RoleAdmin}} {
		if *u.dst, err = a.store.CreateUser(ctx, models.NewUser{Email: u.email, Name: u.email, Password: testPassword, Role: u.role}); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := a.svc.ActivatePlan(ctx, models.SystemActor, fa.customer.ID, plan.ID); err != nil {
		f.Fatal(err)
	}
	if fa.channel, err = a.svc.CreateChannel(ctx, models.SystemActor, provision.CreateInput{UserID: fa.customer.ID, Name: "Fuzz line"}); err != nil {
		f.Fatal(err)
	}
	if fa.custKey, _, err = a.store.CreateAPIKey(ctx, models.SystemActor, fa.customer.ID, "fuzz"); err != nil {
		f.Fatal(err)
	}
	if fa.adminKey, _, err = a.store.CreateAPIKey(ctx, models.SystemActor, fa.admin.ID, "fuzz"); err != nil {
		f.Fatal(err)
	}
	fa.custHTTP, fa.custCSRF = fuzzLogin(f, a.srv.URL, "customer@example.com", "/app")
	return fa
}

var fuzzCSRFRE = regexp.MustCompile(`name="(?:csrf-token|_csrf)" (?:content|value)="([^"]+)"`)

// fuzzLogin signs in with plain net/http (no *testing.T at hand) and
// returns the client and its session's CSRF token, read from home.
func fuzzLogin(f *testing.F, base, email, home string) (*http.Client, string) {
	f.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token := func(page string) string {
		res, err := hc.Get(base + page)
		if err != nil {
			f.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		m := fuzzCSRFRE.FindSubmatch(b)
		if m == nil {
			f.Fatalf("no CSRF token on %s (%d)", page, res.StatusCode)
		}
		return string(m[1])
	}
	res, err := hc.PostForm(base+"/login", url.Values{"email": {email}, "password": {testPassword}, "_csrf": {token("/login")}})
	if err != nil {
		f.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		f.Fatalf("login %s: %d", email, res.StatusCode)
	}
	return hc, token(home)
}

// client is a testClient of this input's t over hc.
func (fa *fuzzApp) clientOf(t *testing.T, hc *http.Client) *testClient {
	return &testClient{t: t, app: fa.testApp, header: http.Header{}, http: hc}
}

var fuzzConnectRE = regexp.MustCompile(`^/app/channels/(\d+)/connect$`)

// FuzzCreateChannelForm posts the customer's "add a channel" form with any
// name and phone: the answer is 303 (created, or refused with a message)
// or 422 (bad fields), never a 500; a channel is created exactly when the
// answer sends to its connect page.
func FuzzCreateChannelForm(f *testing.F) {
	for _, seed := range [][2]string{
		{"Sales", ""}, {"Sales", "+1 (555) 123-4567"}, {"", ""}, {"   ", "555"}, {"a\x00b", ""}, {"\xff\xfe", ""},
		{"<script>alert(1)</script>", "+"}, {strings.Repeat("x", 60), "1234567"}, {strings.Repeat("é", 61), ""},
		{"line\nbreak", ""}, {"ok", "123456789012345678"}, {"ok", "+٣٣٣٣٣٣٣٣"}, {"ok", "++15551234567"}, {"\u202eevil", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	fa := newFuzzApp(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, name, phone string) {
		before, err := fa.store.ChannelsByUser(ctx, fa.customer.ID)
		if err != nil {
			t.Fatal(err)
		}
		c := fa.clientOf(t, fa.custHTTP)
		r := c.do(smReq(t, fa.srv.URL, http.MethodPost, "/app/channels", fa.custCSRF,
			url.Values{"name": {name}, "phone": {phone}}.Encode()))
		after, err := fa.store.ChannelsByUser(ctx, fa.customer.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch m := fuzzConnectRE.FindStringSubmatch(r.Header.Get("Location")); {
		case r.StatusCode == http.StatusSeeOther && m != nil:
			if len(after) != len(before)+1 {
				t.Fatalf("created (→ %s) but %d channels became %d", m[0], len(before), len(after))
			}
			id, _ := strconv.ParseInt(m[1], 10, 64)
			if _, err := fa.svc.Delete(ctx, models.SystemActor, id); err != nil { // keep the plan's room
				t.Fatal(err)
			}
		case r.StatusCode == http.StatusSeeOther || r.StatusCode == http.StatusUnprocessableEntity:
			if len(after) != len(before) {
				t.Fatalf("%d (→ %s) but %d channels became %d", r.StatusCode, r.Header.Get("Location"), len(before), len(after))
			}
		default:
			t.Fatalf("name %q phone %q → %d:\n%.400s", name, phone, r.StatusCode, r.body)
		}
	})
}

// FuzzExtendAPI extends a channel through the API as an admin with any
// days (raw JSON: numbers, strings, floats, garbage) and comment: 200,
// 400, 409 or 422, never a 500; no balance ever negative, and the ledger
// always sums to the balances.
func FuzzExtendAPI(f *testing.F) {
	for _, seed := range [][2]string{
		{"1", "first"}, {"0", "zero"}, {"-1", "minus"}, {"3650", "max"}, {"3651", "too many"}, {"1e3", "float"},
		{"1.5", "half"}, {`"5"`, "string"}, {"null", "null"}, {"9223372036854775807", "huge"}, {"-9223372036854775808", "min"},
		{"99999999999999999999", "overflow"}, {"1,\"x\":1", "extra field"}, {"", "empty"}, {"{}", "object"}, {"5", ""},
		{"5", strings.Repeat("c", 201)}, {"5", "a\u0000b"}, {"5", "\xff"}, {"2", "<img src=x onerror=alert(1)>"},
	} {
		f.Add(seed[0], seed[1])
	}
	fa := newFuzzApp(f)
	ctx := context.Background()
	path := fmt.Sprintf("/api/channels/%d/extend", fa.channel.ID)
	f.Fuzz(func(t *testing.T, days, comment string) {
		cj, _ := json.Marshal(comment)
		body := `{"days":` + days + `,"comment":` + string(cj) + `}`
		req := smReq(t, fa.srv.URL, http.MethodPost, path, "", body)
		req.Header.Set("Authorization", "Bearer "+fa.adminKey)
		r := fa.clientOf(t, &http.Client{Timeout: 30 * time.Second}).do(req)
		switch r.StatusCode {
		case http.StatusOK, http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("days %q comment %q → %d:\n%.400s", days, comment, r.StatusCode, r.body)
		}
		u, err := fa.store.UserByID(ctx, fa.customer.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.DayBalance < 0 {
			t.Fatalf("balance %d after days %q", u.DayBalance, days)
		}
		if bad, err := fa.store.CheckLedger(ctx); err != nil || len(bad) > 0 {
			t.Fatalf("ledger after days %q: %v %+v", days, err, bad)
		}
		if u.DayBalance < provision.MaxExtendDays { // keep extends possible
			if err := fa.svc.CreditDays(ctx, models.SystemActor, u.ID, provision.MaxExtendDays, "fuzz top-up"); err != nil {
				t.Fatal(err)
			}
		}
	})
}
