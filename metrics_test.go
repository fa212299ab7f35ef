package main

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/testdb"
)

func metricsToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func scrapeMetrics(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// whapiID is the shape of the simulator's channel ids (like SHAZAM-3HDYQ).
var whapiID = regexp.MustCompile(`[A-Z]{3,}-[A-Z0-9]{5}`)

// An operator's Prometheus scrapes the demo with the metrics token: the
// requests, the WHAPI calls to the simulator, the job runs and the
// database's gauges are there, and no token, e-mail or WHAPI id is.
func TestMetricsWithToken(t *testing.T) {
	token := metricsToken(t)
	t.Setenv("WHAPIDESK_METRICS_TOKEN", token)
	t.Setenv("WHAPIDESK_METRICS_ADDR", "")
	s := startServer(t, "demo", "--db", t.TempDir()+"/demo.db")
	for _, bad := range []string{"", metricsToken(t)} {
		if code, _ := scrapeMetrics(t, s.base+"/metrics", bad); code != http.StatusUnauthorized {
			t.Errorf("/metrics with token %q: status %d, want 401", bad, code)
		}
	}
	if code, _ := get(t, newBrowser(t), s.base+"/login"); code.StatusCode != http.StatusOK {
		t.Fatalf("/login: %d", code.StatusCode)
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`whapidesk_http_requests_total\{method="GET",route="/login",status="200"\} [1-9]`),
		regexp.MustCompile(`whapidesk_http_request_duration_seconds_count\{method="GET",route="/login"\} [1-9]`),
		regexp.MustCompile(`whapidesk_whapi_requests_total\{api="manager",endpoint="[^"]+",method="GET",outcome="ok"\} [1-9]`),
		regexp.MustCompile(`whapidesk_whapi_request_duration_seconds_count\{api="manager",endpoint="[^"]+",method="GET"\} [1-9]`),
		regexp.MustCompile(`whapidesk_job_runs_total\{kind="[a-z_]+"\} [1-9]`),
		regexp.MustCompile(`whapidesk_job_failures_total\{kind="[a-z_]+"\} \d`),
		regexp.MustCompile(`whapidesk_days_moved\{direction="allocated"\} \d`),
		regexp.MustCompile(`whapidesk_database_up 1`),
		regexp.MustCompile(`whapidesk_partner_days -?\d`),
		regexp.MustCompile(`whapidesk_outbox_waiting \d`),
		regexp.MustCompile(`whapidesk_webhook_deliveries_waiting \d`),
		regexp.MustCompile(`whapidesk_build_info\{version="[^"]+"\} 1`),
	}
	// The demo's jobs run in the background: wait for the first run.
	var body string
	deadline := time.Now().Add(90 * time.Second)
	for {
		var code int
		code, body = scrapeMetrics(t, s.base+"/metrics", token)
		if code != http.StatusOK {
			t.Fatalf("/metrics with the token: status %d\n%s", code, body)
		}
		missing := 0
		for _, re := range want {
			if !re.MatchString(body) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, re := range want {
				if !re.MatchString(body) {
					t.Errorf("the exposition has no %s", re)
				}
			}
			t.Fatalf("exposition:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Contains(body, token) {
		t.Error("the exposition shows the metrics token")
	}
	if strings.Contains(body, "@") {
		t.Error("the exposition shows an e-mail address")
	}
	if id := whapiID.FindString(body); id != "" {
		t.Errorf("the exposition shows a WHAPI id %q", id)
	}
	s.stop(t)
}

// Unset, there are no metrics at all; on an address of its own, they are
// served there and not on the app's address.
func TestMetricsAddress(t *testing.T) {
	t.Setenv("WHAPIDESK_METRICS_TOKEN", "")
	t.Setenv("WHAPIDESK_METRICS_ADDR", "")
	s := startServer(t, "serve", "--db", t.TempDir()+"/a.db")
	if code, _ := scrapeMetrics(t, s.base+"/metrics", ""); code != http.StatusNotFound {
		t.Errorf("/metrics unset: status %d, want 404", code)
	}
	s.stop(t)

	// On PostgreSQL too (scripts/test-pg.sh): the gauges are read there.
	maddr := freeAddr(t)
	args := []string{"serve", "--db", t.TempDir() + "/b.db", "--metrics-addr", maddr}
	if testdb.Postgres() {
		args = append(args, "--database-url", testdb.New(t).URL)
	}
	s = startServer(t, args...)
	if code, _ := scrapeMetrics(t, s.base+"/metrics", ""); code != http.StatusNotFound {
		t.Errorf("/metrics on the app's address with --metrics-addr: status %d, want 404", code)
	}
	code, body := scrapeMetrics(t, "http://"+maddr+"/metrics", "")
	if code != http.StatusOK || !strings.Contains(body, `route="/healthz"`) || !strings.Contains(body, "whapidesk_database_up 1") {
		t.Errorf("/metrics on its own address: status %d, want 200 with the /healthz requests and the database's figures\n%s", code, body)
	}
	s.stop(t)
}
