package handlers

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"whapidesk/models"
)

// acceptLanguage makes the tab ask for lang in every request, as a
// browser set to that language does.
func acceptLanguage(lang string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}})
		return chromedp.Void{}, err
	}
}

// layout is what the RTL test reads of a page, computed by the browser.
type layout struct {
	Lang, Dir   string // <html lang>, computed direction of <html>
	Viewport    float64
	Left, Right float64 // the measured element's box
	LTR         map[string]string
}

// measure reads the page's language and direction, the box of the
// element (or, with text, of its text) that sel names, and the computed
// direction of the elements ltr names.
func measure(t *testing.T, tab *browserTab, sel string, text bool, ltr ...string) layout {
	t.Helper()
	js := `(() => {
		const el = document.querySelector(` + jsString(sel) + `);
		let r = el.getBoundingClientRect();
		if (` + jsBool(text) + `) { const g = document.createRange(); g.selectNodeContents(el); r = g.getBoundingClientRect(); }
		const ltr = {};
		for (const s of ` + jsList(ltr) + `) { const e = document.querySelector(s); ltr[s] = e ? getComputedStyle(e).direction : 'missing'; }
		return {Lang: document.documentElement.lang, Dir: getComputedStyle(document.documentElement).direction,
			Viewport: document.documentElement.clientWidth, Left: r.left, Right: r.right, LTR: ltr};
	})()`
	return inTab(t, tab, chromedp.Evaluate[layout](js))
}

func jsBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
func jsList(l []string) string {
	out := "["
	for i, s := range l {
		if i > 0 {
			out += ","
		}
		out += jsString(s)
	}
	return out + "]"
}

// near is true when a and b are within 40 px (a padding and a margin).
func near(a, b float64) bool { return math.Abs(a-b) <= 40 }

// TestBrowserRTLLayout proves, in Chromium, that Arabic pages are laid
// out right to left and mirror: a customer whose language is Arabic sees
// the connect page with <html lang="ar">, a computed direction of rtl,
// the brand of the top bar as far from the right edge as it is from the
// left in English,
// and the QR code and the phone field left to right; the login page
// asked for with Accept-Language: ar likewise, its heading at the
// card's right.
func TestBrowserRTLLayout(t *testing.T) {
	tab := startBrowser(t, "rtl")
	f := newCustFix(t)
	u := f.customer("amal@example.com", true)
	ch := f.channel(u, "مبيعات")
	setLang := func(tag string) {
		t.Helper()
		if err := f.store.SetUserLanguage(context.Background(), models.Actor{}, u.ID, tag); err != nil {
			t.Fatal(err)
		}
	}
	setLang("ar")

	tab.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), u.Email), chromedp.SendKeys(chromedp.ID("password"), testPassword))
	tab.follow(t, chromedp.Click(chromedp.CSS(`.login-card button[type=submit]`)))
	tab.do(t, chromedp.WaitVisible(chromedp.CSS(`header .topbar-user`)))

	openConnect := func() layout {
		t.Helper()
		tab.follow(t, chromedp.Navigate(f.srv.URL+connectPath(ch.ID, "")))
		tab.do(t, chromedp.WaitVisible(chromedp.CSS(`#connect-status img.qr`)))
		return measure(t, tab, `header .brand`, false, `#connect-status img.qr`, `#pairing-phone`, `[data-testid=countdown]`)
	}
	ar := openConnect()
	if ar.Lang != "ar" || ar.Dir != "rtl" {
		t.Fatalf("Arabic connect page: lang %q, direction %q", ar.Lang, ar.Dir)
	}
	for sel, dir := range ar.LTR {
		if dir != "ltr" {
			t.Fatalf("Arabic: %s computes direction %q, want ltr", sel, dir)
		}
	}

	setLang("en")
	en := openConnect()
	if en.Lang != "en" || en.Dir != "ltr" {
		t.Fatalf("English connect page: lang %q, direction %q", en.Lang, en.Dir)
	}
	// Mirrored: the brand is as far from the right edge in Arabic as it
	// is from the left edge in English.
	if en.Right > en.Viewport/2 || ar.Left < ar.Viewport/2 || !near(ar.Viewport-ar.Right, en.Left) {
		t.Fatalf("the brand spans %.0f–%.0f in English and %.0f–%.0f in Arabic, of %.0f px: not mirrored", en.Left, en.Right, ar.Left, ar.Right, ar.Viewport)
	}

	// The login page of a browser that asks for Arabic, and of one that
	// asks for English: the heading's text at the card's right, then left.
	loginIn := func(lang string) (layout, layout) {
		t.Helper()
		w := tab.newWindow(t, "login-"+lang)
		w.do(t, acceptLanguage(lang))
		w.follow(t, chromedp.Navigate(f.srv.URL+"/login"))
		w.do(t, chromedp.WaitVisible(chromedp.ID("email")))
		return measure(t, w, `.login-card h1`, true, `#email`, `#password`), measure(t, w, `.login-card`, false)
	}
	h1, card := loginIn("ar")
	if h1.Lang != "ar" || h1.Dir != "rtl" || h1.LTR["#email"] != "ltr" || h1.LTR["#password"] != "ltr" {
		t.Fatalf("Arabic login page: %+v", h1)
	}
	if !near(h1.Right, card.Right) || near(h1.Left, card.Left) {
		t.Fatalf("Arabic login: the heading spans %.0f–%.0f in a card of %.0f–%.0f, want it at the right", h1.Left, h1.Right, card.Left, card.Right)
	}
	h1, card = loginIn("en")
	if h1.Lang != "en" || h1.Dir != "ltr" || !near(h1.Left, card.Left) || near(h1.Right, card.Right) {
		t.Fatalf("English login: %+v in a card of %.0f–%.0f, want the heading at the left", h1, card.Left, card.Right)
	}
}

// TestBrowserArabicConnectScreenshots writes the connect page of an
// Arabic-speaking customer, with its QR code, at desktop (1280×900) and
// phone (390×844) size to docs/screenshots/ar-connect-*.png, for people
// to look at; only with WHAPIDESK_SCREENSHOTS=1, so that
// normal runs leave the repository alone.
func TestBrowserArabicConnectScreenshots(t *testing.T) {
	if os.Getenv("WHAPIDESK_SCREENSHOTS") != "1" {
		t.Skip("writes docs/screenshots/ar-connect-*.png only with WHAPIDESK_SCREENSHOTS=1")
	}
	tab := startBrowser(t, "ar-screens")
	f := newCustFix(t)
	u := f.customer("amal@example.com", true)
	ch := f.channel(u, "مبيعات")
	if err := f.store.SetUserLanguage(context.Background(), models.Actor{}, u.ID, "ar"); err != nil {
		t.Fatal(err)
	}
	tab.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), u.Email), chromedp.SendKeys(chromedp.ID("password"), testPassword))
	tab.follow(t, chromedp.Click(chromedp.CSS(`.login-card button[type=submit]`)))
	tab.follow(t, chromedp.Navigate(f.srv.URL+connectPath(ch.ID, "")))
	tab.do(t, chromedp.WaitVisible(chromedp.CSS(`#connect-status img.qr`)))
	rtlScreenshot(t, tab, "ar-connect-1280.png", false)
	tab.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	tab.do(t, chromedp.WaitVisible(chromedp.CSS(`#connect-status img.qr`)))
	rtlScreenshot(t, tab, "ar-connect-390.png", true)
}

// rtlScreenshot writes the whole page at the tab's width to
// docs/screenshots/name: the viewport is made as high as the page, the
// viewport is captured, and the height is put back. (FullScreenshot lets
// Chromium capture beyond the viewport, and on a right-to-left page it
// starts the picture off the page's left edge: shifted, its right side
// cut.) mobile says whether the tab emulates a phone.
func rtlScreenshot(t *testing.T, tab *browserTab, name string, mobile bool) {
	t.Helper()
	tab.do(t, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 0, 0))
	size := inTab(t, tab, chromedp.Evaluate[[3]int64](`[document.documentElement.clientWidth, document.documentElement.scrollHeight, window.innerHeight]`))
	emulate := func(h int64) chromedp.Action[chromedp.Void] {
		if mobile {
			return chromedp.EmulateViewport(size[0], h, chromedp.EmulateMobile)
		}
		return chromedp.EmulateViewport(size[0], h)
	}
	tab.do(t, emulate(max(size[1], size[2])))
	png := inTab(t, tab, chromedp.CaptureScreenshot())
	tab.do(t, emulate(size[2]))
	path := filepath.Join("..", "docs", "screenshots", name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
