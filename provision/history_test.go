package provision

import (
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// history is a channel's events, oldest first.
func (e *env) history(id int64) []models.ChannelEvent {
	e.t.Helper()
	evs, err := e.store.ChannelEvents(e.ctx, id, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// linkEvents are the events that linked (+) or unlinked (-) a phone, by
// source.
func linkEvents(evs []models.ChannelEvent) []string {
	var out []string
	for _, ev := range evs {
		if ev.LinkChanged() {
			sign := "-"
			if ev.NewLinked {
				sign = "+"
			}
			out = append(out, sign+string(ev.Source))
		}
	}
	return out
}

// The history records each change with what told it: WHAPI's webhook, a
// poll of the gate, the sync after a create, an admin's delete; and the
// channel's uptime is the share of the window its phone was linked.
func TestHistoryRecordsSourcesAndUptime(t *testing.T) {
	e := hookEnv(t)
	e.receiver()
	u := e.customer("hana", 2, 30, 60)
	adm, err := e.store.CreateUser(e.ctx, models.NewUser{Email: "boss@example.com", Password: "long enough pw", Role: models.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	ch := e.create(u.ID, "shop")
	created := e.history(ch.ID)
	if len(created) == 0 || created[0].Source != models.SourceSync || created[0].OldStatus != models.ChannelPending ||
		created[0].NewStatus != models.ChannelTrial {
		t.Fatalf("the create: %+v", created)
	}

	// Linked: WHAPI's webhook tells it.
	if err := e.sim.LinkChannel(ch.RemoteID(), "97313300383"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the webhook's link", func() bool { return e.channel(ch.ID).Linked })
	// Every event of the link received before the clock moves on: one still
	// in flight (the AUTH status after users post) would be received a day
	// later on the fake clock, and its status held as fresh then.
	e.hooksDelivered()
	e.clock.Advance(24 * time.Hour)

	// Unlinked while the webhook's events are lost: a poll tells it.
	e.sim.InjectHookFault(whapisim.HookFault{Drop: true, Times: 10})
	if err := e.sim.UnlinkChannel(ch.RemoteID()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if st, err := e.svc.ConnectState(e.ctx, ch.ID); err != nil || st.Phase == PhaseConnected {
		t.Fatalf("poll after the unlink: %+v %v", st, err)
	}
	got := strings.Join(linkEvents(e.history(ch.ID)), " ")
	if got != "+whapi_webhook -poll" {
		t.Fatalf("link events: %s", got)
	}

	// Uptime: linked from the create until the poll saw the unlink (24 h
	// 1 min), then down: 36 h in all.
	e.clock.Advance(12*time.Hour - time.Minute)
	up, err := e.svc.Uptime(e.ctx, e.channel(ch.ID))
	if err != nil {
		t.Fatal(err)
	}
	want := 100 * float64(24*time.Hour+time.Minute) / float64(36*time.Hour)
	if diff := up.Week - want; diff > 0.01 || diff < -0.01 || up.Month != up.Week {
		t.Fatalf("uptime %+v, want %.2f over both windows", up, want)
	}
	ls, err := e.svc.LinkSinces(e.ctx, []models.Channel{*e.channel(ch.ID)})
	if err != nil || ls[ch.ID].Linked || !ls[ch.ID].Since.Equal(e.clock.Now().Add(-12*time.Hour+time.Minute)) {
		t.Fatalf("disconnected since: %+v %v", ls, err)
	}

	// An admin deletes it: the admin's event.
	if _, err := e.svc.Delete(e.ctx, models.Actor{UserID: &adm.ID, Email: adm.Email}, ch.ID); err != nil {
		t.Fatal(err)
	}
	h := e.history(ch.ID)
	var del []string
	for _, ev := range h {
		if ev.NewStatus == models.ChannelDeleting || ev.NewStatus == models.ChannelDeleted {
			del = append(del, string(ev.Source)+":"+string(ev.NewStatus))
		}
	}
	if strings.Join(del, " ") != "admin:deleting admin:deleted" {
		t.Fatalf("delete events: %v", del)
	}
}

// The prune keeps EventsKeepDays of history (90 by default, here 20),
// and the state a channel was in before them.
func TestPruneKeepsTheSettingsDays(t *testing.T) {
	e := newEnv(t)
	ch := e.linked("prune")
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 60, Comment: "paid"}); err != nil {
		t.Fatal(err)
	}
	if e.svc.EventsKeepDays() != 90 {
		t.Fatalf("default keep days %d", e.svc.EventsKeepDays())
	}
	e.svc.SetEventsKeepDays(20)
	n0 := len(e.history(ch.ID))
	e.clock.Advance(19 * 24 * time.Hour)
	if n, err := e.svc.PruneEvents(e.ctx); err != nil || n != 0 {
		t.Fatalf("pruned %d at 19 days: %v", n, err)
	}
	if err := e.sim.UnlinkChannel(ch.RemoteID()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.svc.ConnectState(e.ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * 24 * time.Hour) // the first events are 21 days old
	n, err := e.svc.PruneEvents(e.ctx)
	if err != nil || n != int64(n0-1) {
		t.Fatalf("pruned %d of %d old events, want all but the last: %v", n, n0, err)
	}
	h := e.history(ch.ID)
	if len(h) != 2 || !h[0].NewLinked || h[1].NewLinked {
		t.Fatalf("left: %+v", h)
	}
	// The week's uptime still knows it was linked when the week began.
	up, err := e.svc.Uptime(e.ctx, e.channel(ch.ID))
	if err != nil || up.Week < 71 || up.Week > 72 { // 5 days of 7
		t.Fatalf("uptime after the prune: %+v %v", up, err)
	}
}
