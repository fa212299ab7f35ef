package handlers

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"whapidesk/models"
)

// custAPIRoutes are the API routes open to customers (design §5); every
// other API route is for admins.
var custAPIRoutes = []string{
	"GET /api/channels", "POST /api/channels", "GET /api/channels/:id", "DELETE /api/channels/:id", "GET /api/channels/:id/qr",
	"POST /api/channels/:id/test-message",
	"POST /api/channels/:id/connect-links", "DELETE /api/connect-links/:id",
}

// custRouteKind sorts a route by who may use it: "customer" (/app and the
// customer API), "admin" (/admin and the rest of the API) or "public".
func custRouteKind(route string) string {
	_, path, _ := strings.Cut(route, " ")
	switch {
	case path == "/app" || strings.HasPrefix(path, "/app/"):
		return "customer"
	case path == "/admin" || strings.HasPrefix(path, "/admin/"):
		return "admin"
	case strings.HasPrefix(path, "/api/"):
		for _, r := range custAPIRoutes {
			if r == route {
				return "customer"
			}
		}
		return "admin"
	}
	return "public"
}

// custMaskCSRF hides the per-session parts of a page, so that answers of
// two requests can be compared.
var custMaskCSRF = regexp.MustCompile(`(name="(?:csrf-token|_csrf)" (?:content|value)=)"[^"]*"`)

// TestChannelIsolation: customer B, guessing customer A's channel id, gets
// 404 on every route that names a channel — pages, HTMX partials, the QR
// image, the API with a session or an API key — exactly as for an id that
// does not exist, and nothing of A's channel changes. Admin routes give a
// customer 403, customer pages give an admin 403, and the customer's QR
// API gives an admin 403.
func TestChannelIsolation(t *testing.T) {
	f := newCustFix(t)
	ctx := context.Background()
	alice := f.customer("alice@example.com", true)
	bob := f.customer("bob@example.com", true)
	f.newUser(models.RoleAdmin, "admin@example.com")
	secret := f.channel(alice, "Alice private line")
	f.channel(bob, "Bob's own")
	bobKey, _, err := f.store.CreateAPIKey(ctx, models.SystemActor, bob.ID, "bob")
	if err != nil {
		t.Fatal(err)
	}
	aliceC, bobC, adminC := f.signedIn("alice@example.com"), f.signedIn("bob@example.com"), f.signedIn("admin@example.com")
	custWant(t, aliceC.get(connectPath(secret.ID, "")), http.StatusOK) // A's page works for A
	adminCSRF := adminC.csrf("/admin")
	before := f.sim.Requests()

	routes := custRouteList(f.e)
	for _, r := range custAPIRoutes {
		if !slices.Contains(routes, r) {
			t.Fatalf("the router has no %s", r)
		}
	}
	aliceID, missing := strconv.FormatInt(secret.ID, 10), "999999"
	ids := custIDs{user: strconv.FormatInt(alice.ID, 10), plan: strconv.FormatInt(f.plan.ID, 10)}
	channelRoutes := 0
	for _, route := range routes {
		method, path, _ := strings.Cut(route, " ")
		kind := custRouteKind(route)
		if path == "/static*" || kind == "public" {
			continue
		}
		t.Run(route, func(t *testing.T) {
			names := strings.Contains(path, "/channels/:id") || strings.Contains(path, ":cid")
			guess, none := custFill(path, aliceID, ids), custFill(path, missing, ids)
			switch kind {
			case "admin":
				// Customers are refused, with a session or an API key.
				calls := []custCall{{route: route, method: method, path: guess}}
				if strings.HasPrefix(path, "/api/") {
					calls = append(calls, custCall{route: route, method: method, path: guess, apiKey: true})
				}
				for _, a := range f.walk(t, bobC, bobKey, calls) {
					if a.status != http.StatusForbidden {
						t.Errorf("customer: %s → %d, want 403", a.call, a.status)
					}
				}
			case "customer":
				// An admin is refused the customer's pages and QR code.
				if strings.HasPrefix(path, "/app") || strings.HasSuffix(path, "/qr") {
					a := custSend(t, adminC, adminCSRF, method, guess)
					if a.StatusCode != http.StatusForbidden {
						t.Errorf("admin: %s %s → %d, want 403", method, guess, a.StatusCode)
					}
				}
				if !names {
					return
				}
				channelRoutes++
				calls := []custCall{{route: route, method: method, path: guess}, {route: route, method: method, path: none}}
				if strings.HasPrefix(path, "/api/") {
					calls = append(calls, custCall{route: route, method: method, path: guess, apiKey: true},
						custCall{route: route, method: method, path: none, apiKey: true})
				}
				if strings.HasSuffix(path, "/connect/status") {
					calls = append(calls, custCall{route: route, method: method, path: guess + "?since=1&shown=qr-1"})
				}
				answers := f.walk(t, bobC, bobKey, calls)
				for _, a := range answers {
					if a.status != http.StatusNotFound {
						t.Errorf("customer B: %s → %d, want 404:\n%.300s", a.call, a.status, a.body)
					}
					if strings.Contains(string(a.body), "Alice private line") {
						t.Errorf("customer B: %s shows A's channel", a.call)
					}
				}
				// A's id answers exactly like an id that does not exist.
				if g, n := custMaskCSRF.ReplaceAllString(string(answers[0].body), "$1"), custMaskCSRF.ReplaceAllString(string(answers[1].body), "$1"); g != n {
					t.Errorf("%s: A's id and a missing id answer differently:\n%s\n---\n%s", route, g, n)
				}
			}
		})
	}
	if channelRoutes < 6 {
		t.Fatalf("only %d customer routes name a channel", channelRoutes)
	}

	// Nothing of A's channel moved: not deleted, no code asked for.
	if ch := f.reload(secret); ch.Status != models.ChannelTrial {
		t.Fatalf("A's channel is %s", ch.Status)
	}
	if st, _ := f.sim.Channel(f.reload(secret).RemoteID()); st.Deleted {
		t.Fatal("A's channel was deleted at the simulator")
	}
	for _, r := range f.sim.Requests()[len(before):] {
		if r.Method != http.MethodGet || strings.HasPrefix(r.Path, "/users/login/") {
			t.Errorf("B's guesses reached WHAPI: %s %s", r.Method, r.Path)
		}
	}

	// Signed out: pages send to the login page, the API answers 401.
	anon := f.client()
	custWant(t, anon.get(connectPath(secret.ID, "")), http.StatusSeeOther)
	custWant(t, anon.get(fmt.Sprintf("/app/channels/%d/qr.png", secret.ID)), http.StatusSeeOther)
	custWant(t, anon.get(fmt.Sprintf("/api/channels/%d/qr", secret.ID)), http.StatusUnauthorized)
}

// custSend makes one request as c (form or JSON with the CSRF token).
func custSend(t *testing.T, c *testClient, csrf, method, path string) result {
	t.Helper()
	var req *http.Request
	var err error
	switch {
	case method == http.MethodGet:
		req, err = http.NewRequest(method, c.app.srv.URL+path, nil)
	case strings.HasPrefix(path, "/api/"):
		req, err = http.NewRequest(method, c.app.srv.URL+path, strings.NewReader(custJSON(method, path)))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-CSRF-Token", csrf)
		}
	default:
		req, err = http.NewRequest(method, c.app.srv.URL+path, strings.NewReader(custForm(csrf).Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return c.do(req)
}
