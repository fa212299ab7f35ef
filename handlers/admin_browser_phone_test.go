package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"whapidesk/models"
	"whapidesk/provision"
)

// phoneFit is a script that says what of the page does not fit a phone's
// width: "" when the page does not scroll sideways and every row of the
// table sel — each of its cells and its action buttons — is inside the
// viewport.
const phoneFit = `(() => {
  const w = window.innerWidth, out = [];
  const sw = document.documentElement.scrollWidth;
  if (sw > w) out.push('the page is ' + sw + ' px wide in a ' + w + ' px viewport');
  const rows = document.querySelectorAll(SEL + ' tbody tr');
  if (rows.length === 0) out.push('no row in ' + SEL);
  rows.forEach((tr, i) => {
    tr.querySelectorAll('td, td.actions button, td.actions a').forEach(el => {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && (r.left < -0.5 || r.right > w + 0.5)) {
        out.push('row ' + i + ': ' + el.tagName + ' "' + el.textContent.trim().slice(0, 40) + '" spans ' + Math.round(r.left) + '–' + Math.round(r.right));
      }
    });
  });
  return out.join('\n');
})()`

func phoneFitOf(sel string) string {
	return "const SEL = " + "'" + sel + "';" + phoneFit
}

// On a phone (390×844) the audit log and the Attention list are cards:
// no sideways scrolling, every cell and every row's button in view, in
// English and, right to left, in Arabic.
func TestBrowserAdminListsFitAPhone(t *testing.T) {
	adm := startBrowser(t, "admin")
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("rana@example.com", true)
	ch := f.channel(u, "مكتب الاستقبال — front desk with a rather long name")
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
	boss := f.newUser(models.RoleAdmin, "boss.with.a.long.address@example.com")

	adm.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	adm.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	adm.login(t, "boss.with.a.long.address@example.com", "Dashboard")
	for _, lang := range []string{"en", "ar"} {
		if err := f.store.SetUserLanguage(context.Background(), models.SystemActor, boss.ID, lang); err != nil {
			t.Fatal(err)
		}
		for _, pg := range []struct{ path, table string }{
			{"/admin/audit", `[data-testid=audit-table]`},
			{"/admin/attention", `[data-testid=attention-table]`},
		} {
			adm.do(t, chromedp.Navigate(f.srv.URL+pg.path), chromedp.WaitVisible(chromedp.CSS(pg.table)))
			if dir := inTab(t, adm, chromedp.Evaluate[string](`getComputedStyle(document.documentElement).direction`)); (dir == "rtl") != (lang == "ar") {
				t.Errorf("%s in %s: direction %s", pg.path, lang, dir)
			}
			if bad := inTab(t, adm, chromedp.Evaluate[string](phoneFitOf(pg.table))); bad != "" {
				t.Errorf("%s in %s at 390 px:\n%s", pg.path, lang, bad)
			}
		}
		// The row's button is there, in view, and does its work.
		if n := inTab(t, adm, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=attention-disconnected] td.actions [data-testid=attention-link]').length`)); n != 1 {
			t.Errorf("in %s: %d fresh-link buttons in the row's actions", lang, n)
		}
	}
}
