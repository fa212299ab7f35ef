package provision

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"testing"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// whapiText is the text WHAPI (or a proxy) puts in its error bodies in
// these tests: hostile, and never to reach a person.
const whapiText = "WHAPI-TEXT <script>alert(1)</script> days"

// shape returns a fault of kind in the given error shape, on method and
// path, carrying whapiText.
func shape(kind whapisim.FaultKind, status int, sh whapisim.ErrorShape, method, path string) whapisim.Fault {
	return whapisim.Fault{Method: method, Path: path, Kind: kind, Status: status, Shape: sh, Message: whapiText, Details: whapiText}
}

// noWHAPIText fails if WHAPI's text reached an error a caller gets (and
// from there a page or an API answer) or anything stored, where pages and
// exports read from.
func (e *env) noWHAPIText(err error) {
	e.t.Helper()
	if err != nil && strings.Contains(err.Error(), "WHAPI-TEXT") {
		e.t.Fatalf("the error a person is told carries WHAPI's text: %v", err)
	}
	for _, p := range []string{e.te.DBPath, e.te.DBPath + "-wal"} {
		b, rerr := os.ReadFile(p)
		if errors.Is(rerr, fs.ErrNotExist) {
			continue
		}
		if rerr != nil {
			e.t.Fatal(rerr)
		}
		if bytes.Contains(b, []byte("WHAPI-TEXT")) {
			e.t.Fatalf("WHAPI's text was stored in %s", p)
		}
	}
}

// An extend answered in any error shape is settled from what WHAPI did:
// refusals give the days back at once; a failure under a 2xx, a 5xx page
// or an empty 5xx leave it open (the days reserved, not spent) until a
// re-read shows the extension; an extension applied behind an error body
// is counted as soon as the re-read shows it. WHAPI's text never reaches
// the caller.
func TestExtendUnderEveryErrorShape(t *testing.T) {
	const post, path = http.MethodPost, "/channels/"
	tests := []struct {
		name    string
		fault   whapisim.Fault
		applied bool
		now     bool  // settled at once (else by Reconcile)
		wantErr error // when settled at once and not applied
	}{
		{"2xx with WHAPI's error body", shape(whapisim.FaultErrorIn2xx, 0, whapisim.ShapeWHAPI, post, path), false, false, nil},
		{"2xx with a flat error", shape(whapisim.FaultErrorIn2xx, 0, whapisim.ShapeFlat, post, path), false, false, nil},
		{"2xx with success false", shape(whapisim.FaultErrorIn2xx, 0, whapisim.ShapeSuccessFalse, post, path), false, false, nil},
		{"applied, answered 200 with an error", shape(whapisim.FaultAppliedWithError, 0, whapisim.ShapeWHAPI, post, path), true, true, nil},
		{"applied, answered 200 flat", shape(whapisim.FaultAppliedWithError, 0, whapisim.ShapeFlat, post, path), true, true, nil},
		{"applied, answered success false", shape(whapisim.FaultAppliedWithError, 0, whapisim.ShapeSuccessFalse, post, path), true, true, nil},
		{"applied, answered a proxy's 504 page", shape(whapisim.FaultAppliedWithError, 504, whapisim.ShapeHTML, post, path), true, true, nil},
		{"a proxy's 502 page", shape(whapisim.FaultStatus, 502, whapisim.ShapeHTML, post, path), false, false, nil},
		{"a proxy's 504 page", shape(whapisim.FaultStatus, 504, whapisim.ShapeHTML, post, path), false, false, nil},
		{"empty 502", shape(whapisim.FaultStatus, 502, whapisim.ShapeEmpty, post, path), false, false, nil},
		{"plain-text 500", shape(whapisim.FaultStatus, 500, whapisim.ShapeText, post, path), false, false, nil},
		{"flat 402 refusal", shape(whapisim.FaultStatus, 402, whapisim.ShapeFlat, post, path), false, true, ErrPartnerShort},
		{"message-only 400 refusal", shape(whapisim.FaultStatus, 400, whapisim.ShapeMessage, post, path), false, true, ErrRefused},
		{"plain-text 400 refusal", shape(whapisim.FaultStatus, 400, whapisim.ShapeText, post, path), false, true, ErrRefused},
		{"a proxy's 503 page is a refusal", shape(whapisim.FaultStatus, 503, whapisim.ShapeHTML, post, path), false, true, ErrRefused},
		{"plain-text 400 saying the balance is short", whapisim.Fault{Method: post, Path: path, Kind: whapisim.FaultStatus, Status: 400,
			Shape: whapisim.ShapeText, Message: "Not enough days on the balance"}, false, true, ErrPartnerShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.customer("amal", 1, 30, 30)
			ch := e.create(u.ID, "shop")
			e.sim.InjectFault(tt.fault)
			_, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 7, Comment: "fault"})
			e.noWHAPIText(err)
			switch {
			case tt.now && tt.applied && err != nil:
				t.Fatalf("extend applied behind an error body: %v, want success", err)
			case tt.now && !tt.applied && !errors.Is(err, tt.wantErr):
				t.Fatalf("extend refused: %v, want %v", err, tt.wantErr)
			case !tt.now && !errors.Is(err, ErrOutcomeUnknown):
				t.Fatalf("extend: %v, want ErrOutcomeUnknown", err)
			}
			// Only a refusal that says the partner's balance is short
			// raises the partner-balance warning.
			if st, _ := e.store.Settings(e.ctx); (st.PartnerShortAt != nil) != (tt.wantErr == ErrPartnerShort) {
				t.Fatalf("partner-balance warning raised at %v after %v", st.PartnerShortAt, err)
			}
			if !tt.now {
				// Not counted as spent, not given back: reserved until a
				// re-read shows what WHAPI did.
				if b := e.user(u.ID).DayBalance; b != 23 {
					t.Fatalf("while unsettled the days stay reserved: balance %d", b)
				}
				if got := e.channel(ch.ID).DaysAllocated; got != 0 {
					t.Fatalf("days counted as allocated before WHAPI showed them: %d", got)
				}
				rep, err := e.newService().Reconcile(e.ctx)
				if err != nil || rep.Settled != 1 {
					t.Fatalf("reconcile: %+v %v", rep, err)
				}
			}
			sc, _ := e.sim.Channel(ch.RemoteID())
			want := int64(30)
			if tt.applied {
				want = 23
			}
			if b := e.user(u.ID).DayBalance; b != want || (sc.ExtendedDays == 7) != tt.applied || sc.ExtendedDays%7 != 0 {
				t.Fatalf("balance %d (want %d), WHAPI extended %d", b, want, sc.ExtendedDays)
			}
			if got := e.channel(ch.ID); int64(sc.ExtendedDays) != got.DaysAllocated || !got.ActiveTill.Equal(sc.ActiveTill.UTC()) {
				t.Fatalf("local allocated %d till %v; WHAPI extended %d till %v", got.DaysAllocated, got.ActiveTill, sc.ExtendedDays, sc.ActiveTill)
			}
			e.checkBooks()
			e.noWHAPIText(nil)
		})
	}
}

// A delete answered in any error shape is done only when WHAPI no longer
// has the channel: a failure under a 2xx or a 5xx page leaves it
// "deleting" until a re-read settles it; a delete applied behind an error
// body is confirmed by the re-read and its unused days come back.
func TestDeleteUnderEveryErrorShape(t *testing.T) {
	const del, path = http.MethodDelete, "/channels/"
	tests := []struct {
		name    string
		fault   whapisim.Fault
		applied bool
		now     bool
	}{
		{"2xx with WHAPI's error body", shape(whapisim.FaultErrorIn2xx, 0, whapisim.ShapeWHAPI, del, path), false, false},
		{"2xx with a flat not-found error", whapisim.Fault{Method: del, Path: path, Kind: whapisim.FaultErrorIn2xx, Shape: whapisim.ShapeFlat, Code: 404, Message: whapiText}, false, false},
		{"2xx with success false", shape(whapisim.FaultErrorIn2xx, 0, whapisim.ShapeSuccessFalse, del, path), false, false},
		{"applied, answered 200 with an error", shape(whapisim.FaultAppliedWithError, 0, whapisim.ShapeWHAPI, del, path), true, true},
		{"applied, answered success false", shape(whapisim.FaultAppliedWithError, 0, whapisim.ShapeSuccessFalse, del, path), true, true},
		{"applied, answered a proxy's 504 page", shape(whapisim.FaultAppliedWithError, 504, whapisim.ShapeHTML, del, path), true, true},
		{"a proxy's 502 page", shape(whapisim.FaultStatus, 502, whapisim.ShapeHTML, del, path), false, false},
		{"empty 504", shape(whapisim.FaultStatus, 504, whapisim.ShapeEmpty, del, path), false, false},
		{"flat 400 refusal", shape(whapisim.FaultStatus, 400, whapisim.ShapeFlat, del, path), false, true},
		{"plain-text 400 refusal", shape(whapisim.FaultStatus, 400, whapisim.ShapeText, del, path), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.customer("amal", 1, 30, 30)
			ch := e.create(u.ID, "shop")
			if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 20, Comment: "paid"}); err != nil {
				t.Fatal(err)
			}
			e.sim.InjectFault(tt.fault)
			days, err := e.svc.Delete(e.ctx, admin, ch.ID)
			e.noWHAPIText(err)
			switch {
			case tt.applied && (err != nil || days != 20):
				t.Fatalf("delete applied behind an error body: %d days, %v; want 20 days back", days, err)
			case tt.now && !tt.applied && !errors.Is(err, ErrRefused):
				t.Fatalf("delete refused: %v, want ErrRefused", err)
			case !tt.now && !errors.Is(err, ErrOutcomeUnknown):
				t.Fatalf("delete: %v, want ErrOutcomeUnknown", err)
			}
			if !tt.now {
				if got := e.channel(ch.ID); got.Status != models.ChannelDeleting {
					t.Fatalf("status %s while WHAPI has not shown the delete, want deleting", got.Status)
				}
				if b := e.user(u.ID).DayBalance; b != 10 {
					t.Fatalf("days returned before WHAPI showed the delete: balance %d", b)
				}
				rep, err := e.newService().Reconcile(e.ctx)
				if err != nil || rep.Settled != 1 {
					t.Fatalf("reconcile: %+v %v", rep, err)
				}
			}
			sc, _ := e.sim.Channel(ch.RemoteID())
			got := e.channel(ch.ID)
			if sc.Deleted != tt.applied || (got.Status == models.ChannelDeleted) != tt.applied {
				t.Fatalf("WHAPI deleted %t, local status %s; want deleted %t", sc.Deleted, got.Status, tt.applied)
			}
			want := int64(10)
			if tt.applied {
				want = 30
			}
			if b := e.user(u.ID).DayBalance; b != want || int64(sc.RefundedDays) != want-10 {
				t.Fatalf("balance %d (want %d), WHAPI refunded %d", b, want, sc.RefundedDays)
			}
			e.checkBooks()
			e.noWHAPIText(nil)
		})
	}
}

// The switch to live mode after the first paid days counts only when WHAPI
// shows it: a failure under a 2xx leaves the channel in trial here (the
// next sync switches it), a switch applied behind an error body is seen by
// a re-read and not sent again.
func TestGoLiveUnderErrorShapes(t *testing.T) {
	const patch, path = http.MethodPatch, "/channels/"
	tests := []struct {
		name    string
		fault   whapisim.Fault
		applied bool
	}{
		{"2xx with WHAPI's error body", shape(whapisim.FaultErrorIn2xx, 0, whapisim.ShapeWHAPI, patch, path), false},
		{"2xx with a flat error", shape(whapisim.FaultErrorIn2xx, 0, whapisim.ShapeFlat, patch, path), false},
		{"2xx with success false", shape(whapisim.FaultErrorIn2xx, 0, whapisim.ShapeSuccessFalse, patch, path), false},
		{"a proxy's 502 page", shape(whapisim.FaultStatus, 502, whapisim.ShapeHTML, patch, path), false},
		{"applied, answered 200 with an error", shape(whapisim.FaultAppliedWithError, 0, whapisim.ShapeWHAPI, patch, path), true},
		{"applied, answered success false", shape(whapisim.FaultAppliedWithError, 0, whapisim.ShapeSuccessFalse, patch, path), true},
		{"applied, answered a proxy's 504 page", shape(whapisim.FaultAppliedWithError, 504, whapisim.ShapeHTML, patch, path), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.customer("amal", 1, 30, 30)
			ch := e.create(u.ID, "shop")
			modePath := "/channels/" + ch.RemoteID() + "/mode"
			e.sim.InjectFault(tt.fault)
			got, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 10, Comment: "first days"})
			e.noWHAPIText(err)
			if err != nil {
				t.Fatalf("the extend itself went through: %v", err)
			}
			sc, _ := e.sim.Channel(ch.RemoteID())
			wantMode := "trial"
			if tt.applied {
				wantMode = "live"
			}
			if sc.Mode != wantMode || got.Mode != wantMode {
				t.Fatalf("mode: WHAPI %s, local %s; want %s in both", sc.Mode, got.Mode, wantMode)
			}
			if n := e.sim.CountRequests(patch, modePath); n != 1 {
				t.Fatalf("%d mode switches sent, want 1", n)
			}
			// The next sync switches what is still in trial, and only that.
			synced, err := e.svc.Sync(e.ctx, ch.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := 2
			if tt.applied {
				want = 1
			}
			if n := e.sim.CountRequests(patch, modePath); n != want || synced.Mode != "live" {
				t.Fatalf("after a sync: %d mode switches sent (want %d), local mode %s", n, want, synced.Mode)
			}
			if sc, _ := e.sim.Channel(ch.RemoteID()); sc.Mode != "live" {
				t.Fatalf("WHAPI mode %s after the sync", sc.Mode)
			}
			e.checkBooks()
			e.noWHAPIText(nil)
		})
	}
}

// A create answered with a failure under a 2xx is a lost answer: looked up
// by listing before anything is created again, so WHAPI ends up with
// exactly one channel either way.
func TestCreateUnderFailureIn2xx(t *testing.T) {
	const put, path = http.MethodPut, "/channels"
	for _, tt := range []struct {
		name  string
		fault whapisim.Fault
	}{
		{"not created", shape(whapisim.FaultErrorIn2xx, 0, whapisim.ShapeFlat, put, path)},
		{"created behind the error", shape(whapisim.FaultAppliedWithError, 0, whapisim.ShapeWHAPI, put, path)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.customer("amal", 1, 30, 30)
			e.sim.InjectFault(tt.fault)
			ch, err := e.svc.CreateChannel(e.ctx, admin, CreateInput{UserID: u.ID, Name: "shop"})
			e.noWHAPIText(err)
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if ch.RemoteID() == "" || e.simLive() != 1 {
				t.Fatalf("remote id %q, WHAPI has %d channels; want one", ch.RemoteID(), e.simLive())
			}
			e.checkBooks()
		})
	}
}
