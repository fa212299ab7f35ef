package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"whapidesk/models"
	"whapidesk/provision"
)

// TestBrowserAttentionAndReconnectBanner: in a real headless Chromium, a
// customer whose line dropped sees the Reconnect banner on the dashboard,
// which leads to the connect page; the admin reaches the Attention list
// from the nav, sees the line there, and its button opens the connect page
// with a fresh link to share. Once the phone is linked again, the banner
// and the row are gone.
func TestBrowserAttentionAndReconnectBanner(t *testing.T) {
	cust := startBrowser(t, "customer")
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("rana@example.com", true)
	ch := f.channel(u, "front desk")
	f.link(ch, "15551234567")
	if f.poll(ch) != provision.PhaseConnected {
		t.Fatal("not linked")
	}
	if err := f.sim.UnlinkChannel(f.reload(ch).RemoteID()); err != nil {
		t.Fatal(err)
	}
	if f.poll(ch) == provision.PhaseConnected {
		t.Fatal("still linked")
	}
	f.advance(6 * time.Minute)
	f.newUser(models.RoleAdmin, "boss@example.com")

	cust.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	cust.login(t, "rana@example.com", "My channels")
	cust.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=disconnect-banner]`)))
	banner := inTab(t, cust, chromedp.Text(chromedp.CSS(`[data-testid=disconnect-banner]`)))
	if !strings.Contains(banner, "Your line “front desk” is disconnected since") {
		t.Fatalf("the banner says %q", banner)
	}
	if line := inTab(t, cust, chromedp.Text(chromedp.CSS(`[data-testid=link-line]`))); line != "Disconnected 6 min ago" {
		t.Errorf("the card says %q", line)
	}
	cust.follow(t, chromedp.Click(chromedp.CSS(`[data-testid=disconnect-banner] a`)))
	if path := inTab(t, cust, chromedp.Evaluate[string](`location.pathname`)); !strings.HasSuffix(path, "/connect") {
		t.Fatalf("Reconnect led to %s", path)
	}

	adm := cust.newWindow(t, "admin")
	adm.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	adm.login(t, "boss@example.com", "Dashboard")
	adm.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=attention-count]`)))
	adm.follow(t, chromedp.Click(chromedp.CSS(`nav a[href="/admin/attention"]`)))
	adm.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=attention-disconnected]`)))
	if who := inTab(t, adm, chromedp.Text(chromedp.CSS(`[data-testid=attention-disconnected] [data-testid=attention-subject]`))); who != "front desk" {
		t.Errorf("the row names %q", who)
	}
	adm.follow(t, chromedp.Click(chromedp.CSS(`[data-testid=attention-link]`)))
	if path := inTab(t, adm, chromedp.Evaluate[string](`location.pathname`)); !strings.HasSuffix(path, "/connect-links") {
		t.Fatalf("the fresh link's answer is at %s", path)
	}
	if link := inTab(t, adm, chromedp.Evaluate[string](`document.getElementById('share-link-url').value`)); !strings.Contains(link, "/l/") {
		t.Fatalf("the fresh link shown is %q", link)
	}

	// Linked again: the banner and the row are gone.
	f.link(ch, "15551234567")
	if f.poll(ch) != provision.PhaseConnected {
		t.Fatal("not linked again")
	}
	adm.do(t, chromedp.Navigate(f.srv.URL+"/admin/attention"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=attention-empty]`)))
	cust.do(t, chromedp.Navigate(f.srv.URL+"/app"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=channel]`)))
	if n := inTab(t, cust, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=disconnect-banner]').length`)); n != 0 {
		t.Fatalf("%d banners after the reconnect", n)
	}
}
