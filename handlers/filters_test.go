package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"whapidesk/models"
)

// A search is cut by characters, not bytes: a search of 150 two-byte
// letters is kept whole (a byte cut kept 100 of them), one of 250 keeps
// 200, and a cut never falls inside a letter (a byte cut after an odd
// number of bytes sent broken UTF-8 to the database and the page). The
// JSON API counts its 200 the same way.
func TestSearchesAreCutByCharacters(t *testing.T) {
	f := newAdmFix(t)
	ctx := context.Background()
	_, err := f.a.store.CreateUser(ctx, models.NewUser{Email: "zoya@example.com", Name: "зоя петрова", Password: testPassword, Role: models.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}

	// The search box shows the search the list used.
	searched := func(t *testing.T, page, name string) string {
		t.Helper()
		r := f.c.get(page)
		admWantStatus(t, r, http.StatusOK)
		if !utf8.ValidString(r.body) {
			t.Fatalf("%s: the page is not valid UTF-8", page)
		}
		i := strings.Index(r.body, `name="`+name+`" type="search" value="`)
		if i < 0 {
			t.Fatalf("%s: no search box", page)
		}
		v := r.body[i+len(`name="`+name+`" type="search" value="`):]
		return v[:strings.IndexByte(v, '"')]
	}
	long, longer, odd := strings.Repeat("Ж", 150), strings.Repeat("Ж", 250), "a"+strings.Repeat("Ж", 150)
	for _, tt := range []struct{ list, param string }{{"/admin/users", "q"}, {"/admin/channels", "owner"}} {
		for _, c := range []struct{ term, want string }{
			{long, long},
			{longer, strings.Repeat("Ж", 200)},
			{odd, odd},
		} {
			if got := searched(t, tt.list+"?"+tt.param+"="+url.QueryEscape(c.term), tt.param); got != c.want {
				t.Errorf("%s: searching %d characters (%d bytes) searched %d characters: %q",
					tt.list, utf8.RuneCountInString(c.term), len(c.term), utf8.RuneCountInString(got), got)
			}
		}
	}
	r := f.c.get("/admin/users?q=" + url.QueryEscape("зоя"))
	admWantBody(t, r, "zoya@example.com")

	// The API takes up to 200 characters, whatever their bytes.
	for _, tt := range []struct {
		term   string
		status int
	}{{long, http.StatusOK}, {strings.Repeat("Ж", 200), http.StatusOK}, {strings.Repeat("Ж", 201), http.StatusUnprocessableEntity}} {
		if r := f.c.jsonReq("GET", "/api/users?q="+url.QueryEscape(tt.term), ""); r.StatusCode != tt.status {
			t.Errorf("GET /api/users with a search of %d characters (%d bytes): status %d, want %d: %s",
				utf8.RuneCountInString(tt.term), len(tt.term), r.StatusCode, tt.status, r.body)
		}
	}
	if r := f.c.jsonReq("GET", "/api/users?q="+url.QueryEscape("зоя"), ""); !strings.Contains(r.body, "zoya@example.com") {
		t.Errorf("GET /api/users?q=зоя: %s", r.body)
	}
}
