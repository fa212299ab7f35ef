package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/metrics"
	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// exposition is one scrape of /metrics: each sample's value by its series
// ("name{label="value",…}" as the exposition writes it).
type exposition map[string]float64

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$`)

func parseExposition(t *testing.T, body string) exposition {
	t.Helper()
	out := exposition{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample line: %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[m[1]+m[2]] = v
	}
	return out
}

// family is the samples of one metric name whose series start with name{.
func (e exposition) family(name string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range e {
		if strings.HasPrefix(k, name+"{") || k == name {
			out[k] = v
		}
	}
	return out
}

// metricsDelta is after − before for every series of name that either scrape has.
func metricsDelta(before, after exposition, name string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after.family(name) {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	for k, v := range before.family(name) {
		if _, ok := after[k]; !ok {
			out[k] = -v
		}
	}
	return out
}

// labelValues are every label value of a scrape.
var labelValue = regexp.MustCompile(`="((?:[^"\\]|\\.)*)"`)

// TestMetricsCountALifecycleExactly: the real app with /metrics behind
// its token, the simulator as WHAPI. Between two scrapes a customer's
// channel is created, extended by N days, refused one more extend by
// WHAPI (a 400 the simulator is told to give), and deleted, and the
// start's own Reconcile job runs. Every counter moves by exactly what
// happened: each HTTP request once under its route pattern and status,
// each WHAPI call once under its endpoint and outcome (checked against the
// simulator's own record of what it was sent), days allocated +N and
// returned + what the delete answered, the channel counted in its state
// while it lives and as deleted after, one Reconcile run and no failure.
// No label value holds a token, a key, an e-mail, a name or a WHAPI id.
//
// Not parallel: the metrics token is read from the environment only (a
// secret is no flag).
func TestMetricsCountALifecycleExactly(t *testing.T) {
	const extendDays = 7
	partner := "metrics-" + randomKeyBase64(t, 24)
	sim := whapisim.New(whapisim.Options{PartnerToken: partner, StartupDelay: -1, BalanceDays: 500,
		ProjectIDs: []string{models.DefaultProjectID}})
	ws := httptest.NewServer(sim)
	t.Cleanup(ws.Close)

	dir := t.TempDir()
	db := filepath.Join(dir, "w.db")
	apiKey, store := installWithPartner(t, db, partner)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	token := metricsToken(t)
	t.Setenv("WHAPIDESK_METRICS_TOKEN", token)
	t.Setenv("WHAPIDESK_METRICS_ADDR", "")
	s := startServer(t, "serve", "--db", db, "--manager-url", ws.URL, "--gate-url", ws.URL)
	scrape := func() exposition {
		t.Helper()
		code, body := scrapeMetrics(t, s.base+"/metrics", token)
		if code != http.StatusOK {
			t.Fatalf("/metrics with the token: %d", code)
		}
		return parseExposition(t, body)
	}
	// Without the token, or with another, a token in the query or another
	// scheme: 401, and nothing is counted of it.
	for _, h := range []string{"", "Bearer ", "Bearer " + metricsToken(t), "Basic " + token, token, "bearer " + token} {
		req, _ := http.NewRequest(http.MethodGet, s.base+"/metrics?token="+token, nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "whapidesk_") {
			t.Errorf("/metrics with Authorization %q: %d, want 401 and no series", strings.ReplaceAll(h, token, "<token>"), resp.StatusCode)
		}
	}

	// The requests this test makes, by route pattern, method and status.
	made := map[string]float64{}
	api := func(route, method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+apiKey)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		made[fmt.Sprintf(`whapidesk_http_requests_total{method=%q,route=%q,status="%d"}`, method, route, resp.StatusCode)]++
		return resp.StatusCode, string(b)
	}
	id := func(body string) string {
		t.Helper()
		var v struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil || v.ID == 0 {
			t.Fatalf("no id in %s", body)
		}
		return strconv.FormatInt(v.ID, 10)
	}

	// Setup, before the first scrape: a plan and a customer on it, in
	// manual mode (nothing allocated but what the admin extends).
	code, body := api("/api/plans", "POST", "/api/plans", `{"name":"Metrics plan","max_channels":2,"days_per_period":30,"period_days":30}`)
	if code != http.StatusCreated {
		t.Fatalf("plan: %d %s", code, body)
	}
	planID := id(body)
	code, body = api("/api/users", "POST", "/api/users", `{"email":"cust@example.com","name":"Cust","password":"`+adminPassword+`","role":"customer"}`)
	if code != http.StatusCreated {
		t.Fatalf("customer: %d %s", code, body)
	}
	userID := id(body)
	if code, body = api("/api/users/:id", "PATCH", "/api/users/"+userID, `{"allocation_mode":"manual"}`); code != http.StatusOK {
		t.Fatalf("manual mode: %d %s", code, body)
	}
	if code, body = api("/api/users/:id/subscription", "POST", "/api/users/"+userID+"/subscription", `{"plan_id":`+planID+`}`); code/100 != 2 {
		t.Fatalf("subscription: %d %s", code, body)
	}

	// The jobs that run at start have run (so that the window below holds
	// only the runs it causes).
	onStart := []string{"session_cleanup", "admin_alerts", "disconnect_alerts", "expiry_reminders", "prune_channel_events"}
	waitForMetrics(t, "the start's jobs", func() bool {
		e := scrape()
		for _, k := range onStart {
			if e[`whapidesk_job_runs_total{kind="`+k+`"}`] < 1 {
				return false
			}
		}
		return true
	})
	clear(made)
	sim.ResetRequests()
	before := scrape()

	// The lifecycle.
	code, body = api("/api/channels", "POST", "/api/channels", `{"name":"Metrics shop","user_id":`+userID+`}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	chID := id(body)
	var secrets []string // what no label may hold
	for _, ch := range sim.Channels() {
		secrets = append(secrets, ch.ID, ch.Token)
	}
	if code, body = api("/api/channels/:id/extend", "POST", "/api/channels/"+chID+"/extend", fmt.Sprintf(`{"days":%d,"comment":"metrics"}`, extendDays)); code != http.StatusOK {
		t.Fatalf("extend: %d %s", code, body)
	}
	live := metricsDelta(before, scrape(), "whapidesk_channels")
	if len(live) != 1 {
		t.Fatalf("channels by state after create and extend moved %v, want one state +1", live)
	}
	for k, d := range live {
		if d != 1 || strings.Contains(k, `"deleted"`) {
			t.Fatalf("channels by state after create and extend moved %v, want one live state +1", live)
		}
	}
	// WHAPI refuses the next extend (a 400, as for a short partner
	// balance): the days stay with the customer.
	sim.InjectFault(whapisim.Fault{Method: "POST", Path: "/channels/", Kind: whapisim.FaultStatus, Status: http.StatusBadRequest, Message: "not enough days on the partner balance"})
	refused, rbody := api("/api/channels/:id/extend", "POST", "/api/channels/"+chID+"/extend", `{"days":3,"comment":"metrics refused"}`)
	if refused < 400 {
		t.Fatalf("the refused extend answered %d %s", refused, rbody)
	}
	code, body = api("/api/channels/:id", "DELETE", "/api/channels/"+chID, "")
	if code != http.StatusOK {
		t.Fatalf("delete: %d %s", code, body)
	}
	var del struct {
		DaysReturned int64 `json:"days_returned"`
	}
	if err := json.Unmarshal([]byte(body), &del); err != nil || del.DaysReturned <= 0 || del.DaysReturned > extendDays {
		t.Fatalf("delete answered %s (%v), want 1..%d days returned", body, err, extendDays)
	}
	// A job run: the start's own Reconcile (jobs.ReconcileAfterBoot after
	// the start). Its WHAPI calls are done once its run is counted.
	waitForMetrics(t, "the start's Reconcile", func() bool {
		return scrape()[`whapidesk_job_runs_total{kind="reconcile"}`] >= 1
	})
	after := scrape()
	whapiSent := sim.Requests()

	// HTTP: each request of the window once, under its route and status;
	// nothing else (the scrapes are not Echo's requests).
	if got := metricsDelta(before, after, "whapidesk_http_requests_total"); !sameCounts(got, made) {
		t.Errorf("HTTP requests moved\n%v\nwant\n%v", got, made)
	}
	for k, n := range made {
		m := regexp.MustCompile(`method="([^"]+)",route="([^"]+)"`).FindStringSubmatch(k)
		hist := fmt.Sprintf(`whapidesk_http_request_duration_seconds_count{method=%q,route=%q}`, m[1], m[2])
		if after[hist]-before[hist] < n {
			t.Errorf("%s moved %v, want at least %v", hist, after[hist]-before[hist], n)
		}
	}

	// WHAPI: exactly the calls the simulator got, by endpoint and outcome.
	want := map[string]float64{}
	for _, r := range whapiSent {
		apiName, endpoint := metrics.Endpoint(r.Path)
		outcome := "ok"
		switch {
		case r.Status >= 500:
			outcome = "server_error"
		case r.Status >= 300:
			outcome = "client_error"
		}
		want[fmt.Sprintf(`whapidesk_whapi_requests_total{api=%q,endpoint=%q,method=%q,outcome=%q}`, apiName, endpoint, r.Method, outcome)]++
	}
	got := metricsDelta(before, after, "whapidesk_whapi_requests_total")
	if !sameCounts(got, want) {
		t.Errorf("WHAPI calls moved\n%v\nwant (the simulator's record)\n%v", got, want)
	}
	for series, n := range map[string]float64{
		`whapidesk_whapi_requests_total{api="manager",endpoint="/channels",method="PUT",outcome="ok"}`:                        1, // the create
		`whapidesk_whapi_requests_total{api="manager",endpoint="/channels/{id}/extend",method="POST",outcome="ok"}`:           1, // the extend
		`whapidesk_whapi_requests_total{api="manager",endpoint="/channels/{id}/extend",method="POST",outcome="client_error"}`: 1, // the refused one
		`whapidesk_whapi_requests_total{api="manager",endpoint="/channels/{id}",method="DELETE",outcome="ok"}`:                1, // the delete
	} {
		if got[series] != n {
			t.Errorf("%s moved %v, want %v", series, got[series], n)
		}
	}

	// Days: +N allocated (the refused extend's days were given back and
	// never moved), + what the delete answered returned.
	if d := metricsDelta(before, after, "whapidesk_days_moved"); !sameCounts(d, map[string]float64{
		`whapidesk_days_moved{direction="allocated"}`: extendDays,
		`whapidesk_days_moved{direction="returned"}`:  float64(del.DaysReturned),
	}) {
		t.Errorf("days moved %v, want allocated +%d, returned +%d", d, extendDays, del.DaysReturned)
	}
	// The partner's estimate: N days extended, the unused ones back.
	if d := metricsDelta(before, after, "whapidesk_partner_days"); !sameCounts(d, map[string]float64{
		`whapidesk_partner_days`: float64(del.DaysReturned - extendDays),
	}) {
		t.Errorf("partner days moved %v, want %d", d, del.DaysReturned-extendDays)
	}
	// Channels by state: the channel is counted as deleted, nowhere else.
	if d := metricsDelta(before, after, "whapidesk_channels"); !sameCounts(d, map[string]float64{`whapidesk_channels{state="deleted"}`: 1}) {
		t.Errorf("channels by state moved %v, want deleted +1", d)
	}
	// Jobs: one Reconcile; no failure of any kind. The disconnect alerts
	// run every minute and may run once in the window.
	runs := metricsDelta(before, after, "whapidesk_job_runs_total")
	if runs[`whapidesk_job_runs_total{kind="reconcile"}`] != 1 {
		t.Errorf("reconcile runs moved %v, want 1", runs)
	}
	for k, n := range runs {
		if k != `whapidesk_job_runs_total{kind="reconcile"}` && !(k == `whapidesk_job_runs_total{kind="disconnect_alerts"}` && n == 1) {
			t.Errorf("%s moved %v in the window", k, n)
		}
	}
	if f := metricsDelta(before, after, "whapidesk_job_failures_total"); len(f) != 0 {
		t.Errorf("job failures moved %v", f)
	}

	// No label value holds a secret, an e-mail, a name or a WHAPI id.
	_, raw := scrapeMetrics(t, s.base+"/metrics", token)
	secrets = append(secrets, token, apiKey, partner, "Metrics shop", "Metrics plan", "cust@example.com", "admin@example.com")
	for _, m := range labelValue.FindAllStringSubmatch(raw, -1) {
		v := m[1]
		if strings.Contains(v, "@") {
			t.Errorf("a label holds an e-mail: %q", v)
		}
		if whapiID.MatchString(v) {
			t.Errorf("a label holds a WHAPI id: %q", v)
		}
		for _, sec := range secrets {
			if sec != "" && strings.Contains(v, sec) {
				t.Errorf("a label holds %q", v)
			}
		}
	}
	for _, sec := range secrets {
		if sec != "" && strings.Contains(raw, sec) {
			t.Errorf("the exposition holds a secret or a user's word (%d characters)", len(sec))
		}
	}
	s.stop(t)
}

// sameCounts compares two maps of series to counts (a series missing
// counts as 0).
func sameCounts(got, want map[string]float64) bool {
	for k, v := range got {
		if want[k] != v {
			return false
		}
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// waitForMetrics polls cond until it holds (within two minutes: the machine may be
// busy; the conditions are events the app makes happen by itself).
func waitForMetrics(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited two minutes for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
