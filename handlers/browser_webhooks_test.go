package handlers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"whapidesk/internal/webhookout"
	"whapidesk/jobs"
	"whapidesk/models"
)

// TestBrowserWebhookEndpointAndTestEvent: in a real headless Chromium an
// admin adds an endpoint from the Webhooks page — first with a private
// address the server refuses (said next to the field), then a real
// receiver — copies the secret shown once, sends a test event, and sees
// its attempt (status 204 and its latency) on the endpoint's page. The
// receiver checks the request's signature with that secret; the secret is
// gone from the page once it is left.
func TestBrowserWebhookEndpointAndTestEvent(t *testing.T) {
	b := startBrowser(t, "admin")
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")

	var mu sync.Mutex
	var secret string
	verified := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if webhookout.Verify([]byte(secret), r.Header.Get(webhookout.SignatureHeader), body, time.Now(), 0) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		verified++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	// The app's job queue delivers (loopback allowed, as in the demo).
	d := webhookout.New(webhookout.Options{AllowPrivate: true})
	t.Cleanup(d.Close)
	q, err := jobs.Open(t.Context(), a.env.DB, jobs.Config{Work: &flakyWork{}, Sessions: a.store, Log: a.env.Log, NoPeriodic: true,
		ReconcileAfterBoot: -1, FetchPoll: 20 * time.Millisecond, Webhooks: a.store, Deliverer: d})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	a.svc.SetWebhookQueue(q)

	b.do(t, chromedp.Navigate(a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	b.login(t, "admin@example.com", "Dashboard")
	b.follow(t, chromedp.Click(chromedp.CSS(`nav a[href="/admin/webhooks"]`)))
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=webhooks-empty]`)))

	// Private targets are refused here (the setting is off).
	b.do(t,
		chromedp.SendKeys(chromedp.ID("webhook-url"), recv.URL+"/in"),
		chromedp.Click(chromedp.CSS(`[data-testid="event-customer.created"]`)),
	)
	b.follow(t, chromedp.Click(chromedp.CSS(`[data-testid=webhook-create]`)))
	b.do(t, chromedp.WaitVisible(chromedp.ID("webhook-url-error")))
	if msg := inTab(t, b, chromedp.Text(chromedp.ID("webhook-url-error"))); !strings.Contains(msg, "https://") && !strings.Contains(msg, "loopback") {
		t.Errorf("the address's error says %q", msg)
	}
	a.svc.SetWebhookAllowPrivate(true)
	b.follow(t, chromedp.Click(chromedp.CSS(`[data-testid=webhook-create]`)))
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=webhook-secret]`)))
	shown := inTab(t, b, chromedp.Text(chromedp.CSS(`[data-testid=webhook-secret]`)))
	if !strings.HasPrefix(shown, webhookout.SecretPrefix) {
		t.Fatalf("the secret shown is %q", shown)
	}
	mu.Lock()
	secret = shown
	mu.Unlock()

	b.follow(t, chromedp.Click(chromedp.CSS(`[data-testid=webhook-test]`)))
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=webhook-facts]`)))
	if html := inTab(t, b, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); strings.Contains(html, shown) {
		t.Fatal("the endpoint's page shows the secret again")
	}
	// The attempt shows once the job has delivered it (reload until then).
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := inTab(t, b, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=attempts-table] [data-testid=attempt-status]').length`))
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no attempt on the endpoint's page within 30 s")
		}
		b.follow(t, chromedp.Reload())
	}
	if st := inTab(t, b, chromedp.Text(chromedp.CSS(`[data-testid=attempt-status]`))); st != "204" {
		t.Errorf("the attempt's status is %q", st)
	}
	if lat := inTab(t, b, chromedp.Text(chromedp.CSS(`[data-testid=attempt-latency]`))); !strings.HasSuffix(lat, " ms") {
		t.Errorf("the attempt's latency is %q", lat)
	}
	mu.Lock()
	defer mu.Unlock()
	if verified != 1 {
		t.Errorf("%d requests verified with the secret shown, want 1", verified)
	}
}
