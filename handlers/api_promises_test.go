package handlers

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"whapidesk/models"
)

// TestAPIPlansListIsPaged: GET /api/plans pages like every list of the
// API (docs/api.md): limit 50 unless ?limit= says 1–200, ?offset=, the
// total of every plan, active plans first and by name; a bad limit or
// offset is 422 invalid_input.
func TestAPIPlansListIsPaged(t *testing.T) {
	f := newAPIFix(t)
	ctx := context.Background()
	var names []string
	for i := range 55 {
		name := "Plan " + strconv.Itoa(100+i)
		if _, err := f.a.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: name, MaxChannels: 1, DaysPerPeriod: 1, PeriodDays: 1}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	retired, err := f.a.store.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "A retired plan", MaxChannels: 1, DaysPerPeriod: 1, PeriodDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.a.store.SetPlanActive(ctx, models.SystemActor, retired.ID, false); err != nil {
		t.Fatal(err)
	}
	names = append(names, retired.Name) // active ones first

	list := func(query string) apiList[apiPlan] {
		t.Helper()
		r := f.call(f.admin, "GET", "/api/plans"+query, "")
		apiWant(t, r, http.StatusOK, "")
		return apiDecode[apiList[apiPlan]](t, r)
	}
	got := func(l apiList[apiPlan]) []string {
		var out []string
		for _, p := range l.Items {
			out = append(out, p.Name)
		}
		return out
	}
	for _, tc := range []struct {
		query         string
		limit, offset int
		want          []string
	}{
		{"", 50, 0, names[:50]},
		{"?offset=50", 50, 50, names[50:]},
		{"?limit=200", 200, 0, names},
		{"?limit=3&offset=54", 3, 54, names[54:56]},
		{"?limit=1&offset=56", 1, 56, nil},
		{"?offset=9223372036854775807", 50, 9223372036854775807, nil},
	} {
		l := list(tc.query)
		if l.Total != 56 || l.Limit != tc.limit || l.Offset != tc.offset || strings.Join(got(l), ",") != strings.Join(tc.want, ",") {
			t.Errorf("GET /api/plans%s: total %d, limit %d, offset %d, %v; want 56, %d, %d, %v", tc.query, l.Total, l.Limit, l.Offset, got(l), tc.limit, tc.offset, tc.want)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=201", "?limit=x", "?offset=-1", "?offset=1.5"} {
		apiWant(t, f.call(f.admin, "GET", "/api/plans"+q, ""), http.StatusUnprocessableEntity, "invalid_input")
	}
}

// TestDisabledUsersAPIKeysStayRevoked: disabling a user — on their page or
// with PATCH /api/users/{id} — revokes their API keys, and enabling them
// again, either way, does not bring the keys back: the page and its flash
// say so, and only a new key works.
func TestDisabledUsersAPIKeysStayRevoked(t *testing.T) {
	f := newAPIFix(t)
	ctx := context.Background()
	page := f.a.client()
	page.login("admin@example.com")
	userPage := userPath(f.alice.id)
	aliceUses := func(key string) int {
		t.Helper()
		return f.c.jsonReq("GET", "/api/channels", "", "Authorization", "Bearer "+key).StatusCode
	}
	if s := aliceUses(f.alice.key); s != http.StatusOK {
		t.Fatalf("the key before: %d", s)
	}

	// Disabled on the page, enabled with the API.
	if r := page.submit(userPage+"/disable", userPage+"/disable", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.StatusCode)
	}
	r := page.get(userPage)
	for _, want := range []string{"their API keys are revoked", "Enabling it does not bring them back", "whapidesk apikey create --email alice@example.com"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page of a disabled user does not say %q", want)
		}
	}
	apiWant(t, f.call(f.admin, "PATCH", "/api/users/"+strconv.FormatInt(f.alice.id, 10), `{"disabled":false}`), http.StatusOK, "")
	if s := aliceUses(f.alice.key); s != http.StatusUnauthorized {
		t.Fatalf("the old key after enabling with the API: %d, want 401", s)
	}

	// A new key; disabled with the API, enabled on the page.
	key2, _, err := f.a.store.CreateAPIKey(ctx, models.SystemActor, f.alice.id, "second")
	if err != nil {
		t.Fatal(err)
	}
	if s := aliceUses(key2); s != http.StatusOK {
		t.Fatalf("a new key: %d", s)
	}
	apiWant(t, f.call(f.admin, "PATCH", "/api/users/"+strconv.FormatInt(f.alice.id, 10), `{"disabled":true}`), http.StatusOK, "")
	if s := aliceUses(key2); s != http.StatusUnauthorized {
		t.Fatalf("the key of a disabled user: %d, want 401", s)
	}
	if r := page.submit(userPage, userPage+"/enable", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", r.StatusCode)
	}
	r = page.get(userPage)
	if !strings.Contains(r.body, "is enabled: they can sign in again. Their old API keys stay revoked") {
		t.Errorf("the flash after enabling does not say the keys stay revoked:\n%.2000s", r.body)
	}
	if strings.Contains(r.body, `data-testid="keys-revoked"`) {
		t.Error("the page of an enabled user still shows the disabled account's note")
	}
	for _, key := range []string{f.alice.key, key2} {
		if s := aliceUses(key); s != http.StatusUnauthorized {
			t.Fatalf("an old key after enabling on the page: %d, want 401", s)
		}
	}
	keys, err := f.a.store.ListAPIKeys(ctx, f.alice.id)
	if err != nil || len(keys) != 2 || keys[0].RevokedAt == nil || keys[1].RevokedAt == nil {
		t.Fatalf("keys %+v %v, want both revoked", keys, err)
	}
}
