package handlers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// hostileUpstream is what a compromised or buggy WHAPI could put in its
// error texts: markup, script, an attribute breakout and a marker to find
// it by, however it is escaped.
const hostileUpstream = `UPSTREAM-MARK-7f3 <script>alert("x")</script>"><img src=x onerror=alert(1)>`

// TestWHAPIErrorTextsAreNeverShown walks every route of the router, as the
// customer and as an admin, while WHAPI answers every call with an error
// whose message and details are hostile text, then opens every page again
// to find what was stored (flash messages, the audit log, channel states).
// No answer holds the text, neither raw nor escaped: whapidesk words its
// own messages and never passes WHAPI's on, so stored XSS through them has
// no way in.
func TestWHAPIErrorTextsAreNeverShown(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 409, 422, 429, 500, 503} {
		for _, who := range []string{"customer", "admin"} {
			t.Run(fmt.Sprintf("%d %s", status, who), func(t *testing.T) {
				f := newCustFix(t, func(o *custOptions) {
					o.maxChannels = 30
					o.manualClock = true
				})
				u := f.customer("alice@example.com", true)
				f.walkChannel = f.channel(u, "Sales")
				ids := custIDs{channel: strconv.FormatInt(f.walkChannel.ID, 10), user: strconv.FormatInt(u.ID, 10), plan: strconv.FormatInt(f.plan.ID, 10)}
				for i := range custSpareCount(f.e) {
					ids.spares = append(ids.spares, strconv.FormatInt(f.channel(u, fmt.Sprint("Spare ", i)).ID, 10))
				}
				keyOwner, email := u.ID, u.Email
				if who == "admin" {
					adm := f.newUser(models.RoleAdmin, "admin@example.com")
					keyOwner, email, f.walkHome = adm.ID, adm.Email, "/admin"
				}
				key, _, err := f.store.CreateAPIKey(context.Background(), models.SystemActor, keyOwner, "walk")
				if err != nil {
					t.Fatal(err)
				}
				c := f.signedIn(email)
				f.advance(whapisim.DefaultQRLifetime + 2*time.Second) // no cached QR: every call asks WHAPI
				f.sim.InjectFault(whapisim.Fault{Kind: whapisim.FaultStatus, Status: status,
					Message: hostileUpstream, Details: hostileUpstream, Times: 1 << 20})

				// Removing the partner token would end the walk's WHAPI calls.
				var calls []custCall
				for _, call := range custWalkCalls(f.e, ids) {
					if call.route != "POST /admin/settings/whapi/remove" {
						calls = append(calls, call)
					}
				}
				answers := f.walk(t, c, key, calls)
				hits := 0
				for _, r := range f.sim.Requests() {
					if r.Fault == whapisim.FaultStatus {
						hits++
					}
				}
				f.sim.ClearFaults()
				// Again, reading only: what the first pass stored.
				var reads []custCall
				for _, call := range calls {
					if call.method == http.MethodGet {
						reads = append(reads, call)
					}
				}
				// (The first pass ended its session at /logout: sign in again.)
				answers = append(answers, f.walk(t, f.signedIn(email), key, reads)...)

				marker := []byte("upstream-mark-7f3")
				for _, a := range answers {
					if bytes.Contains(bytes.ToLower(a.body), marker) || bytes.Contains(a.body, []byte(`<script>alert`)) {
						t.Errorf("%s → %d shows WHAPI's error text:\n%.400s", a.call, a.status, a.body)
					}
					for name, vals := range a.header {
						for _, v := range vals {
							if bytes.Contains(bytes.ToLower([]byte(v)), marker) {
								t.Errorf("%s: header %s holds WHAPI's error text", a.call, name)
							}
						}
					}
				}
				if hits < 5 {
					t.Fatalf("only %d calls met the hostile answer; the walk did not reach WHAPI", hits)
				}
				t.Logf("%d answers checked; %d WHAPI answers carried the hostile text", len(answers), hits)
			})
		}
	}
}
