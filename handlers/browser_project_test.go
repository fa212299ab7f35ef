package handlers

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"whapidesk/models"
)

// TestBrowserProjectPicker drives the project picker of the WHAPI Settings
// page in a real headless Chromium: after saving a token whose partner
// does not know the configured project id, the page says so and lists
// WHAPI's projects; one click picks one (HTMX, no reload), and with
// JavaScript off the same button still works as a plain form.
//
// WHAPIDESK_SCREENSHOTS=1 also writes settings-project-picker.png to
// docs/screenshots/.
func TestBrowserProjectPicker(t *testing.T) {
	admin := startBrowser(t, "admin")
	a := newTestApp(t, func(o *appOptions) { o.sim.ProjectIDs = []string{mainProject, otherProject} })
	a.newUser(models.RoleAdmin, "admin@example.com")
	projectID := func() string {
		st, err := a.store.Settings(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st.ProjectID
	}
	pickButton := func(name string) string {
		return `#projects button[aria-label="Use the project “` + name + `”"]`
	}

	admin.do(t, chromedp.Navigate(a.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	admin.login(t, "admin@example.com", "Dashboard")
	admin.follow(t, chromedp.Click(chromedp.CSS(`nav a[href="/admin/settings/whapi"]`)))
	admin.do(t, chromedp.WaitVisible(chromedp.ID("partner_token")))
	admin.paste(t, "Bearer "+a.partnerToken)
	if flash := admin.save(t); !strings.Contains(flash, "WHAPI does not know the project id "+models.DefaultProjectID) {
		t.Fatalf("flash after saving: %q", flash)
	}
	admin.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=project-picker-alert]`)))
	if alert := inTab(t, admin, chromedp.Text(chromedp.CSS(`[data-testid=project-picker-alert]`))); !strings.Contains(alert,
		"The project id "+models.DefaultProjectID+" is not one of your WHAPI projects, so no channel can be created") {
		t.Fatalf("the picker says %q", alert)
	}
	if n := inTab(t, admin, chromedp.Evaluate[int](`document.querySelectorAll('#projects [data-testid=project-row]').length`)); n != 2 {
		t.Fatalf("%d projects listed, want 2", n)
	}
	admin.screenshot(t, "settings-project-picker.png")

	t.Run("one click picks a project without a reload", func(t *testing.T) {
		admin.do(t,
			chromedp.Evaluate[chromedp.Void](`window.__marker = 1; document.getElementById('flash').replaceChildren()`),
			chromedp.Click(chromedp.CSS(pickButton("Project "+otherProject))),
		)
		admin.waitJS(t, "the pick to be swapped in",
			`document.querySelector('#flash .alert') !== null && `+htmxIdle)
		if !inTab(t, admin, chromedp.Evaluate[bool](`window.__marker === 1`)) {
			t.Fatal("the pick reloaded the page instead of an HTMX swap")
		}
		if flash := inTab(t, admin, chromedp.Text(chromedp.CSS(`#flash .alert`))); !strings.Contains(flash, "New channels are now created in the project “Project "+otherProject+"”") {
			t.Fatalf("flash after the pick: %q", flash)
		}
		if got := projectID(); got != otherProject {
			t.Fatalf("project id %s after the pick, want %s", got, otherProject)
		}
		if !inTab(t, admin, chromedp.Evaluate[bool](`document.querySelector('[data-project-id="`+otherProject+`"] [data-testid=project-in-use]') !== null
			&& document.querySelector('[data-testid=project-picker-alert]') === null`)) {
			t.Fatal("the page does not show the picked project in use")
		}
	})

	t.Run("without JavaScript the button is a plain form", func(t *testing.T) {
		admin.do(t,
			chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
				_, err := cdp.Call(ctx, tgt, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
				return err
			}),
			chromedp.Navigate(a.srv.URL+"/admin/settings/whapi"),
			chromedp.WaitVisible(chromedp.CSS(pickButton("Default project"))),
		)
		if inTab(t, admin, chromedp.Evaluate[bool](`typeof htmx !== 'undefined'`)) {
			t.Fatal("htmx is loaded: scripts are not off")
		}
		admin.do(t,
			chromedp.Click(chromedp.CSS(pickButton("Default project"))),
			chromedp.WaitVisible(chromedp.CSS(`[data-project-id="`+mainProject+`"] [data-testid=project-in-use]`)),
		)
		if flash := inTab(t, admin, chromedp.Text(chromedp.CSS(`#flash .alert`))); !strings.Contains(flash, "New channels are now created in the project “Default project”") {
			t.Fatalf("flash after the pick: %q", flash)
		}
		if got := projectID(); got != mainProject {
			t.Fatalf("project id %s after the pick, want %s", got, mainProject)
		}
	})
}
