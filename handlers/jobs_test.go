package handlers

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"whapidesk/jobs"
	"whapidesk/models"
	"whapidesk/provision"
)

// flakyWork fails the top-up's first run with a WHAPI-like error, and
// counts every run.
type flakyWork struct {
	topUps, reconciles atomic.Int64
}

func (w *flakyWork) Reconcile(context.Context) (provision.ReconcileReport, error) {
	w.reconciles.Add(1)
	return provision.ReconcileReport{}, nil
}

func (w *flakyWork) AutoTopUp(context.Context) (provision.TopUpReport, error) {
	if w.topUps.Add(1) == 1 {
		return provision.TopUpReport{}, errors.New(`extend channel: WHAPI answered 503 "<b>busy</b>"`)
	}
	return provision.TopUpReport{}, nil
}

// withJobs gives the app a job queue on its database, running w's work
// (no periodic jobs: the test inserts its own), one attempt per job. The
// start's own Reconcile is due at once, or bootAfter[0] from now.
func withJobs(t *testing.T, a *testApp, w *flakyWork, bootAfter ...time.Duration) *jobs.Queue {
	t.Helper()
	after := time.Duration(-1)
	if len(bootAfter) > 0 {
		after = bootAfter[0]
	}
	q, err := jobs.Open(t.Context(), a.env.DB, jobs.Config{Work: w, Sessions: a.store, Log: a.env.Log,
		NoPeriodic: true, ReconcileAfterBoot: after, MaxAttempts: 1, FetchPoll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	a.h.cfg.Jobs = q
	return q
}

func waitJob(t *testing.T, q *jobs.Queue, id int64, state string) jobs.Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := q.Get(t.Context(), id)
		if err == nil && j.State == state {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is %q (%v), not %s, after 10 s", id, j.State, err, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The Jobs page: a failed job shows with its error (escaped) and is
// retried from the page; a waiting job is cancelled after a confirmation.
func TestJobsPageShowsRetriesAndCancels(t *testing.T) {
	a := newTestApp(t)
	w := &flakyWork{}
	// The boot reconcile, the "waiting" job below, is due in an hour: due
	// at once, the queue's scheduler could start it mid-test on a loaded
	// machine (it did, once, under make test-pg).
	q := withJobs(t, a, w, time.Hour)
	a.newUser(models.RoleAdmin, "admin@example.com")
	admin := a.client()
	admin.login("admin@example.com")

	res, err := q.InsertPeriodic(t.Context(), jobs.KindTopUp)
	if err != nil {
		t.Fatal(err)
	}
	failed := res.Job.ID
	waitJob(t, q, failed, "discarded")

	page := admin.get("/admin/jobs?state=failed")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/jobs?state=failed → %d", page.StatusCode)
	}
	row := jobRowHTML(t, page.body, failed)
	for _, want := range []string{"Auto top-up", "Failed, gave up", "1 of 1",
		html.EscapeString(`extend channel: WHAPI answered 503 "<b>busy</b>"`), "Retry now", "/admin/jobs/" + strconv.FormatInt(failed, 10) + "/retry"} {
		if !strings.Contains(row, want) {
			t.Errorf("the failed job's row does not show %q:\n%s", want, row)
		}
	}
	if strings.Contains(page.body, "<b>busy</b>") {
		t.Error("the job's error is not escaped")
	}
	if !strings.Contains(page.body, "Failed (1)") || !strings.Contains(page.body, `href="/admin/jobs"`) {
		t.Errorf("the tabs do not count the failed job:\n%s", page.body)
	}

	// Without the CSRF token nothing happens.
	if r := admin.postForm("/admin/jobs/"+strconv.FormatInt(failed, 10)+"/retry", url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Errorf("retry without a CSRF token → %d, want 403", r.StatusCode)
	}
	if j, _ := q.Get(t.Context(), failed); j.State != "discarded" {
		t.Errorf("a refused retry changed the job to %s", j.State)
	}
	r := admin.submit("/admin/jobs?state=failed", "/admin/jobs/"+strconv.FormatInt(failed, 10)+"/retry", url.Values{"state": {"failed"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/jobs?state=failed" {
		t.Fatalf("retry → %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if back := admin.get("/admin/jobs?state=failed"); !strings.Contains(back.body, "is due now") {
		t.Errorf("no word that the retry is due:\n%s", back.body)
	}
	waitJob(t, q, failed, "completed")
	if n := w.topUps.Load(); n != 2 {
		t.Errorf("the top-up ran %d times, want 2 (the failure and the retry)", n)
	}
	done := admin.get("/admin/jobs?state=done")
	if row := jobRowHTML(t, done.body, failed); !strings.Contains(row, "Done") || strings.Contains(row, "Retry now") {
		t.Errorf("the retried job is not shown done:\n%s", row)
	}

	// A waiting job: cancelled only after the confirmation page.
	res, err = q.InsertBootReconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waiting := strconv.FormatInt(res.Job.ID, 10)
	list := admin.get("/admin/jobs")
	if row := jobRowHTML(t, list.body, res.Job.ID); !strings.Contains(row, "Reconcile (after start)") ||
		!strings.Contains(row, "Scheduled") || !strings.Contains(row, "/admin/jobs/"+waiting+"/cancel") {
		t.Errorf("the waiting job's row:\n%s", row)
	}
	confirm := admin.get("/admin/jobs/" + waiting + "/cancel?state=waiting")
	if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.body, "Cancel Reconcile #"+waiting+"?") ||
		!strings.Contains(confirm.body, "It will not run.") {
		t.Fatalf("the confirmation page → %d:\n%s", confirm.StatusCode, confirm.body)
	}
	if j, _ := q.Get(t.Context(), res.Job.ID); j.State != "scheduled" {
		t.Errorf("showing the confirmation changed the job to %s", j.State)
	}
	r = admin.submit("/admin/jobs/"+waiting+"/cancel?state=waiting", "/admin/jobs/"+waiting+"/cancel", url.Values{"back": {"waiting"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/jobs" {
		t.Fatalf("cancel → %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if j := waitJob(t, q, res.Job.ID, "cancelled"); !j.CanRetry {
		t.Errorf("a cancelled job cannot be retried: %+v", j)
	}
	if cancelled := admin.get("/admin/jobs?state=cancelled"); !strings.Contains(jobRowHTML(t, cancelled.body, res.Job.ID), "Cancelled") {
		t.Errorf("the cancelled job is not on the Cancelled tab:\n%s", cancelled.body)
	}
	// A finished job is not cancelled again; a job that does not exist is 404.
	if r := admin.get("/admin/jobs/" + strconv.FormatInt(failed, 10) + "/cancel"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the cancel page of a finished job → %d, want a redirect", r.StatusCode)
	}
	if r := admin.get("/admin/jobs/99999/cancel"); r.StatusCode != http.StatusNotFound {
		t.Errorf("the cancel page of no job → %d, want 404", r.StatusCode)
	}
	if n := w.reconciles.Load(); n != 0 {
		t.Errorf("the cancelled reconcile ran %d times", n)
	}
}

// Only admins see and act on the jobs: customers get 403, anonymous
// callers the sign-in page, and neither changes a job.
func TestJobsPageIsForAdmins(t *testing.T) {
	a := newTestApp(t)
	// Scheduled an hour ahead: the queue's scheduler may not make it
	// available during the test (it did, once, on a loaded machine, when
	// it was due at once), so "scheduled" at the end is the refusals' doing.
	q := withJobs(t, a, &flakyWork{}, time.Hour)
	res, err := q.InsertBootReconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(res.Job.ID, 10)
	a.newUser(models.RoleCustomer, "cust@example.com")
	cust := a.client()
	cust.login("cust@example.com")
	token := cust.csrf("/app")
	anon := a.client()
	for _, c := range []struct {
		who    string
		cl     *testClient
		status int
	}{{"customer", cust, http.StatusForbidden}, {"anonymous", anon, http.StatusSeeOther}} {
		for _, path := range []string{"/admin/jobs", "/admin/jobs/" + id + "/cancel"} {
			if r := c.cl.get(path); r.StatusCode != c.status {
				t.Errorf("%s GET %s → %d, want %d", c.who, path, r.StatusCode, c.status)
			}
		}
		for _, path := range []string{"/admin/jobs/" + id + "/cancel", "/admin/jobs/" + id + "/retry"} {
			if r := c.cl.postForm(path, url.Values{"_csrf": {token}}); r.StatusCode != c.status && r.StatusCode != http.StatusForbidden {
				t.Errorf("%s POST %s → %d, want %d", c.who, path, r.StatusCode, c.status)
			}
		}
	}
	if j, _ := q.Get(t.Context(), res.Job.ID); j.State != "scheduled" {
		t.Errorf("the job is %s after the refused requests", j.State)
	}
}

// jobRowHTML is the table row of job id on a Jobs page.
func jobRowHTML(t *testing.T, body string, id int64) string {
	t.Helper()
	start := strings.Index(body, `data-testid="job-`+strconv.FormatInt(id, 10)+`"`)
	if start < 0 {
		t.Fatalf("no row of job %d:\n%s", id, body)
	}
	end := strings.Index(body[start:], "</tr>")
	return body[start : start+end]
}
