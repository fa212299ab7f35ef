package handlers

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"whapidesk/models"
)

// TestBrowserStopStartRestart drives the admin's Stop, Start and Restart
// buttons of the channel list in a real headless Chromium, each through
// its confirmation page, while the customer's dashboard and connect page
// say the line is paused and never show a code for it.
func TestBrowserStopStartRestart(t *testing.T) {
	admin := startBrowser(t, "admin")
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("cust@example.com", true)
	ch := f.channel(u, "Sales")
	f.newUser(models.RoleAdmin, "admin@example.com")
	row := "#channel-" + strconv.FormatInt(ch.ID, 10)
	customer := admin.newWindow(t, "customer")

	// confirm follows a row's button to its confirmation page, checks what
	// it says, confirms, and returns the flash on the list.
	confirm := func(t *testing.T, button, wantSays, submit string) string {
		t.Helper()
		admin.follow(t, chromedp.Click(chromedp.CSS(row+` a[href$="/`+button+`?back="], `+row+` a[href$="/`+button+`"]`)))
		admin.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=line-effect]`)))
		if says := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=line-effect]`))); !strings.Contains(says, wantSays) {
			t.Fatalf("the %s page says %q", button, says)
		}
		if got := inTab(t, admin, chromedp.Text(chromedp.CSS(`form.form-actions button[type=submit]`))); got != submit {
			t.Fatalf("the %s page's button says %q", button, got)
		}
		admin.follow(t, chromedp.Click(chromedp.CSS(`form.form-actions button[type=submit]`)))
		admin.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=channel-table]`)))
		return inTab(t, admin, chromedp.Text(chromedp.CSS(`#flash .alert`)))
	}
	badge := func(t *testing.T) string {
		t.Helper()
		return inTab(t, admin, chromedp.Text(chromedp.CSS(row+` [data-testid=channel-status]`)))
	}
	buttons := func(t *testing.T) string {
		t.Helper()
		return inTab(t, admin, chromedp.Text(chromedp.CSS(row+` .actions`)))
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"the admin sees Restart and Stop on a running channel", func(t *testing.T) {
			admin.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
			admin.login(t, "admin@example.com", "Dashboard")
			admin.do(t, chromedp.Navigate(f.srv.URL+"/admin/channels"), chromedp.WaitVisible(chromedp.CSS(row)))
			if b := buttons(t); !strings.Contains(b, "Restart…") || !strings.Contains(b, "Stop…") || strings.Contains(b, "Start…") {
				t.Fatalf("buttons of a running channel: %q", b)
			}
		}},
		{"Stop, confirmed, stops the line", func(t *testing.T) {
			flash := confirm(t, "stop", "nothing is sent or received until you start it again", "Stop the channel")
			if !strings.Contains(flash, "was stopped") {
				t.Fatalf("flash %q", flash)
			}
			if b := badge(t); b != "Stopped" {
				t.Fatalf("badge %q", b)
			}
			if b := buttons(t); !strings.Contains(b, "Start…") || strings.Contains(b, "Stop…") || strings.Contains(b, "Restart…") {
				t.Fatalf("buttons of a stopped channel: %q", b)
			}
			if st, _ := f.sim.Channel(ch.RemoteID()); !st.Halted {
				t.Fatal("the line is not stopped upstream")
			}
		}},
		{"the customer reads that the line is paused, with no code", func(t *testing.T) {
			customer.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
			customer.login(t, "cust@example.com", "My channels")
			if text := inTab(t, customer, chromedp.Text(chromedp.CSS(`[data-testid=channels]`))); !strings.Contains(text, "Paused") {
				t.Fatalf("the dashboard says %q", text)
			}
			customer.do(t, chromedp.Navigate(f.srv.URL+connectPath(ch.ID, "")), chromedp.WaitVisible(chromedp.ID("connect-status")))
			if step := inTab(t, customer, chromedp.Evaluate[string](`document.getElementById('connect-status').dataset.step`)); step != "stopped" {
				t.Fatalf("connect step %q", step)
			}
			if title := inTab(t, customer, chromedp.Text(chromedp.ID("connect-title"))); title != "Line paused" {
				t.Fatalf("title %q", title)
			}
			if inTab(t, customer, chromedp.Evaluate[bool](`document.querySelector('img.qr') !== null`)) {
				t.Fatal("a code shows for a paused line")
			}
			if st, _ := f.sim.Channel(ch.RemoteID()); !st.Halted {
				t.Fatal("the connect page woke the stopped line")
			}
		}},
		{"Start, confirmed, starts it again", func(t *testing.T) {
			flash := confirm(t, "start", "starts again", "Start the channel")
			if !strings.Contains(flash, "was started") {
				t.Fatalf("flash %q", flash)
			}
			if b := badge(t); b != "Free trial" {
				t.Fatalf("badge %q", b)
			}
			if st, _ := f.sim.Channel(ch.RemoteID()); st.Halted {
				t.Fatal("the line is still stopped upstream")
			}
		}},
		{"Restart, confirmed, restarts it", func(t *testing.T) {
			flash := confirm(t, "restart", "reconnects", "Restart the channel")
			if !strings.Contains(flash, "was restarted") {
				t.Fatalf("flash %q", flash)
			}
			if n := f.sim.CountRequests("POST", "/channels/"+ch.RemoteID()+"/restart"); n != 1 {
				t.Fatalf("%d restarts sent", n)
			}
		}},
		{"the customer's page offers them too", func(t *testing.T) {
			admin.do(t, chromedp.Navigate(f.srv.URL+userPath(u.ID)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=channel]`)))
			text := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=channel]`)))
			if !strings.Contains(text, "Restart…") || !strings.Contains(text, "Stop…") {
				t.Fatalf("the customer's page offers %q", text)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}

// TestBrowserReconnect: a customer whose line reports an error sees one
// Reconnect button on the connect page, in plain words; pressing it logs
// the broken session out and the page shows a fresh code to scan.
func TestBrowserReconnect(t *testing.T) {
	tab := startBrowser(t, "customer")
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("cust@example.com", true)
	ch := f.channel(u, "Sales")
	f.link(ch, "15551234567")
	if err := f.sim.BreakChannel(ch.RemoteID(), "SYNC_ERROR"); err != nil {
		t.Fatal(err)
	}
	tab.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	tab.login(t, "cust@example.com", "My channels")
	tab.do(t, chromedp.Navigate(f.srv.URL+connectPath(ch.ID, "")), chromedp.WaitVisible(chromedp.CSS(`[data-testid=reconnect]`)))
	if title := inTab(t, tab, chromedp.Text(chromedp.ID("connect-title"))); title != "Reconnect your phone" {
		t.Fatalf("title %q", title)
	}
	says := inTab(t, tab, chromedp.Text(chromedp.ID("connect-status")))
	if !strings.Contains(says, "lost its connection") || strings.Contains(strings.ToLower(says), "whapi") {
		t.Fatalf("the page says %q", says)
	}
	tab.screenshot(t, "connect-reconnect.png")
	tab.do(t,
		chromedp.Click(chromedp.CSS(`[data-testid=reconnect]`)),
		chromedp.WaitVisible(chromedp.CSS(`#connect-status[data-step=qr] img.qr`)),
	)
	if flash := inTab(t, tab, chromedp.Text(chromedp.CSS(`#flash .alert`))); !strings.Contains(flash, "scan the new code") {
		t.Fatalf("flash %q", flash)
	}
	if n := f.sim.CountRequests("POST", "/users/logout"); n != 1 {
		t.Fatalf("%d logouts", n)
	}
	if st, _ := f.sim.Channel(ch.RemoteID()); st.Linked || st.GateError != "" {
		t.Fatalf("upstream: %+v", st)
	}
}
