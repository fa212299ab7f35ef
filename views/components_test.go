package views

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/a-h/templ"
)

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func wantHTML(t *testing.T, html string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(html, p) {
			t.Errorf("lacks %s in:\n%s", p, html)
		}
	}
}

func TestField(t *testing.T) {
	f := Field{ID: "new-name", Name: "name", Label: "Name", Type: "text", Value: `a"b`, Attrs: attrs("maxlength", "100", "required", true, "autofocus", false),
		Hint: "Shown to customers.", Error: "the name is too long", Period: true}
	html := render(t, field(f))
	wantHTML(t, html, `<div class="field has-error">`, `<label for="new-name">Name</label>`,
		`<input id="new-name" name="name" type="text" maxlength="100" required value="a&#34;b" aria-describedby="new-name-hint new-name-error" aria-invalid="true">`,
		`<p class="hint" id="new-name-hint">Shown to customers.</p>`,
		`<p class="field-error" id="new-name-error" role="alert" data-testid="error-name">The name is too long.</p>`)
	if strings.Contains(html, "autofocus") {
		t.Error("a false attribute is written")
	}

	f.Error, f.Hint, f.DescribedBy, f.TestID = "", "", "balance", "error-other"
	html = render(t, field(f))
	wantHTML(t, html, `<div class="field">`, `aria-describedby="balance new-name-error" aria-invalid="false"`)
	if strings.Contains(html, "field-error") || strings.Contains(html, `class="hint"`) {
		t.Errorf("an error or hint without one:\n%s", html)
	}

	// A password is never written back.
	html = render(t, field(Field{ID: "pw", Name: "password", Label: "Password", Type: "password", Value: "secret-value"}))
	if strings.Contains(html, "secret-value") || strings.Contains(html, "value=") {
		t.Errorf("the password field shows a value:\n%s", html)
	}

	html = render(t, field(Field{ID: "role", Name: "role", Label: "Role", Type: "select", Value: "admin", Options: roleOptions, Error: "x", TestID: "error-role"}))
	wantHTML(t, html, `<select id="role" name="role" aria-describedby="role-error" aria-invalid="true">`,
		`<option value="customer">Customer</option>`, `<option value="admin" selected>Admin</option>`, `data-testid="error-role">X</p>`)
}

func TestPager(t *testing.T) {
	if html := render(t, pager(PagerView{})); html != "" {
		t.Errorf("an empty list has a pager: %s", html)
	}
	html := render(t, pager(PagerView{Summary: "51–52 of 52 channels", Prev: "/l?page=1"}))
	wantHTML(t, html, `data-testid="page-info">51–52 of 52 channels</span>`, `href="/l?page=1" rel="prev"`)
	if strings.Contains(html, `rel="next"`) || strings.Contains(html, "aria-current") {
		t.Errorf("next or numbered links that are not there:\n%s", html)
	}
	html = render(t, pager(PagerView{Summary: "26–50 of 73", Prev: "/l", Next: "/l?page=3",
		Links: []PagerLink{{Label: "1", Href: "/l"}, {Gap: true}, {Label: "2", Current: true}, {Label: "3", Href: "/l?page=3"}}}))
	wantHTML(t, html, `<a class="btn btn-small" href="/l">1</a>`, `<span class="muted" aria-hidden="true">…</span>`,
		`<span class="btn btn-small btn-primary" aria-current="page">2</span>`, `href="/l?page=3" rel="next"`)
}

func TestBadgeAndFlash(t *testing.T) {
	wantHTML(t, render(t, badge(Badge{Text: "Free trial", Tone: "warn"}, "channel-status")),
		`<span class="badge badge-warn" data-testid="channel-status">Free trial</span>`)
	if html := render(t, badge(Badge{Text: "Active"}, "")); html != `<span class="badge badge-muted">Active</span>` {
		t.Errorf("badge: %s", html)
	}
	wantHTML(t, render(t, flashRegion(&Flash{Kind: "error", Text: "No."}, true)),
		`<div id="flash" aria-live="polite" hx-swap-oob="true"><div class="alert alert-error" role="status">No.</div></div>`)
	if html := render(t, flashRegion(nil, false)); html != `<div id="flash" aria-live="polite"></div>` {
		t.Errorf("empty flash region: %s", html)
	}
}

func TestConfirmPage(t *testing.T) {
	p := Page{Brand: "Desk", CSRF: "tok"}
	c := Confirm{Title: "Delete “Shop”?", Action: "/x/delete", Button: "Delete the channel", Back: "status=all", Cancel: "Cancel", CancelHref: "/x"}
	html := render(t, confirmPage(p, c))
	wantHTML(t, html, `<h1>Delete “Shop”?</h1>`, `<form method="post" action="/x/delete" class="form-actions">`,
		`<input type="hidden" name="_csrf" value="tok">`, `<input type="hidden" name="back" value="status=all">`,
		`<button class="btn btn-danger" type="submit">Delete the channel</button>`, `<a class="btn" href="/x">Cancel</a>`)
	c.Busy, c.BusyBack = "Being changed.", "Back"
	html = render(t, confirmPage(p, c))
	wantHTML(t, html, `data-testid="delete-busy">Being changed.</div>`, `<a class="btn" href="/x">Back</a>`)
	if strings.Contains(html, "<form method=\"post\" action=\"/x/delete\"") {
		t.Error("a busy page offers the form")
	}
}
