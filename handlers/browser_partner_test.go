package handlers

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserPartnerCorrectionReversed walks the dashboard's partner
// balance in a real headless Chromium: a correction of −5,000 on 930 days
// asks first (an HTMX swap, no reload) and changes nothing until "Record it
// anyway"; the entry is then listed with its Reverse button, whose page
// asks for a note, and reversing it brings the estimate back to 930.
func TestBrowserPartnerCorrectionReversed(t *testing.T) {
	admin := startBrowser(t, "admin")
	f := newDashFix(t)
	if err := f.a.store.RecordPartnerPurchase(context.Background(), dashActor, 930, "invoice 1"); err != nil {
		t.Fatal(err)
	}
	estimate := func(t *testing.T) string {
		t.Helper()
		return inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=partner-estimate]`)))
	}
	var typoID int64

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"the admin signs in and sees 930 days", func(t *testing.T) {
			admin.do(t, chromedp.Navigate(f.a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
			admin.login(t, "admin@example.com", "Dashboard")
			if got := estimate(t); got != "930 days" {
				t.Fatalf("estimate %q", got)
			}
		}},
		{"a correction of −5,000 asks first, in place", func(t *testing.T) {
			admin.do(t,
				chromedp.Evaluate[chromedp.Void](`window.__marker = 1`),
				chromedp.SetValue(chromedp.ID("partner-kind"), "correction"),
				chromedp.SendKeys(chromedp.ID("purchase-days"), "-5000"),
				chromedp.SendKeys(chromedp.ID("partner-note"), "typo in invoice 2"),
				chromedp.Click(chromedp.CSS(`[data-testid=purchase-form] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid=partner-confirm-question]`)),
			)
			admin.settled(t)
			q := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=partner-confirm-question]`)))
			if !strings.Contains(q, "This takes the partner balance from 930 to −4,070 days.") || !strings.Contains(q, "Record it anyway?") {
				t.Fatalf("the question says %q", q)
			}
			if !inTab(t, admin, chromedp.Evaluate[bool](`window.__marker === 1`)) {
				t.Fatal("the question reloaded the page instead of an HTMX swap")
			}
			if f.partnerEstimate() != 930 || estimate(t) != "930 days" {
				t.Fatal("asking changed the estimate")
			}
		}},
		{"Record it anyway records it", func(t *testing.T) {
			admin.do(t,
				chromedp.Evaluate[chromedp.Void](`document.getElementById('flash').replaceChildren()`),
				chromedp.Click(chromedp.CSS(`[data-testid=partner-confirm] button[name=confirmed]`)),
				chromedp.WaitVisible(chromedp.CSS(`#flash .alert`)),
			)
			admin.settled(t)
			if flash := inTab(t, admin, chromedp.Text(chromedp.CSS(`#flash .alert`))); !strings.Contains(flash, "Recorded a correction of −5,000 days") {
				t.Fatalf("flash %q", flash)
			}
			if got := estimate(t); got != "−4,070 days" {
				t.Fatalf("estimate %q", got)
			}
			if !inTab(t, admin, chromedp.Evaluate[bool](`window.__marker === 1`)) {
				t.Fatal("recording reloaded the page instead of an HTMX swap")
			}
			rows, _, err := f.a.store.ListPartnerEntries(context.Background(), 1, 0)
			if err != nil || len(rows) != 1 || rows[0].Delta != -5000 {
				t.Fatalf("latest entry %+v %v", rows, err)
			}
			typoID = rows[0].ID
		}},
		{"Reverse asks for a note, then brings the estimate back", func(t *testing.T) {
			row := `#entry-` + strconv.FormatInt(typoID, 10)
			admin.do(t,
				chromedp.Click(chromedp.CSS(row+` [data-testid=reverse]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid=reverse-numbers]`)),
			)
			if says := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=reverse-numbers]`))); !strings.Contains(says, "from −4,070 to 930 days") {
				t.Fatalf("the reverse page says %q", says)
			}
			admin.do(t,
				chromedp.SendKeys(chromedp.ID("reverse-note"), "meant −500"),
				chromedp.Click(chromedp.CSS(`[data-testid=reverse-form] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS(`#dashboard`)),
			)
			if flash := inTab(t, admin, chromedp.Text(chromedp.CSS(`#flash .alert`))); !strings.Contains(flash, "reversed by entry #") {
				t.Fatalf("flash %q", flash)
			}
			if got := estimate(t); got != "930 days" {
				t.Fatalf("estimate %q", got)
			}
			if rel := inTab(t, admin, chromedp.Text(chromedp.CSS(row+` [data-testid=entry-relation]`))); !strings.HasPrefix(rel, "reversed by #") {
				t.Fatalf("the reversed entry says %q", rel)
			}
			if inTab(t, admin, chromedp.Evaluate[bool](`document.querySelector('`+row+` [data-testid=reverse]') !== null`)) {
				t.Fatal("the reversed entry still has its Reverse button")
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}
