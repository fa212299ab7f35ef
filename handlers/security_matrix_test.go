package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// The security matrix: one row per route of the router, with the status
// each kind of caller gets. A route added without a row fails
// TestSecurityMatrixCoversEveryRoute.
//
// Callers: anonymous (with the pre-login CSRF token, so that the role
// check, not CSRF, is what is tested), customer A on A's own records,
// customer B on A's records (A's channel id, A's user id) and an admin on
// A's records. Every request that changes state carries the caller's CSRF
// token; the body is minimal (a form with only _csrf, or "{}").

// smOrder says when a row runs: rows that use something up run after the
// others, each on records (or sessions) of their own.
type smOrder int

const (
	smNormal  smOrder = iota
	smSpare           // deletes the channel it names: a fresh channel of A per caller
	smSession         // ends the caller's session: a freshly signed-in client per caller
	smCancel          // cancels A's subscription
	smToken           // removes the partner token
	smDisable         // disables A: the very last
)

type smRow struct {
	method, path       string
	anon, custA, custB int
	admin              int
	order              smOrder
	// noSession: the route serves no session and needs no CSRF token (its
	// own credential is in the address: WHAPI's webhooks).
	noSession bool
}

// smRows is the matrix. Anonymous callers are sent to the login page by
// pages (303) and answered 401 by the API; a customer gets 403 on admin
// routes and 404 for another customer's channel; an admin gets 403 on the
// customer's pages and QR code.
var smRows = []smRow{
	// Public.
	{method: "GET", path: "/", anon: 303, custA: 303, custB: 303, admin: 303},
	{method: "GET", path: "/healthz", anon: 200, custA: 200, custB: 200, admin: 200},
	// WHAPI's webhooks: a forged secret and a form body are nobody's event.
	{method: "POST", path: "/hooks/whapi/:secret", anon: 400, custA: 400, custB: 400, admin: 400, noSession: true},
	// Connect links: the link's token is the credential, whoever sends it
	// (a link to A's channel); forms without the page's own token
	// are refused (403).
	{method: "GET", path: "/l/:token", anon: 200, custA: 200, custB: 200, admin: 200, noSession: true},
	{method: "GET", path: "/l/:token/status", anon: 200, custA: 200, custB: 200, admin: 200, noSession: true},
	{method: "GET", path: "/l/:token/qr.png", anon: 200, custA: 200, custB: 200, admin: 200, noSession: true},
	{method: "POST", path: "/l/:token/pairing", anon: 403, custA: 403, custB: 403, admin: 403, noSession: true},
	{method: "POST", path: "/l/:token/reconnect", anon: 403, custA: 403, custB: 403, admin: 403, noSession: true},
	{method: "GET", path: "/login", anon: 200, custA: 303, custB: 303, admin: 303},
	{method: "POST", path: "/login", anon: 401, custA: 401, custB: 401, admin: 401},
	{method: "GET", path: "/logout", anon: 303, custA: 200, custB: 200, admin: 200},
	{method: "POST", path: "/logout", anon: 303, custA: 303, custB: 303, admin: 303, order: smSession},
	{method: "POST", path: "/language", anon: 400, custA: 400, custB: 400, admin: 400},
	// Set-password links: public; a forged token is no link.
	{method: "GET", path: "/set-password/:token", anon: 404, custA: 404, custB: 404, admin: 404},
	{method: "POST", path: "/set-password/:token", anon: 404, custA: 404, custB: 404, admin: 404},
	// Forgot password: public; a form without an address is refused.
	{method: "GET", path: "/forgot-password", anon: 200, custA: 200, custB: 200, admin: 200},
	{method: "POST", path: "/forgot-password", anon: 422, custA: 422, custB: 422, admin: 422},
	{method: "GET", path: "/forgot-password/sent", anon: 200, custA: 200, custB: 200, admin: 200},

	// Every signed-in user's own account.
	{method: "GET", path: "/account/password", anon: 303, custA: 200, custB: 200, admin: 200},
	{method: "POST", path: "/account/password", anon: 303, custA: 422, custB: 422, admin: 422},
	{method: "POST", path: "/account/mails", anon: 303, custA: 303, custB: 303, admin: 303},
	{method: "POST", path: "/account/language", anon: 303, custA: 303, custB: 303, admin: 303},

	// Customer pages.
	{method: "GET", path: "/app", anon: 303, custA: 200, custB: 200, admin: 403},
	{method: "POST", path: "/app/channels", anon: 303, custA: 422, custB: 422, admin: 403},
	{method: "GET", path: "/app/channels/:id/connect", anon: 303, custA: 200, custB: 404, admin: 403},
	{method: "GET", path: "/app/channels/:id/connect/status", anon: 303, custA: 200, custB: 404, admin: 403},
	{method: "POST", path: "/app/channels/:id/connect/pairing", anon: 303, custA: 422, custB: 404, admin: 403},
	{method: "POST", path: "/app/channels/:id/connect/reconnect", anon: 303, custA: 303, custB: 404, admin: 403},
	{method: "GET", path: "/app/channels/:id/qr.png", anon: 303, custA: 200, custB: 404, admin: 403},
	{method: "POST", path: "/app/channels/:id/connect-links", anon: 303, custA: 422, custB: 404, admin: 403},
	{method: "POST", path: "/app/channels/:id/connect-links/:lid/revoke", anon: 303, custA: 303, custB: 404, admin: 403},
	{method: "GET", path: "/app/channels/:id/test-message", anon: 303, custA: 303, custB: 404, admin: 403},
	{method: "POST", path: "/app/channels/:id/test-message", anon: 303, custA: 422, custB: 404, admin: 403},
	{method: "GET", path: "/app/channels/:id/card", anon: 303, custA: 200, custB: 404, admin: 403},
	{method: "GET", path: "/app/channels/:id/delete", anon: 303, custA: 200, custB: 404, admin: 403},
	{method: "POST", path: "/app/channels/:id/delete", anon: 303, custA: 303, custB: 404, admin: 403, order: smSpare},

	// Admin pages.
	{method: "GET", path: "/admin", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "GET", path: "/admin/audit", anon: 303, custA: 403, custB: 403, admin: 200},
	// The Jobs page, on a job scheduled for later: retrying it is refused
	// with a message (303), cancelling it works (303).
	{method: "GET", path: "/admin/jobs", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/jobs/:id/retry", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "GET", path: "/admin/jobs/:id/cancel", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/jobs/:id/cancel", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "GET", path: "/admin/outbox", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "GET", path: "/admin/attention", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "GET", path: "/admin/outbox/:id", anon: 303, custA: 403, custB: 403, admin: 404},
	{method: "GET", path: "/admin/outbox/:id/html", anon: 303, custA: 403, custB: 403, admin: 404},
	{method: "POST", path: "/admin/outbox/:id/retry", anon: 303, custA: 403, custB: 403, admin: 404},
	{method: "GET", path: "/admin/keys", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/keys", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/admin/keys/:id/revoke", anon: 303, custA: 403, custB: 403, admin: 404},
	{method: "POST", path: "/admin/keys/:id/revoke", anon: 303, custA: 403, custB: 403, admin: 404},
	{method: "GET", path: "/admin/webhooks", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/webhooks", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/admin/webhooks/:id", anon: 303, custA: 403, custB: 403, admin: 404},
	{method: "POST", path: "/admin/webhooks/:id/test", anon: 303, custA: 403, custB: 403, admin: 404},
	{method: "GET", path: "/admin/webhooks/:id/rotate", anon: 303, custA: 403, custB: 403, admin: 404},
	{method: "POST", path: "/admin/webhooks/:id/rotate", anon: 303, custA: 403, custB: 403, admin: 404},
	{method: "GET", path: "/admin/webhooks/:id/delete", anon: 303, custA: 403, custB: 403, admin: 404},
	{method: "POST", path: "/admin/webhooks/:id/delete", anon: 303, custA: 403, custB: 403, admin: 404},
	// A has a password: there is no invitation to resend (a flash says so).
	{method: "POST", path: "/admin/users/:id/invitation", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "POST", path: "/admin/users/:id/mails", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "GET", path: "/admin/channels", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "GET", path: "/admin/channels.csv", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/channels/:id/extend", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "POST", path: "/admin/channels/:id/sync", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "GET", path: "/admin/channels/:id/delete", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/channels/:id/delete", anon: 303, custA: 403, custB: 403, admin: 303, order: smSpare},
	{method: "GET", path: "/admin/channels/:id/connect", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "GET", path: "/admin/channels/:id/connect/status", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "GET", path: "/admin/channels/:id/connect/qr.png", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/channels/:id/connect/pairing", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "POST", path: "/admin/channels/:id/connect/reconnect", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "POST", path: "/admin/channels/:id/connect-links", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "POST", path: "/admin/channels/:id/connect-links/:lid/revoke", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "GET", path: "/admin/channels/:id/test-message", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/channels/:id/test-message", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/admin/channels/:id/restart", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/channels/:id/restart", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "GET", path: "/admin/channels/:id/stop", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/channels/:id/stop", anon: 303, custA: 403, custB: 403, admin: 303, order: smSpare},
	{method: "GET", path: "/admin/channels/:id/start", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/channels/:id/start", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "POST", path: "/admin/sync", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "POST", path: "/admin/partner/days", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/admin/partner/entries", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "GET", path: "/admin/partner/entries/:id/reverse", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/partner/entries/:id/reverse", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/admin/plans", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/plans", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/admin/plans/:id/edit", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/plans/:id", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/admin/plans/:id/retire", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/plans/:id/retire", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "POST", path: "/admin/plans/:id/reinstate", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "GET", path: "/admin/users", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/users", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/admin/users/:id", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/users/:id/mode", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "GET", path: "/admin/users/:id/subscription", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "POST", path: "/admin/users/:id/subscription", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "POST", path: "/admin/users/:id/subscription/renew", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "GET", path: "/admin/users/:id/subscription/cancel", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/users/:id/subscription/cancel", anon: 303, custA: 403, custB: 403, admin: 303, order: smCancel},
	{method: "POST", path: "/admin/users/:id/language", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "POST", path: "/admin/users/:id/days", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/admin/users/:id/disable", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/users/:id/disable", anon: 303, custA: 403, custB: 403, admin: 303, order: smDisable},
	{method: "POST", path: "/admin/users/:id/enable", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "POST", path: "/admin/users/:id/password", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "POST", path: "/admin/users/:id/channels/:cid/extend", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/admin/users/:id/channels/:cid/delete", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/users/:id/channels/:cid/delete", anon: 303, custA: 403, custB: 403, admin: 303, order: smSpare},
	{method: "GET", path: "/admin/users/:id/channels/:cid/restart", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/users/:id/channels/:cid/restart", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "GET", path: "/admin/users/:id/channels/:cid/stop", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/users/:id/channels/:cid/stop", anon: 303, custA: 403, custB: 403, admin: 303, order: smSpare},
	{method: "GET", path: "/admin/users/:id/channels/:cid/start", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/users/:id/channels/:cid/start", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "GET", path: "/admin/settings/whapi", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/settings/whapi", anon: 303, custA: 403, custB: 403, admin: 303},
	{method: "POST", path: "/admin/settings/whapi/test", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/settings/whapi/project", anon: 303, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/admin/settings/whapi/remove", anon: 303, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/admin/settings/whapi/remove", anon: 303, custA: 403, custB: 403, admin: 303, order: smToken},

	// JSON API: owners and admins.
	{method: "GET", path: "/api/channels", anon: 401, custA: 200, custB: 200, admin: 200},
	{method: "POST", path: "/api/channels", anon: 401, custA: 422, custB: 422, admin: 422},
	{method: "GET", path: "/api/channels/:id", anon: 401, custA: 200, custB: 404, admin: 200},
	{method: "DELETE", path: "/api/channels/:id", anon: 401, custA: 200, custB: 404, admin: 200, order: smSpare},
	{method: "GET", path: "/api/channels/:id/qr", anon: 401, custA: 200, custB: 404, admin: 403},
	{method: "POST", path: "/api/channels/:id/test-message", anon: 401, custA: 422, custB: 404, admin: 422},
	{method: "POST", path: "/api/channels/:id/connect-links", anon: 401, custA: 201, custB: 404, admin: 201},
	{method: "DELETE", path: "/api/connect-links/:id", anon: 401, custA: 204, custB: 404, admin: 204},

	// JSON API: admins only.
	{method: "POST", path: "/api/channels/:id/extend", anon: 401, custA: 403, custB: 403, admin: 422},
	{method: "POST", path: "/api/channels/:id/restart", anon: 401, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/api/channels/:id/stop", anon: 401, custA: 403, custB: 403, admin: 200, order: smSpare},
	{method: "POST", path: "/api/channels/:id/start", anon: 401, custA: 403, custB: 403, admin: 409},
	{method: "GET", path: "/api/plans", anon: 401, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/api/plans", anon: 401, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/api/users", anon: 401, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/api/users", anon: 401, custA: 403, custB: 403, admin: 422},
	{method: "POST", path: "/api/webhooks", anon: 401, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/api/webhooks", anon: 401, custA: 403, custB: 403, admin: 200},
	{method: "DELETE", path: "/api/webhooks/:id", anon: 401, custA: 403, custB: 403, admin: 404},
	{method: "GET", path: "/api/users/:id", anon: 401, custA: 403, custB: 403, admin: 200},
	{method: "PATCH", path: "/api/users/:id", anon: 401, custA: 403, custB: 403, admin: 200},
	{method: "POST", path: "/api/users/:id/subscription", anon: 401, custA: 403, custB: 403, admin: 422},
	{method: "POST", path: "/api/users/:id/days", anon: 401, custA: 403, custB: 403, admin: 422},
	{method: "GET", path: "/api/users/:id/ledger", anon: 401, custA: 403, custB: 403, admin: 200},
	{method: "GET", path: "/api/settings/whapi", anon: 401, custA: 403, custB: 403, admin: 200},
	{method: "PUT", path: "/api/settings/whapi", anon: 401, custA: 403, custB: 403, admin: 200},
}

// smNotRows are the routes of e.Routes() that have no row: Echo's "route
// not found" handlers (they answer 404/401 and are covered by the walks of
// customer_exposure_test.go) and the static files (public by design).
var smNotRows = []string{
	"GET /static*",
	echo.RouteNotFound + " /", echo.RouteNotFound + " /*",
	echo.RouteNotFound + " /account", echo.RouteNotFound + " /account/*",
	echo.RouteNotFound + " /admin", echo.RouteNotFound + " /admin/*",
	echo.RouteNotFound + " /api", echo.RouteNotFound + " /api/*",
	echo.RouteNotFound + " /app", echo.RouteNotFound + " /app/*",
}

func (r smRow) key() string { return r.method + " " + r.path }

func (r smRow) changes() bool {
	return r.method != http.MethodGet && r.method != http.MethodHead
}

// smRole is one kind of caller.
type smRole struct {
	name  string
	email string // "" for anonymous
	want  func(smRow) int
}

var smRoles = []smRole{
	{"anonymous", "", func(r smRow) int { return r.anon }},
	{"customer B", "bob@example.com", func(r smRow) int { return r.custB }},
	{"customer A", "alice@example.com", func(r smRow) int { return r.custA }},
	{"admin", "admin@example.com", func(r smRow) int { return r.admin }},
}

// smFix is the app with two customers on a plan, an admin and a channel
// of A's.
type smFix struct {
	*custFix
	alice, bob, admin *models.User
	aliceCh           *models.Channel
	spares            int
	partnerEntry      int64 // a purchase of partner days
	job               int64 // a job of the queue, scheduled for later
	// linkToken opens A's channel's connect page; linkID is another link
	// to it, for the revoke.
	linkToken string
	linkID    int64
}

func newSMFix(t *testing.T) *smFix {
	t.Helper()
	f := &smFix{custFix: newCustFix(t, func(o *custOptions) {
		o.maxChannels = 50
		o.sim.CreateLimit = 1000 // the spare channels of every changing row; the limit has tests of its own
	})}
	f.alice = f.customer("alice@example.com", true)
	f.bob = f.customer("bob@example.com", true)
	f.admin = f.newUser(models.RoleAdmin, "admin@example.com")
	f.aliceCh = f.channel(f.alice, "Alice main")
	open, err := f.svc.FreshConnectLink(context.Background(), f.aliceCh.ID)
	if err != nil {
		t.Fatal(err)
	}
	revoke, err := f.svc.FreshConnectLink(context.Background(), f.aliceCh.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.linkToken, f.linkID = open.Token, revoke.Link.ID
	f.channel(f.bob, "Bob main")
	e, err := f.store.RecordPartnerEntry(context.Background(), models.SystemActor,
		models.NewPartnerEntry{Kind: models.PartnerPurchase, Days: 10, Note: "invoice 1"})
	if err != nil {
		t.Fatal(err)
	}
	f.partnerEntry = e.ID
	// A job that stays waiting for the whole test (the start's Reconcile,
	// due in a day), so that its cancel page is there for every caller.
	res, err := withJobs(t, f.testApp, &flakyWork{}, 24*time.Hour).InsertBootReconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.job = res.Job.ID
	return f
}

// spare makes another channel of A's.
func (f *smFix) spare() *models.Channel {
	f.spares++
	return f.channel(f.alice, "Alice spare "+strconv.Itoa(f.spares))
}

// fill puts ids into a route's parameters: channel after "channels" and
// for :cid, A's user id after "users", the plan's id after "plans".
func (f *smFix) fill(path string, channel int64) string {
	seg := strings.Split(path, "/")
	for i, s := range seg {
		if !strings.HasPrefix(s, ":") {
			continue
		}
		switch {
		case s == ":cid" || seg[i-1] == "channels":
			seg[i] = strconv.FormatInt(channel, 10)
		case seg[i-1] == "users":
			seg[i] = strconv.FormatInt(f.alice.ID, 10)
		case seg[i-1] == "plans":
			seg[i] = strconv.FormatInt(f.plan.ID, 10)
		case seg[i-1] == "entries":
			seg[i] = strconv.FormatInt(f.partnerEntry, 10)
		case seg[i-1] == "jobs":
			seg[i] = strconv.FormatInt(f.job, 10)
		case s == ":token" && seg[i-1] == "l": // a link to A's channel
			seg[i] = f.linkToken
		case s == ":token": // the shape of a set-password token, not one
			seg[i] = strings.Repeat("A", 43)
		case seg[i-1] == "connect-links":
			seg[i] = strconv.FormatInt(f.linkID, 10)
		case seg[i-1] == "outbox":
			seg[i] = "999999" // no such mail
		case seg[i-1] == "webhooks":
			seg[i] = "999999" // no such endpoint
		case seg[i-1] == "keys":
			seg[i] = "999999" // no such API key
		case s == ":secret":
			forged, _, err := models.NewSecret()
			if err != nil {
				f.t.Fatal(err)
			}
			seg[i] = forged
		default:
			f.t.Fatalf("no id for %s in %s", s, path)
		}
	}
	return strings.Join(seg, "/")
}

// smCaller is a client and the CSRF token of its session (or the
// pre-login token of an anonymous visitor).
type smCaller struct {
	c    *testClient
	csrf string
}

func (f *smFix) caller(role smRole) smCaller {
	f.t.Helper()
	c := f.client()
	if role.email == "" {
		return smCaller{c: c, csrf: c.csrf("/login")}
	}
	c.login(role.email)
	page := "/app"
	if role.email == "admin@example.com" {
		page = "/admin"
	}
	return smCaller{c: c, csrf: c.csrf(page)}
}

// smReq builds a request to path: GET without a body; else a form with
// only _csrf (pages) or "{}" (API), with the token in X-CSRF-Token for
// the API. token "" sends none.
func smReq(t *testing.T, base, method, path, token, body string) *http.Request {
	t.Helper()
	isAPIPath := strings.HasPrefix(path, "/api/")
	var req *http.Request
	var err error
	switch {
	case method == http.MethodGet:
		req, err = http.NewRequest(method, base+path, nil)
	case isAPIPath:
		if body == "" {
			body = "{}"
		}
		req, err = http.NewRequest(method, base+path, strings.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("X-CSRF-Token", token)
			}
		}
	default:
		form := url.Values{}
		if body != "" {
			if form, err = url.ParseQuery(body); err != nil {
				t.Fatal(err)
			}
		}
		if token != "" {
			form.Set("_csrf", token)
		}
		req, err = http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// smCheckHeaders fails unless r carries the security headers.
func smCheckHeaders(t *testing.T, what string, r result) {
	t.Helper()
	h := r.Header
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self'") ||
		strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", what, h.Get("X-Content-Type-Options"))
	}
	if rp := h.Get("Referrer-Policy"); rp != "same-origin" && rp != "no-referrer" && rp != "strict-origin-when-cross-origin" {
		t.Errorf("%s: Referrer-Policy %q", what, rp)
	}
	if h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("%s: X-Frame-Options %q", what, h.Get("X-Frame-Options"))
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q", what, h.Get("Cache-Control"))
	}
}

// smFingerprint is what a refused request must not change: the newest
// audit event (every change is audited), the users' roles, balances,
// modes and flags, every channel's state, the plans and the settings.
func (f *smFix) fingerprint() string {
	f.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	ev, err := f.store.ListAudit(ctx, 1, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(ev) > 0 {
		fmt.Fprintf(&b, "audit %d\n", ev[0].ID)
	}
	for _, u := range []*models.User{f.alice, f.bob, f.admin} {
		u, err := f.store.UserByID(ctx, u.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		fmt.Fprintf(&b, "user %d %s %s %d %s %v\n", u.ID, u.Email, u.Role, u.DayBalance, u.AllocationMode, u.Disabled)
		chs, err := f.store.ChannelsByUser(ctx, u.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, ch := range chs {
			fmt.Fprintf(&b, "channel %d %d %s %s %v\n", ch.ID, ch.UserID, ch.Name, ch.Status, ch.ActiveTill)
		}
	}
	plans, err := f.store.ListPlans(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, p := range plans {
		fmt.Fprintf(&b, "plan %+v\n", p)
	}
	st, err := f.store.Settings(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	status := st.ProjectStatus()
	st.ProjectKnown = nil // a pointer, whose address differs between reads: its status is printed
	fmt.Fprintf(&b, "settings %+v project %s\n", st, status)
	return b.String()
}

// TestSecurityMatrixCoversEveryRoute: the rows are exactly the routes of
// the router (less smNotRows), so a new route without a row fails here.
func TestSecurityMatrixCoversEveryRoute(t *testing.T) {
	a := newTestApp(t)
	var routes []string
	for _, r := range a.e.Routes() {
		routes = append(routes, r.Method+" "+r.Path)
	}
	sort.Strings(routes)
	routes = slices.Compact(routes)
	var rows []string
	for _, r := range smRows {
		rows = append(rows, r.key())
	}
	rows = append(rows, smNotRows...)
	sort.Strings(rows)
	if d := slices.Compact(slices.Clone(rows)); len(d) != len(rows) {
		t.Errorf("the matrix has a route twice")
	}
	for _, r := range routes {
		if _, found := slices.BinarySearch(rows, r); !found {
			t.Errorf("route %s has no row in smRows (security_matrix_test.go): add one", r)
		}
	}
	for _, r := range rows {
		if _, found := slices.BinarySearch(routes, r); !found {
			t.Errorf("row %s names no route of the router", r)
		}
	}
}

// TestSecurityMatrixAuthorization makes every row's request as every
// caller and checks the status and the security headers of the answer.
func TestSecurityMatrixAuthorization(t *testing.T) {
	f := newSMFix(t)
	callers := map[string]smCaller{}
	for _, role := range smRoles {
		callers[role.name] = f.caller(role)
	}
	rows := slices.Clone(smRows)
	slices.SortStableFunc(rows, func(a, b smRow) int { return int(a.order) - int(b.order) })
	printMode := os.Getenv("SECMATRIX_PRINT") != ""
	got := map[string][]int{}
	for _, row := range rows {
		for _, role := range smRoles {
			cl := callers[role.name]
			channel := f.aliceCh.ID
			switch row.order {
			case smSpare:
				channel = f.spare().ID
			case smSession:
				cl = f.caller(role)
			}
			path := f.fill(row.path, channel)
			token := ""
			if row.changes() {
				token = cl.csrf
			}
			r := cl.c.do(smReq(t, f.srv.URL, row.method, path, token, ""))
			got[row.key()] = append(got[row.key()], r.StatusCode)
			what := fmt.Sprintf("%s: %s %s", role.name, row.method, path)
			smCheckHeaders(t, what, r)
			if r.StatusCode >= 500 {
				t.Errorf("%s → %d:\n%.400s", what, r.StatusCode, r.body)
			}
			if !printMode && r.StatusCode != role.want(row) {
				t.Errorf("%s → %d, want %d:\n%.300s", what, r.StatusCode, role.want(row), r.body)
			}
			if w := role.want(row); w == http.StatusNotFound || w == http.StatusForbidden {
				if ch := f.reload(f.aliceCh); ch.Status == models.ChannelDeleted || ch.Status == models.ChannelDeleting {
					t.Fatalf("%s deleted A's channel", what)
				}
			}
		}
	}
	if printMode {
		for _, row := range smRows {
			g := got[row.key()]
			fmt.Printf("{method: %q, path: %q, anon: %d, custA: %d, custB: %d, admin: %d},\n", row.method, row.path, g[0], g[2], g[1], g[3])
		}
	}
}

// smSignedIn are the callers with a session.
func smSignedIn() []smRole { return smRoles[1:] }

// isCSRFRefusal reports whether r is the CSRF middleware's refusal.
func isCSRFRefusal(path string, r result) bool {
	if r.StatusCode != http.StatusForbidden {
		return false
	}
	if strings.HasPrefix(path, "/api/") {
		return strings.Contains(r.body, `"code":"csrf"`)
	}
	return strings.Contains(r.body, "sent from another site")
}

// TestSecurityMatrixCSRF: every state-changing route, as every signed-in
// caller the route does not refuse anyway, is refused (403, nothing
// changed) without the token, with a wrong one, from another site
// (Sec-Fetch-Site) and from a foreign Origin; same-origin requests with
// the token work; API-key requests need no token and are not refused for
// CSRF even with cross-site headers.
func TestSecurityMatrixCSRF(t *testing.T) {
	f := newSMFix(t)
	ctx := context.Background()
	callers := map[string]smCaller{}
	for _, role := range smSignedIn() {
		callers[role.name] = f.caller(role)
	}
	before := f.fingerprint()
	cases := []struct {
		name   string
		token  func(string) string
		header [2]string
	}{
		{"no token", func(string) string { return "" }, [2]string{}},
		{"wrong token", func(tok string) string { return tok[:len(tok)-1] + "x" }, [2]string{}},
		{"cross-site fetch", func(tok string) string { return tok }, [2]string{"Sec-Fetch-Site", "cross-site"}},
		{"same-site fetch", func(tok string) string { return tok }, [2]string{"Sec-Fetch-Site", "same-site"}},
		{"foreign Origin", func(tok string) string { return tok }, [2]string{"Origin", "https://evil.example"}},
		{"foreign Origin, same host name", func(tok string) string { return tok }, [2]string{"Origin", "http://127.0.0.1.evil.example"}},
	}
	checked := 0
	for _, row := range smRows {
		if !row.changes() || row.noSession {
			continue
		}
		for _, role := range smSignedIn() {
			if w := role.want(row); w == http.StatusUnauthorized || w == http.StatusForbidden {
				continue // refused anyway: the matrix covers it
			}
			cl := callers[role.name]
			path := f.fill(row.path, f.aliceCh.ID)
			for _, tc := range cases {
				req := smReq(t, f.srv.URL, row.method, path, tc.token(cl.csrf), "")
				if tc.header[0] != "" {
					req.Header.Set(tc.header[0], tc.header[1])
				}
				r := cl.c.do(req)
				smCheckHeaders(t, row.method+" "+path, r)
				if !isCSRFRefusal(path, r) {
					t.Errorf("%s: %s %s, %s → %d, want the CSRF refusal (403):\n%.300s", role.name, row.method, path, tc.name, r.StatusCode, r.body)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d refused requests checked", checked)
	}
	if after := f.fingerprint(); after != before {
		t.Fatalf("refused requests changed something:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// The sessions still work: a refusal does not end them.
	for _, role := range smSignedIn() {
		if r := callers[role.name].c.get("/api/channels"); r.StatusCode != http.StatusOK {
			t.Fatalf("%s: after the refusals GET /api/channels → %d", role.name, r.StatusCode)
		}
	}

	// Same-origin requests with the token work.
	a := callers["customer A"]
	req := smReq(t, f.srv.URL, http.MethodPost, "/app/channels", a.csrf, "name=Same+origin")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", f.srv.URL)
	if r := a.c.do(req); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin form post with the token: %d\n%.300s", r.StatusCode, r.body)
	}
	req = smReq(t, f.srv.URL, http.MethodPost, "/api/channels", a.csrf, `{"name":"Same origin API"}`)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", f.srv.URL)
	if r := a.c.do(req); r.StatusCode != http.StatusCreated {
		t.Fatalf("same-origin API post with the token: %d\n%.300s", r.StatusCode, r.body)
	}

	// API keys: no token, cross-site headers, still not refused for CSRF.
	keys := map[string]string{}
	for _, u := range []*models.User{f.alice, f.bob, f.admin} {
		k, _, err := f.store.CreateAPIKey(ctx, models.SystemActor, u.ID, "matrix")
		if err != nil {
			t.Fatal(err)
		}
		keys[u.Email] = k
	}
	for _, row := range smRows {
		if !row.changes() || !strings.HasPrefix(row.path, "/api/") {
			continue
		}
		for _, role := range smSignedIn() {
			channel := f.aliceCh.ID
			if row.order == smSpare {
				channel = f.spare().ID
			}
			path := f.fill(row.path, channel)
			req := smReq(t, f.srv.URL, row.method, path, "", "")
			req.Header.Set("Authorization", "Bearer "+keys[role.email])
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			req.Header.Set("Origin", "https://evil.example")
			r := f.client().do(req)
			if isCSRFRefusal(path, r) || r.StatusCode != role.want(row) {
				t.Errorf("%s with an API key: %s %s → %d, want %d:\n%.300s", role.name, row.method, path, r.StatusCode, role.want(row), r.body)
			}
		}
	}
}

// TestSecurityMatrixMassAssignment: fields a caller may not set —
// role, day_balance, allocation_mode, user_id, another owner — are
// refused in JSON bodies (400, or 403 for another owner) with nothing
// changed, and ignored in forms.
func TestSecurityMatrixMassAssignment(t *testing.T) {
	f := newSMFix(t)
	ctx := context.Background()
	a, admin := f.caller(smRoles[2]), f.caller(smRoles[3])
	aliceID := strconv.FormatInt(f.alice.ID, 10)
	before := f.fingerprint()
	for _, tc := range []struct {
		who          smCaller
		method, path string
		body         string
		want         int
	}{
		{a, "POST", "/api/channels", `{"name":"Mass","role":"admin"}`, 400},
		{a, "POST", "/api/channels", `{"name":"Mass","day_balance":99999}`, 400},
		{a, "POST", "/api/channels", `{"name":"Mass","allocation_mode":"manual"}`, 400},
		{a, "POST", "/api/channels", `{"name":"Mass","user_id":` + strconv.FormatInt(f.bob.ID, 10) + `}`, 403},
		{a, "POST", "/api/channels", `{"name":"Mass","owner_id":` + strconv.FormatInt(f.bob.ID, 10) + `}`, 400},
		{a, "POST", "/api/channels", `{"name":"Mass","status":"active","active_till":"2099-01-01T00:00:00Z"}`, 400},
		{a, "PATCH", "/api/users/" + aliceID, `{"allocation_mode":"manual"}`, 403},
		{a, "POST", "/api/users/" + aliceID + "/days", `{"days":100,"comment":"self"}`, 403},
		{admin, "PATCH", "/api/users/" + aliceID, `{"role":"admin"}`, 400},
		{admin, "PATCH", "/api/users/" + aliceID, `{"day_balance":99999}`, 400},
		{admin, "PATCH", "/api/users/" + aliceID, `{"name":"Alice","user_id":1}`, 400},
		{admin, "POST", "/api/users/" + aliceID + "/days", `{"days":1,"comment":"x","day_balance":99999}`, 400},
		{admin, "POST", "/api/channels/" + strconv.FormatInt(f.aliceCh.ID, 10) + "/extend", `{"days":1,"comment":"x","user_id":1}`, 400},
		{admin, "POST", "/api/plans", `{"name":"Mass","max_channels":1,"days_per_period":1,"period_days":1,"id":1}`, 400},
		{admin, "PUT", "/api/settings/whapi", `{"low_balance_threshold":5,"role":"admin"}`, 400},
	} {
		r := tc.who.c.do(smReq(t, f.srv.URL, tc.method, tc.path, tc.who.csrf, tc.body))
		if r.StatusCode != tc.want {
			t.Errorf("%s %s %s → %d, want %d:\n%.300s", tc.method, tc.path, tc.body, r.StatusCode, tc.want, r.body)
		}
	}
	if after := f.fingerprint(); after != before {
		t.Fatalf("refused bodies changed something:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// A form with extra fields: the channel is A's, and nothing else of
	// A's or B's moves.
	bobChans, _ := f.store.ChannelsByUser(ctx, f.bob.ID)
	aliceBefore := f.reloadUser(f.alice)
	r := a.c.do(smReq(t, f.srv.URL, "POST", "/app/channels", a.csrf, url.Values{
		"name": {"Form mass"}, "role": {"admin"}, "day_balance": {"99999"}, "allocation_mode": {"manual"},
		"user_id": {strconv.FormatInt(f.bob.ID, 10)}, "owner_id": {strconv.FormatInt(f.bob.ID, 10)}, "status": {"active"},
	}.Encode()))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("form with extra fields: %d\n%.300s", r.StatusCode, r.body)
	}
	alice := f.reloadUser(f.alice)
	if alice.Role != models.RoleCustomer || alice.AllocationMode != aliceBefore.AllocationMode || alice.DayBalance > aliceBefore.DayBalance {
		t.Fatalf("extra form fields changed A: %+v", alice)
	}
	if bc, _ := f.store.ChannelsByUser(ctx, f.bob.ID); len(bc) != len(bobChans) {
		t.Fatal("a channel was created for B")
	}
	chs, _ := f.store.ChannelsByUser(ctx, f.alice.ID)
	found := false
	for _, ch := range chs {
		if ch.Name == "Form mass" {
			found = true
			if ch.Status == models.ChannelActive && ch.ActiveTill != nil && ch.ActiveTill.Year() > 2090 {
				t.Fatal("extra form fields set the channel's state")
			}
		}
	}
	if !found {
		t.Fatal("the form's channel is not A's")
	}
}

// TestSecurityMatrixBodyLimit: a 100 KB body is refused with 413 before
// anything is done.
func TestSecurityMatrixBodyLimit(t *testing.T) {
	f := newSMFix(t)
	a, admin, anon := f.caller(smRoles[2]), f.caller(smRoles[3]), f.caller(smRoles[0])
	big := strings.Repeat("x", 100<<10)
	before := f.fingerprint()
	for _, tc := range []struct {
		who          smCaller
		method, path string
		body         string
	}{
		{anon, "POST", "/login", url.Values{"email": {"alice@example.com"}, "password": {big}}.Encode()},
		{a, "POST", "/app/channels", url.Values{"name": {big}}.Encode()},
		{a, "POST", "/api/channels", `{"name":"` + big + `"}`},
		{admin, "POST", "/admin/plans", url.Values{"name": {big}, "max_channels": {"1"}, "days_per_period": {"1"}, "period_days": {"1"}}.Encode()},
		{admin, "POST", "/admin/users/" + strconv.FormatInt(f.alice.ID, 10) + "/days", url.Values{"days": {"5"}, "comment": {big}}.Encode()},
		{admin, "PUT", "/api/settings/whapi", `{"partner_token":"` + big + `"}`},
		{admin, "POST", "/admin/settings/whapi", url.Values{"partner_token": {big}}.Encode()},
	} {
		r := tc.who.c.do(smReq(t, f.srv.URL, tc.method, tc.path, tc.who.csrf, tc.body))
		if r.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s %s with %d bytes → %d, want 413:\n%.300s", tc.method, tc.path, len(tc.body), r.StatusCode, r.body)
		}
		smCheckHeaders(t, tc.method+" "+tc.path, r)
	}
	if after := f.fingerprint(); after != before {
		t.Fatalf("too large bodies changed something:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// smSessionClockApp is a's store and service served by a Handler of cfg
// whose session store reads the returned manual clock.
func smSessionClockApp(t *testing.T, a *testApp, cfg Config) (*testApp, *Handler, *whapisim.Clock) {
	t.Helper()
	clock := whapisim.NewClock(time.Now().UTC())
	h := New(a.store, a.svc, slog.New(slog.NewTextHandler(a.logs, nil)), cfg)
	h.sessions.now = clock.Now
	e := echo.New()
	h.Routes(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	b := *a
	b.e, b.srv = e, srv
	return &b, h, clock
}

// smSessionID is the server-side id in c's session cookie.
func smSessionID(t *testing.T, h *Handler, c *testClient) string {
	t.Helper()
	ck := c.cookie(sessionCookie)
	if ck == nil {
		t.Fatal("no session cookie")
	}
	var id string
	if err := h.sessions.codec.Decode(sessionCookie, ck.Value, &id); err != nil || id == "" {
		t.Fatalf("session cookie: %v", err)
	}
	return id
}

// TestSessionTimeoutsAreEnforcedServerSide: a session unused for longer
// than the idle timeout (default 2 h) ends, and so does one in constant
// use once the absolute timeout (default 12 h) has passed — the row is
// deleted, so the cookie is worth nothing. Configured timeouts are
// honoured.
func TestSessionTimeoutsAreEnforcedServerSide(t *testing.T) {
	base := newTestApp(t)
	base.newUser(models.RoleAdmin, "admin@example.com")
	ctx := context.Background()
	gone := func(t *testing.T, c *testClient, h *Handler, id, what string) {
		t.Helper()
		r := c.get("/admin")
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Fatalf("%s: GET /admin → %d %s, want the login page", what, r.StatusCode, r.Header.Get("Location"))
		}
		if _, err := base.store.SessionByID(ctx, id); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("%s: the session row is still there (%v)", what, err)
		}
		if r := c.jsonReq(http.MethodGet, "/api/users", ""); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: GET /api/users → %d, want 401", what, r.StatusCode)
		}
	}
	for _, tc := range []struct {
		name           string
		cfg            Config
		idle, absolute time.Duration
	}{
		{"defaults", Config{}, 2 * time.Hour, 12 * time.Hour},
		{"configured", Config{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour}, 10 * time.Minute, time.Hour},
	} {
		t.Run(tc.name+"/idle", func(t *testing.T) {
			a, h, clock := smSessionClockApp(t, base, tc.cfg)
			c := a.client()
			c.login("admin@example.com")
			id := smSessionID(t, h, c)
			clock.Advance(tc.idle - 2*time.Minute)
			if r := c.get("/admin"); r.StatusCode != http.StatusOK {
				t.Fatalf("just under the idle timeout: %d", r.StatusCode)
			}
			clock.Advance(tc.idle + time.Second)
			gone(t, c, h, id, "idle")
		})
		t.Run(tc.name+"/absolute", func(t *testing.T) {
			a, h, clock := smSessionClockApp(t, base, tc.cfg)
			c := a.client()
			c.login("admin@example.com")
			id := smSessionID(t, h, c)
			step := tc.idle - 2*time.Minute // always used before it idles
			var used time.Duration
			for used+step < tc.absolute {
				clock.Advance(step)
				used += step
				if r := c.get("/admin"); r.StatusCode != http.StatusOK {
					t.Fatalf("in use after %s: %d", used, r.StatusCode)
				}
			}
			clock.Advance(tc.absolute - used + time.Second)
			gone(t, c, h, id, "absolute")
		})
	}
}

// The texts of stored-XSS attempts, and what must never appear raw.
var (
	xssPayloads = []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`}
	xssRaw      = []string{`<script>alert`, `<img src=x`, `onerror=alert(1)>`}
)

// TestStoredXSSRendersInert: channel names, plan names, user names and
// ledger and extend comments holding HTML render escaped on every page
// that shows them, and the JSON API escapes them too.
func TestStoredXSSRendersInert(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.maxChannels = 10 })
	ctx := context.Background()
	alice, err := f.store.CreateUser(ctx, models.NewUser{Email: "alice@example.com", Name: "Alice " + xssPayloads[1], Password: testPassword, Role: models.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ActivatePlan(ctx, models.SystemActor, alice.ID, f.plan.ID); err != nil {
		t.Fatal(err)
	}
	f.newUser(models.RoleAdmin, "admin@example.com")
	var chans []*models.Channel
	for i, p := range xssPayloads {
		if _, err := f.svc.CreatePlan(ctx, models.SystemActor, models.PlanInput{Name: "Plan " + strconv.Itoa(i) + p, MaxChannels: 1, DaysPerPeriod: 1, PeriodDays: 1}); err != nil {
			t.Fatal(err)
		}
		chans = append(chans, f.channel(alice, p))
		if err := f.svc.CreditDays(ctx, models.SystemActor, alice.ID, 5, p); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Extend(ctx, models.SystemActor, provision.ExtendInput{ChannelID: chans[i].ID, Days: 1, Comment: p}); err != nil {
			t.Fatal(err)
		}
	}
	cust, admin := f.signedIn("alice@example.com"), f.signedIn("admin@example.com")
	uid := strconv.FormatInt(alice.ID, 10)
	ch0 := strconv.FormatInt(chans[0].ID, 10)
	pages := []struct {
		c     *testClient
		path  string
		shows bool // the page must show an escaped payload
	}{
		{cust, "/app", true},
		{cust, "/app/channels/" + ch0 + "/delete", true},
		{cust, "/app/channels/" + ch0 + "/connect", true},
		{cust, "/api/channels", false},
		{admin, "/admin", false},
		{admin, "/admin/channels", true},
		{admin, "/admin/channels.csv", false},
		{admin, "/admin/channels/" + ch0 + "/delete", true},
		{admin, "/admin/users", true},
		{admin, "/admin/users/" + uid, true},
		{admin, "/admin/users/" + uid + "/disable", false},
		{admin, "/admin/plans", true},
		{admin, "/admin/audit", false},
		{admin, "/api/users/" + uid + "/ledger", false},
		{admin, "/api/plans", false},
	}
	for _, p := range pages {
		r := p.c.get(p.path)
		if r.StatusCode != http.StatusOK {
			t.Errorf("%s → %d", p.path, r.StatusCode)
			continue
		}
		if strings.HasSuffix(p.path, ".csv") {
			if ct := r.Header.Get("Content-Type"); strings.Contains(ct, "html") {
				t.Errorf("%s is served as %s", p.path, ct)
			}
			continue
		}
		for _, raw := range xssRaw {
			if strings.Contains(r.body, raw) {
				i := strings.Index(r.body, raw)
				t.Errorf("%s shows %q raw: …%s…", p.path, raw, r.body[max(0, i-80):min(len(r.body), i+80)])
			}
		}
		if p.shows && !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;") && !strings.Contains(r.body, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("%s shows no escaped payload: was it rendered at all?", p.path)
		}
	}
}

// smCheckAllHeaders fails unless r carries every security header, as a
// site served over HTTPS: smCheckHeaders' and HSTS, the opener and
// permissions policies. A static file may be cached; nothing else may.
func smCheckAllHeaders(t *testing.T, what string, r result, static bool) {
	t.Helper()
	if static {
		r.Header.Set("Cache-Control", "no-store") // checked below
	}
	smCheckHeaders(t, what, r)
	h := r.Header
	if !strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("%s: Strict-Transport-Security %q", what, h.Get("Strict-Transport-Security"))
	}
	if h.Get("Cross-Origin-Opener-Policy") != "same-origin" {
		t.Errorf("%s: Cross-Origin-Opener-Policy %q", what, h.Get("Cross-Origin-Opener-Policy"))
	}
	if !strings.Contains(h.Get("Permissions-Policy"), "camera=()") {
		t.Errorf("%s: Permissions-Policy %q", what, h.Get("Permissions-Policy"))
	}
}

// TestSecurityMatrixHeadersOnRouterAnswers: the server as serve builds it
// (Echo behind a ServeMux, wrapped by Handler.Wrap) puts every security
// header on the answers no handler of ours writes — the mux's redirects
// of unclean paths (/static/../main.go), Echo's 404 and 405, its
// redirects, a static file, an API error, /healthz, HEAD — and on the
// pages and JSON answers as well.
func TestSecurityMatrixHeadersOnRouterAnswers(t *testing.T) {
	a := newTestApp(t)
	h := New(a.store, a.svc, slog.New(slog.NewTextHandler(a.logs, nil)), Config{SecureCookies: true})
	e := echo.New()
	h.Routes(e)
	mux := http.NewServeMux() // as main.go's serve: Echo at "/", the simulator beside it in a demo
	mux.Handle("/", e)
	srv := httptest.NewServer(h.Wrap(mux))
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		method, path, contentType, body string
		status                          int
		static                          bool
	}{
		{"GET", "/static/../main.go", "", "", http.StatusTemporaryRedirect, false}, // the mux cleans the path
		{"GET", "//login", "", "", http.StatusTemporaryRedirect, false},
		{"GET", "/app/./channels", "", "", http.StatusTemporaryRedirect, false},
		{"GET", "/no-such-page", "", "", http.StatusNotFound, false},
		{"GET", "/static/no-such.css", "", "", http.StatusNotFound, true},
		{"POST", "/static/css/app.css", "", "", http.StatusMethodNotAllowed, true},
		{"OPTIONS", "/static/css/app.css", "", "", http.StatusNoContent, true},
		{"DELETE", "/login", "", "", http.StatusForbidden, false}, // an unknown method of a page: the CSRF check refuses it first
		{"OPTIONS", "/login", "", "", http.StatusNotFound, false},
		{"GET", "/admin", "", "", http.StatusSeeOther, false},
		{"GET", "/", "", "", http.StatusSeeOther, false},
		{"GET", "/static/css/app.css", "", "", http.StatusOK, true},
		{"HEAD", "/static/css/app.css", "", "", http.StatusOK, true},
		{"GET", "/healthz", "", "", http.StatusOK, false},
		{"HEAD", "/login", "", "", http.StatusOK, false},
		{"GET", "/login", "", "", http.StatusOK, false},
		{"POST", "/login", "application/x-www-form-urlencoded", "email=x", http.StatusForbidden, false},
		{"GET", "/api/users", "", "", http.StatusUnauthorized, false},
		{"GET", "/api/no-such-route", "", "", http.StatusUnauthorized, false},
		{"POST", "/api/plans", "text/plain", "{}", http.StatusUnauthorized, false},
		{"POST", "/hooks/whapi/x", "application/json", "{}", http.StatusBadRequest, false},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		what := tc.method + " " + tc.path
		if res.StatusCode != tc.status {
			t.Errorf("%s → %d, want %d:\n%.300s", what, res.StatusCode, tc.status, b)
		}
		if tc.static && res.StatusCode == http.StatusOK && res.Header.Get("Cache-Control") == "no-store" {
			t.Errorf("%s: a static file is Cache-Control: no-store", what)
		}
		smCheckAllHeaders(t, what, result{Response: res, body: string(b)}, tc.static)
	}
}

// TestSecurityMatrixCSRFTokenOnlyFromBodyOrHeader: on every
// state-changing route, as every signed-in caller the route does not
// refuse anyway (and anonymously on the sign-in form), the right token in
// the query string (as _csrf or X-CSRF-Token), or in a cookie of either
// name, is refused like no token at all (403, nothing changed); the same
// token in the form body or the header is accepted.
func TestSecurityMatrixCSRFTokenOnlyFromBodyOrHeader(t *testing.T) {
	f := newSMFix(t)
	callers := map[string]smCaller{}
	for _, role := range smSignedIn() {
		callers[role.name] = f.caller(role)
	}
	anon := f.caller(smRoles[0])
	before := f.fingerprint()
	misplacements := map[string]func(*http.Request, string){
		"?_csrf=": func(req *http.Request, tok string) {
			req.URL.RawQuery = url.Values{"_csrf": {tok}}.Encode()
		},
		"?X-CSRF-Token=": func(req *http.Request, tok string) {
			req.URL.RawQuery = url.Values{"X-CSRF-Token": {tok}}.Encode()
		},
		"cookie _csrf": func(req *http.Request, tok string) {
			req.AddCookie(&http.Cookie{Name: "_csrf", Value: tok})
		},
		"cookie X-CSRF-Token": func(req *http.Request, tok string) {
			req.AddCookie(&http.Cookie{Name: "X-CSRF-Token", Value: tok})
		},
	}
	checked := 0
	try := func(who smCaller, role, method, path, body string) {
		t.Helper()
		for name, misplace := range misplacements {
			req := smReq(t, f.srv.URL, method, path, "", body)
			misplace(req, who.csrf)
			r := who.c.do(req)
			smCheckHeaders(t, method+" "+path, r)
			if !isCSRFRefusal(path, r) {
				t.Errorf("%s: %s %s with the token in the %s → %d, want the CSRF refusal (403):\n%.300s", role, method, path, name, r.StatusCode, r.body)
			}
			checked++
		}
	}
	try(anon, "anonymous", http.MethodPost, "/login", url.Values{"email": {"alice@example.com"}, "password": {testPassword}}.Encode())
	for _, row := range smRows {
		if !row.changes() || row.noSession {
			continue
		}
		for _, role := range smSignedIn() {
			if w := role.want(row); w == http.StatusUnauthorized || w == http.StatusForbidden {
				continue // refused anyway: the matrix covers it
			}
			try(callers[role.name], role.name, row.method, f.fill(row.path, f.aliceCh.ID), "")
		}
	}
	if checked < 100 {
		t.Fatalf("only %d refused requests checked", checked)
	}
	if after := f.fingerprint(); after != before {
		t.Fatalf("refused requests changed something:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// The same token in the body (a form) or the header (the API) works.
	a := callers["customer A"]
	if r := a.c.do(smReq(t, f.srv.URL, http.MethodPost, "/app/channels", a.csrf, "name=From+the+body")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the token in the form body: %d\n%.300s", r.StatusCode, r.body)
	}
	if r := a.c.do(smReq(t, f.srv.URL, http.MethodPost, "/api/channels", a.csrf, `{"name":"From the header"}`)); r.StatusCode != http.StatusCreated {
		t.Fatalf("the token in the header: %d\n%.300s", r.StatusCode, r.body)
	}
	r := anon.c.do(smReq(t, f.srv.URL, http.MethodPost, "/login", anon.csrf, url.Values{"email": {"alice@example.com"}, "password": {testPassword}}.Encode()))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("signing in with the token in the form body: %d\n%.300s", r.StatusCode, r.body)
	}
}

// smJSONBodies are the API routes that read a JSON body, each with a body
// an admin may send and a field of it; the other API writes take no body.
// A new API write must be listed here or in smNoBody.
var (
	smJSONBodies = map[string]struct{ body, field string }{
		"POST /api/channels":                   {`{"name":"Strict","user_id":{alice}}`, "name"},
		"POST /api/channels/:id/extend":        {`{"days":1,"comment":"strict"}`, "days"},
		"POST /api/plans":                      {`{"name":"Strict","max_channels":1,"days_per_period":1,"period_days":1}`, "max_channels"},
		"POST /api/users":                      {`{"email":"strict@example.com","password":"a long passphrase for strict","role":"customer"}`, "email"},
		"PATCH /api/users/:id":                 {`{"name":"Strict","allocation_mode":"manual"}`, "allocation_mode"},
		"POST /api/users/:id/subscription":     {`{"plan_id":{plan}}`, "plan_id"},
		"POST /api/users/:id/days":             {`{"days":1,"comment":"strict"}`, "comment"},
		"PUT /api/settings/whapi":              {`{"low_balance_threshold":7,"topup_window_days":2,"replace_refused":false}`, "replace_refused"},
		"POST /api/channels/:id/test-message":  {`{"to":"15551234567"}`, "to"},
		"POST /api/channels/:id/connect-links": {`{"valid_minutes":30}`, "valid_minutes"},
		"POST /api/webhooks":                   {`{"url":"https://hooks.example.com/strict","events":["channel.created"]}`, "url"},
	}
	smNoBody = []string{"DELETE /api/channels/:id", "DELETE /api/connect-links/:id", "DELETE /api/webhooks/:id", "POST /api/channels/:id/restart", "POST /api/channels/:id/stop", "POST /api/channels/:id/start"}
)

// TestSecurityMatrixJSONStrictness: every API write refuses a body not
// declared as JSON (text/plain, a form, multipart, none, another charset:
// 415 unsupported_media_type), and every route that reads a body refuses a
// key sent twice (at the top or nested), a key spelt in another case (or
// with a Unicode letter that folds to an ASCII one), trailing data and a
// body that is not an object (400 bad_json, naming the key) — as an admin
// with an API key and with the session cookie, nothing changed. The same
// bodies with Content-Type: application/json; charset=utf-8 are taken.
func TestSecurityMatrixJSONStrictness(t *testing.T) {
	f := newSMFix(t)
	ctx := context.Background()
	key, _, err := f.store.CreateAPIKey(ctx, models.SystemActor, f.admin.ID, "strict")
	if err != nil {
		t.Fatal(err)
	}
	admin := f.caller(smRoles[3])
	fillBody := func(b string) string {
		return strings.NewReplacer("{alice}", strconv.FormatInt(f.alice.ID, 10), "{plan}", strconv.FormatInt(f.plan.ID, 10)).Replace(b)
	}
	send := func(viaKey bool, method, path, contentType, body string) result {
		t.Helper()
		req := smReq(t, f.srv.URL, method, path, admin.csrf, body)
		if body == "" {
			req = smReq(t, f.srv.URL, method, path, admin.csrf, "{}")
			req.Body, req.ContentLength = http.NoBody, 0
		}
		req.Header.Del("Content-Type")
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if viaKey {
			req.Header.Del("X-CSRF-Token")
			req.Header.Set("Authorization", "Bearer "+key)
			return f.client().do(req)
		}
		return admin.c.do(req)
	}
	wantError := func(what string, r result, status int, code string, names ...string) {
		t.Helper()
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if r.StatusCode != status || json.Unmarshal([]byte(r.body), &e) != nil || e.Error.Code != code {
			t.Errorf("%s → %d, want %d %s:\n%.300s", what, r.StatusCode, status, code, r.body)
			return
		}
		for _, n := range names {
			if !strings.Contains(e.Error.Message, `\"`+n+`\"`) && !strings.Contains(e.Error.Message, `"`+n+`"`) {
				t.Errorf("%s: the message does not name %q: %s", what, n, e.Error.Message)
			}
		}
		smCheckHeaders(t, what, r)
	}

	listed := map[string]bool{}
	for _, k := range smNoBody {
		listed[k] = true
	}
	before := f.fingerprint()
	checked := 0
	for _, row := range smRows {
		if !row.changes() || !strings.HasPrefix(row.path, "/api/") {
			continue
		}
		jb, hasBody := smJSONBodies[row.key()]
		if !hasBody && !listed[row.key()] {
			t.Errorf("%s is an API write in neither smJSONBodies nor smNoBody: list it", row.key())
			continue
		}
		path := f.fill(row.path, f.aliceCh.ID)
		body := fillBody(jb.body)
		if !hasBody {
			body = "{}"
		}
		for _, viaKey := range []bool{true, false} {
			who := "session"
			if viaKey {
				who = "API key"
			}
			for _, ct := range []string{"text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
				"application/json; charset=iso-8859-1", "application/jsonx", "text/json", "application/json-patch+json", "application/json, text/plain", "json"} {
				what := fmt.Sprintf("%s: %s %s as %q", who, row.method, path, ct)
				wantError(what, send(viaKey, row.method, path, ct, body), http.StatusUnsupportedMediaType, "unsupported_media_type")
				checked++
			}
			if !hasBody {
				continue
			}
			field := jb.field
			dup := strings.Replace(body, "{", `{"`+field+`":null,`, 1)
			upper := strings.Replace(body, `"`+field+`"`, `"`+strings.ToUpper(field[:1])+field[1:]+`"`, 1)
			folded := strings.Replace(body, `"`+field+`"`, `"`+strings.NewReplacer("s", "ſ", "k", "\u212a").Replace(field)+`"`, 1)
			for _, tc := range []struct {
				name, body string
				names      []string
			}{
				{"a key twice", dup, []string{field}},
				{"a key twice, escaped", strings.Replace(body, "{", `{"\u00`+strconv.FormatInt(int64(field[0]), 16)+field[1:]+`":null,`, 1), []string{field}},
				{"a nested key twice", strings.Replace(body, "{", `{"`+field+`":{"a":1,"a":2},`, 1), []string{field + ".a"}},
				{"a key in another case", upper, []string{strings.ToUpper(field[:1]) + field[1:], field}},
				{"a key in all capitals", strings.Replace(body, `"`+field+`"`, `"`+strings.ToUpper(field)+`"`, 1), []string{strings.ToUpper(field)}},
				{"trailing data", body + ` {}`, nil},
				{"trailing garbage", body + `x`, nil},
				{"two objects", body + body, nil},
				{"null", `null`, nil},
				{"an array", `[` + body + `]`, nil},
				{"empty", ` `, nil},
			} {
				if strings.ContainsAny(field, "sk") && tc.name == "a key in all capitals" {
					tc2 := tc
					tc2.name, tc2.body, tc2.names = "a key with a letter that folds to ASCII", folded, nil
					wantError(fmt.Sprintf("%s: %s %s with %s", who, row.method, path, tc2.name), send(viaKey, row.method, path, "application/json", tc2.body), http.StatusBadRequest, "bad_json")
				}
				what := fmt.Sprintf("%s: %s %s with %s", who, row.method, path, tc.name)
				wantError(what, send(viaKey, row.method, path, "application/json", tc.body), http.StatusBadRequest, "bad_json", tc.names...)
				checked++
			}
		}
	}
	if checked < 200 {
		t.Fatalf("only %d refused requests checked", checked)
	}
	if after := f.fingerprint(); after != before {
		t.Fatalf("refused bodies changed something:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Declared as JSON (with a UTF-8 charset, in any case), the same
	// bodies are taken; and a route without a body takes a request with
	// none, whatever its Content-Type.
	for _, tc := range []struct {
		method, path, contentType, body string
		want                            int
	}{
		{"POST", "/api/plans", "application/json; charset=utf-8", fillBody(smJSONBodies["POST /api/plans"].body), http.StatusCreated},
		{"PATCH", "/api/users/{alice}", "Application/JSON; Charset=UTF-8", fillBody(smJSONBodies["PATCH /api/users/:id"].body), http.StatusOK},
		{"POST", "/api/users/{alice}/days", "application/json", fillBody(smJSONBodies["POST /api/users/:id/days"].body), http.StatusOK},
		{"POST", "/api/channels/{channel}/restart", "", "", http.StatusOK},
		{"POST", "/api/channels/{channel}/restart", "text/plain", "", http.StatusOK},
	} {
		path := strings.NewReplacer("{alice}", strconv.FormatInt(f.alice.ID, 10), "{channel}", strconv.FormatInt(f.aliceCh.ID, 10)).Replace(tc.path)
		if r := send(true, tc.method, path, tc.contentType, tc.body); r.StatusCode != tc.want {
			t.Errorf("%s %s as %q → %d, want %d:\n%.300s", tc.method, path, tc.contentType, r.StatusCode, tc.want, r.body)
		}
	}
}

// TestSecurityMatrixAnonymousAPIChangesAre401: every API write, sent by
// someone who is not signed in, is 401 unauthorized (docs/api.md), never
// 403 csrf nor 415: without any cookie, with the pre-login CSRF cookie and
// its token in the header, with the cookie of a session that was signed
// out, with a forged or malformed key, with a body that is not JSON —
// nothing changed. (403 csrf is for a signed-in session's change without
// its token.)
func TestSecurityMatrixAnonymousAPIChangesAre401(t *testing.T) {
	f := newSMFix(t)
	anon := f.caller(smRoles[0])
	gone := f.caller(smRoles[2])
	sid := gone.c.cookie(sessionCookie)
	if sid == nil {
		t.Fatal("no session cookie")
	}
	gone.c.submit("/logout", "/logout", nil)
	before := f.fingerprint()
	variants := []struct {
		name string
		send func(method, path string) result
	}{
		{"no cookie", func(method, path string) result {
			return f.client().do(smReq(t, f.srv.URL, method, path, "", ""))
		}},
		{"the pre-login cookie and token", func(method, path string) result {
			return anon.c.do(smReq(t, f.srv.URL, method, path, anon.csrf, ""))
		}},
		{"a signed-out session's cookie and token", func(method, path string) result {
			req := smReq(t, f.srv.URL, method, path, gone.csrf, "")
			req.AddCookie(&http.Cookie{Name: sid.Name, Value: sid.Value})
			return f.client().do(req)
		}},
		{"a forged key", func(method, path string) result {
			req := smReq(t, f.srv.URL, method, path, "", "")
			req.Header.Set("Authorization", "Bearer "+models.APIKeyPrefix+strings.Repeat("A", 43))
			return f.client().do(req)
		}},
		{"a key that is not Bearer", func(method, path string) result {
			req := smReq(t, f.srv.URL, method, path, "", "")
			req.Header.Set("Authorization", "Basic YWRtaW46eA==")
			return f.client().do(req)
		}},
		{"a text/plain body", func(method, path string) result {
			req := smReq(t, f.srv.URL, method, path, anon.csrf, "")
			req.Header.Set("Content-Type", "text/plain")
			return anon.c.do(req)
		}},
	}
	checked := 0
	for _, row := range smRows {
		if !row.changes() || !strings.HasPrefix(row.path, "/api/") {
			continue
		}
		path := f.fill(row.path, f.aliceCh.ID)
		for _, v := range variants {
			r := v.send(row.method, path)
			what := fmt.Sprintf("%s %s with %s", row.method, path, v.name)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if r.StatusCode != http.StatusUnauthorized || json.Unmarshal([]byte(r.body), &e) != nil || e.Error.Code != "unauthorized" || e.Error.Message == "" {
				t.Errorf("%s → %d, want 401 unauthorized:\n%.300s", what, r.StatusCode, r.body)
			}
			smCheckHeaders(t, what, r)
			checked++
		}
	}
	if checked < 60 {
		t.Fatalf("only %d requests checked", checked)
	}
	if after := f.fingerprint(); after != before {
		t.Fatalf("anonymous changes changed something:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
