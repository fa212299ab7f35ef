package whapisim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// longToken is a JWT-shaped partner token of about 1,300 characters.
func longToken() string {
	var b strings.Builder
	b.WriteString("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.")
	for b.Len() < 1300 {
		b.WriteString("eyJzdWIiOiJwYXJ0bmVyIiwiaWF0IjoxNzEyNTk4MjY3fQ-_")
	}
	b.WriteString(".c2lnbmF0dXJl")
	return b.String()
}

func TestManagerAuthExact(t *testing.T) {
	tok := longToken()
	if len(tok) < 1300 {
		t.Fatalf("token has %d characters", len(tok))
	}
	e := newEnv(t, Options{PartnerToken: tok})
	tests := []struct {
		name  string
		auth  string
		query string
		want  int
	}{
		{"exact", "Bearer " + tok, "", 200},
		{"missing", "", "", 401},
		{"double Bearer", "Bearer Bearer " + tok, "", 401},
		{"lowercase scheme", "bearer " + tok, "", 401},
		{"two spaces", "Bearer  " + tok, "", 401},
		// (A trailing space is not tested: HTTP strips optional whitespace
		// around header values before any server sees them.)
		{"no scheme", tok, "", 401},
		{"Basic", "Basic " + tok, "", 401},
		{"truncated", "Bearer " + tok[:len(tok)-1], "", 401},
		{"empty bearer", "Bearer ", "", 401},
		{"query token", "", "token=" + url.QueryEscape(tok), 200},
		{"wrong query token", "", "token=nope", 401},
		{"wrong header beats query", "Bearer nope", "token=" + url.QueryEscape(tok), 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := "/projects"
			if tc.query != "" {
				path += "?" + tc.query
			}
			r := e.request("GET", path, tc.auth, nil)
			if tc.want == 200 {
				if r.status != 200 {
					t.Fatalf("status %d %s", r.status, r.body)
				}
				return
			}
			wantError(t, r, tc.want)
		})
	}

	// The simulator saw exactly the header sent, with one "Bearer ".
	e.sim.ResetRequests()
	e.request("GET", "/projects", "Bearer "+tok, nil)
	reqs := e.sim.Requests()
	if len(reqs) != 1 || reqs[0].Authorization != "Bearer "+tok || strings.Count(reqs[0].Authorization, "Bearer") != 1 {
		t.Fatalf("recorded %+v", reqs)
	}
}

func TestSetPartnerToken(t *testing.T) {
	e := newEnv(t, Options{})
	if r := e.manager("GET", "/projects", nil); r.status != 200 {
		t.Fatalf("before rotation: %d", r.status)
	}
	e.sim.SetPartnerToken("rotated")
	wantError(t, e.manager("GET", "/projects", nil), 401)
	if r := e.request("GET", "/projects", "Bearer rotated", nil); r.status != 200 {
		t.Fatalf("new token: %d", r.status)
	}
	e.sim.SetPartnerToken("")
	wantError(t, e.request("GET", "/projects", "Bearer ", nil), 401)
	wantError(t, e.request("GET", "/projects?token=", "", nil), 401)
}

func TestGateAuth(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("gate auth")
	other := e.create("other")
	tests := []struct {
		name, auth, query string
		want              int
	}{
		{"channel token", "Bearer " + ch.Token, "", 200},
		{"query token", "", "&token=" + ch.Token, 200},
		{"partner token", "Bearer " + testPartnerToken, "", 401},
		{"double Bearer", "Bearer Bearer " + ch.Token, "", 401},
		{"lowercase", "bearer " + ch.Token, "", 401},
		{"missing", "", "", 401},
		{"unknown", "Bearer ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.request("GET", "/health?wakeup=false"+tc.query, tc.auth, nil)
			if tc.want != 200 {
				wantError(t, r, tc.want)
				return
			}
			var h wireHealth
			decode(t, r, &h)
			if r.status != 200 || h.ChannelID != ch.ID {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	// A deleted channel's token stops working; others keep working.
	wantSuccess(t, e.manager("DELETE", "/channels/"+ch.ID, nil))
	wantError(t, e.gate(ch.Token, "GET", "/health?wakeup=false"), 401)
	if h := e.health(other.Token); h.ChannelID != other.ID {
		t.Fatalf("other channel: %+v", h)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("routing")
	tests := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"unknown path", "GET", "/nope", "", 404},
		{"unknown gate path", "POST", "/messages/image", "Bearer " + ch.Token, 404},
		{"trailing slash", "GET", "/channels/list/", "Bearer " + testPartnerToken, 404},
		{"no GET /channels", "GET", "/channels", "Bearer " + testPartnerToken, 405},
		{"wrong method", "POST", "/channels/" + ch.ID, "Bearer " + testPartnerToken, 405},
		{"wrong gate method", "GET", "/users/logout", "Bearer " + ch.Token, 405},
		{"not simulated", "GET", "/partners/whapicloud/settings", "Bearer " + testPartnerToken, 501},
		{"not simulated gate", "GET", "/limits", "Bearer " + ch.Token, 501},
		{"not simulated needs auth", "GET", "/limits", "", 401},
		{"malformed channel id", "GET", "/channels/bad-id", "Bearer " + testPartnerToken, 400},
		{"unknown channel", "GET", "/channels/ABCDEF-12345", "Bearer " + testPartnerToken, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.request(tc.method, tc.path, tc.auth, nil)
			wantError(t, r, tc.want)
			if tc.want == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
				t.Fatalf("405 without Allow")
			}
		})
	}
}
