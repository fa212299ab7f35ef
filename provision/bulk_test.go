package provision

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// calls counts the simulator's requests by kind since the last reset.
type calls struct{ extend, list, get, mode, other int }

func (e *env) calls() calls {
	var c calls
	for _, r := range e.sim.Requests() {
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/extend"):
			c.extend++
		case r.Method == http.MethodGet && strings.HasPrefix(r.Path, "/channels/list"):
			c.list++
		case r.Method == http.MethodGet && strings.HasPrefix(r.Path, "/channels/") && strings.Count(r.Path, "/") == 2:
			c.get++
		case r.Method == http.MethodPatch && strings.HasSuffix(r.Path, "/mode"):
			c.mode++
		default:
			c.other++
		}
	}
	return c
}

// bulkChannels makes customers × perCustomer channels of auto-mode
// customers (created in manual mode, so nothing is allocated yet: every
// one is a trial channel waiting for its first paid days of 10).
func (e *env) bulkChannels(customers, perCustomer int) []*models.Channel {
	e.t.Helper()
	var out []*models.Channel
	for i := range customers {
		u := e.customer(fmt.Sprintf("bulk%d", i), int64(perCustomer), 10, 1000)
		for j := range perCustomer {
			out = append(out, e.create(u.ID, fmt.Sprintf("line %d", j)))
		}
		if err := e.store.SetAllocationMode(e.ctx, admin, u.ID, models.AllocationAuto); err != nil {
			e.t.Fatal(err)
		}
	}
	e.sim.ResetRequests()
	return out
}

// sameAsWHAPI asserts that each channel's activeTill, mode and stopped
// flag are WHAPI's, read back (confirmed).
func (e *env) sameAsWHAPI(chs []*models.Channel, mode string) {
	e.t.Helper()
	for _, c := range chs {
		got := e.channel(c.ID)
		sc, _ := e.sim.Channel(got.RemoteID())
		if got.ActiveTill == nil || !got.ActiveTill.Equal(sc.ActiveTill.UTC()) || !got.TillConfirmed || got.Mode != mode || sc.Mode != mode {
			e.t.Fatalf("channel %d: local till %v confirmed %v mode %q; WHAPI till %v mode %q (want mode %q)",
				c.ID, got.ActiveTill, got.TillConfirmed, got.Mode, sc.ActiveTill, sc.Mode, mode)
		}
	}
}

// A bulk top-up of N channels makes N extends and reads them back in
// ceil(N / page) list reads, not N GETs; the first paid extend of a trial
// channel adds its switch to live mode, a channel already live nothing.
func TestBulkTopUpReadsBackInPages(t *testing.T) {
	e := newEnv(t)
	e.svc.listPage = 5
	chs := e.bulkChannels(3, 4) // N = 12: pages of 5, 5 and 2

	rep, err := e.svc.AutoTopUp(e.ctx)
	if err != nil || rep.Extended != 12 || rep.Days != 120 || rep.Failed != 0 {
		t.Fatalf("first top-up: %+v %v", rep, err)
	}
	if c := e.calls(); c != (calls{extend: 12, list: 3, mode: 12}) {
		t.Fatalf("first paid top-up of 12 trial channels made %+v, want 12 extends + 3 list reads + 12 mode switches", c)
	}
	e.sameAsWHAPI(chs, "live")

	// Due again: live channels cost their extend and a share of the reads.
	e.clock.Advance(14 * 24 * time.Hour) // 6 trial + 10 paid days: 2 left
	e.sim.ResetRequests()
	rep, err = e.svc.AutoTopUp(e.ctx)
	if err != nil || rep.Extended != 12 || rep.Days != 120 {
		t.Fatalf("second top-up: %+v %v", rep, err)
	}
	if c := e.calls(); c != (calls{extend: 12, list: 3}) {
		t.Fatalf("top-up of 12 live channels made %+v, want 12 extends + 3 list reads", c)
	}
	e.sameAsWHAPI(chs, "live")
	for _, c := range chs {
		if got := e.channel(c.ID).DaysAllocated; got != 20 {
			t.Fatalf("channel %d has %d days allocated, want 20", c.ID, got)
		}
	}
	e.checkBooks()
}

// The pages are read only when they cost fewer calls than one GET per
// channel: two channels among many are read back with two GETs.
func TestBulkTopUpOfAFewAmongManyReadsThemOneByOne(t *testing.T) {
	e := newEnv(t)
	e.svc.listPage = 2
	other := e.customer("manual", 8, 10, 1000)
	for i := range 8 {
		e.create(other.ID, fmt.Sprintf("manual %d", i)) // listed, never due
	}
	chs := e.bulkChannels(1, 2) // 10 channels at WHAPI: 5 pages for 2 channels
	rep, err := e.svc.AutoTopUp(e.ctx)
	if err != nil || rep.Extended != 2 {
		t.Fatalf("top-up: %+v %v", rep, err)
	}
	// The first page shows how many follow (4, for 2 unseen channels).
	if c := e.calls(); c.extend != 2 || c.list > 1 || c.list+c.get != 3 || c.mode != 2 {
		t.Fatalf("top-up of 2 of 10 channels made %+v, want 2 extends, the first list page and 2 GETs at most", c)
	}
	e.sameAsWHAPI(chs, "live")
	e.checkBooks()
}

// dropFromList is a front of the simulator that leaves the channel whose
// WHAPI id *id holds out of every GET /channels/list answer (as a page
// shifted by a channel created or deleted while the pages were read would).
func dropFromList(id *atomic.Value) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			drop, _ := id.Load().(string)
			if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/channels/list") || drop == "" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var page map[string]any
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &page) != nil {
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
			var kept []any
			for _, c := range page["channels"].([]any) {
				if c.(map[string]any)["id"] != drop {
					kept = append(kept, c)
				}
			}
			page["channels"] = kept
			var buf bytes.Buffer
			_ = json.NewEncoder(&buf).Encode(page)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(buf.Bytes())
		})
	}
}

// A channel the list does not show is read back on its own, with GET.
func TestBulkTopUpReadsAChannelMissingFromTheListWithGET(t *testing.T) {
	var drop atomic.Value
	e := newEnv(t, func(o *envOpts) { o.front = dropFromList(&drop) })
	e.svc.listPage = 5
	chs := e.bulkChannels(3, 4)
	missing := chs[10] // on the last page (WHAPI lists channels as created)
	drop.Store(missing.RemoteID())
	rep, err := e.svc.AutoTopUp(e.ctx)
	if err != nil || rep.Extended != 12 || rep.Failed != 0 {
		t.Fatalf("top-up: %+v %v", rep, err)
	}
	if c := e.calls(); c != (calls{extend: 12, list: 3, get: 1, mode: 12}) {
		t.Fatalf("calls %+v, want 12 extends, 3 list reads, 1 GET for the channel missing from them, 12 mode switches", c)
	}
	if n := e.sim.CountRequests(http.MethodGet, "/channels/"+missing.RemoteID()); n != 1 {
		t.Fatalf("the channel missing from the list was read %d times, want once", n)
	}
	e.sameAsWHAPI(chs, "live")
	e.checkBooks()
}

// Unanswered extends are booked only when a reading shows them: from the
// list when it can be read (no GET), and left open for Reconcile when
// neither the list nor the channel can be read. The books stay exact.
func TestBulkTopUpBooksAnUnansweredExtendOnlyWhenAReadingShowsIt(t *testing.T) {
	for _, tt := range []struct {
		name     string
		readable bool // the list and the channels can be read after the extends
	}{
		{"list read", true},
		{"list and channels unreadable", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.svc.listPage = 5
			chs := e.bulkChannels(1, 4)
			lost, refused := chs[0], chs[1] // applied with the answer lost; not applied (500)
			e.sim.InjectFault(whapisim.Fault{Method: http.MethodPost, Path: "/channels/" + lost.RemoteID() + "/extend", Kind: whapisim.FaultLostAfterApply})
			e.sim.InjectFault(whapisim.Fault{Method: http.MethodPost, Path: "/channels/" + refused.RemoteID() + "/extend", Kind: whapisim.FaultStatus, Status: 500})
			if !tt.readable {
				e.sim.InjectFault(whapisim.Fault{Method: http.MethodGet, Path: "/channels/", Kind: whapisim.FaultStatus, Status: 500, Times: 1 << 20})
			}
			rep, err := e.svc.AutoTopUp(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			u := e.user(lost.UserID)
			pb, _ := e.store.PartnerBalance(e.ctx)
			open, _ := e.store.OpenOperations(e.ctx, e.clock.Now().Add(time.Hour))
			if tt.readable {
				// The list shows the lost answer's extension (booked) and
				// not the refused one's (left open, days reserved).
				if rep.Extended != 3 || rep.Failed != 1 || pb.Extended != 30 || len(open) != 1 || open[0].ChannelID != refused.ID {
					t.Fatalf("report %+v, partner extended %d, open %+v", rep, pb.Extended, open)
				}
				if c := e.calls(); c.get != 0 || c.list != 1 {
					t.Fatalf("calls %+v: the unanswered extends are judged from the list, without GET", c)
				}
				e.sameAsWHAPI([]*models.Channel{lost, chs[2], chs[3]}, "live")
			} else {
				// Nothing shows the unanswered extends: neither is booked.
				if rep.Extended != 2 || rep.Failed != 2 || pb.Extended != 20 || len(open) != 2 {
					t.Fatalf("report %+v, partner extended %d, open %+v", rep, pb.Extended, open)
				}
			}
			if u.DayBalance != 1000-40 {
				t.Fatalf("balance %d: the unsettled extends' days stay reserved", u.DayBalance)
			}
			e.sim.ClearFaults()
			if rep, err := e.newService().Reconcile(e.ctx); err != nil || rep.Settled != len(open) {
				t.Fatalf("reconcile: %+v %v", rep, err)
			}
			if u := e.user(lost.UserID); u.DayBalance != 1000-30 {
				t.Fatalf("balance %d after reconcile: the refused extend's days are given back", u.DayBalance)
			}
			e.sameAsWHAPI([]*models.Channel{lost, chs[2], chs[3]}, "live")
			e.checkBooks()
		})
	}
}

// A channel changed between its extend and the list read's answer (here:
// an admin extends it again while the page is on its way) is read afresh:
// the page's older reading never overwrites the newer activeTill.
func TestBulkTopUpRereadsAChannelChangedAfterTheListWasRead(t *testing.T) {
	var meddle atomic.Value // func(), run once after the first list page is read
	front := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/channels/list") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			if f, _ := meddle.Swap(func() {}).(func()); f != nil {
				f()
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}
	e := newEnv(t, func(o *envOpts) {
		o.front = front
		o.sim.ExtendCoolDown = -1 // the admin's second extend is not refused
	})
	e.svc.listPage = 5
	chs := e.bulkChannels(1, 3)
	changed := chs[1]
	meddle.Store(func() {
		if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: changed.ID, Days: 7, Comment: "admin"}); err != nil {
			t.Errorf("admin extend: %v", err)
		}
	})
	rep, err := e.svc.AutoTopUp(e.ctx)
	if err != nil || rep.Extended != 3 {
		t.Fatalf("top-up: %+v %v", rep, err)
	}
	if sc, _ := e.sim.Channel(changed.RemoteID()); sc.ExtendedDays != 17 {
		t.Fatalf("WHAPI extended the channel by %d days, want 10 + 7", sc.ExtendedDays)
	}
	e.sameAsWHAPI(chs, "live")
	e.checkBooks()
}
