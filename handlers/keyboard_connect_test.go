package handlers

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// focused describes the element that has the keyboard's focus: what it
// is, whether it is on screen, and whether it shows a focus ring.
type focused struct {
	Key     string // "#id", or "tag.class" when it has no id
	InPair  bool   // inside the pairing card
	Visible bool   // has a box, inside the viewport, not hidden
	Ring    bool   // computed outline or box-shadow is not none
}

const readFocus = `(() => {
	const e = document.activeElement;
	if (!e || e === document.body) return {Key: 'body', InPair: false, Visible: true, Ring: true};
	const r = e.getBoundingClientRect(), s = getComputedStyle(e);
	const visible = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 &&
		r.top < innerHeight && r.left < innerWidth && s.visibility !== 'hidden' && s.opacity !== '0';
	const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
	return {Key: e.id ? '#' + e.id : e.tagName.toLowerCase() + '.' + e.className, InPair: !!e.closest('#pairing'), Visible: visible, Ring: ring};
})()`

// TestBrowserConnectPageByKeyboard uses the connect page with the keyboard
// alone (issue 17, point 4): Tab goes from the top of the page to the
// pairing form's phone field and its button, every element on the way
// shows where the focus is, Shift+Tab goes back, typing a number and
// Enter shows the pairing code, and Tab leads on out of the card (no
// trap).
func TestBrowserConnectPageByKeyboard(t *testing.T) {
	tab := startBrowser(t, "keyboard")
	f := newCustFix(t)
	u := f.customer("kim@example.com", true)
	ch := f.channel(u, "Sales")
	tab.do(t, chromedp.Navigate(f.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	tab.login(t, u.Email, "My channels")
	tab.follow(t, chromedp.Navigate(f.srv.URL+connectPath(ch.ID, "")))
	tab.do(t, chromedp.WaitVisible(chromedp.CSS(`#connect-status img.qr`)))

	press := func(key string, opts ...chromedp.KeyOption) focused {
		t.Helper()
		tab.do(t, chromedp.KeyEvent(key, opts...))
		at := inTab(t, tab, chromedp.Evaluate[focused](readFocus))
		if !at.Visible || !at.Ring {
			t.Fatalf("focus on %s is not seen (visible %v, focus ring %v)", at.Key, at.Visible, at.Ring)
		}
		return at
	}
	shiftTab := chromedp.KeyModifiers(kb.ModifierShift)

	// Tab from the top until the phone field, through what comes before.
	var path []string
	at := focused{}
	for i := 0; at.Key != "#pairing-phone"; i++ {
		if i == 40 {
			t.Fatalf("40 Tabs did not reach the phone field; the focus went %s", strings.Join(path, " → "))
		}
		at = press(kb.Tab)
		path = append(path, at.Key)
	}
	t.Logf("focus order to the phone field: %s", strings.Join(path, " → "))
	if path[0] != "a.skip-link" {
		t.Fatalf("the first Tab lands on %s, want the skip link", path[0])
	}
	if at = press(kb.Tab); !at.InPair || !strings.HasPrefix(at.Key, "button") {
		t.Fatalf("Tab after the phone field lands on %s, want the card's button", at.Key)
	}
	if at = press(kb.Tab, shiftTab); at.Key != "#pairing-phone" {
		t.Fatalf("Shift+Tab from the button lands on %s, want the phone field", at.Key)
	}

	tab.do(t, chromedp.KeyEvent("+1 555 123 4567"), chromedp.KeyEvent(kb.Enter))
	tab.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid=pairing-code]`)))
	code := inTab(t, tab, chromedp.Text(chromedp.CSS(`[data-testid=pairing-code]`)))
	if len(code) != 9 || code[4] != '-' {
		t.Fatalf("pairing code %q", code)
	}
	tab.settled(t)

	// The card swapped in: the keyboard goes on into it and out of it.
	in, out := false, false
	for i := 0; i < 40 && !out; i++ {
		at = press(kb.Tab)
		in = in || at.InPair
		out = in && !at.InPair
	}
	if !out {
		t.Fatalf("40 Tabs after the code did not go through the pairing card and out of it (reached it: %v): a keyboard trap", in)
	}
}
