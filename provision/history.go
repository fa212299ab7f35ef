package provision

import (
	"context"
	"sync"
	"time"

	"whapidesk/models"
)

// A channel's status history (issue 16, point 1): models records every
// observed change of a channel's status, link or gate status in the
// transaction of the change (models.ChannelEvent, noteChannel). From it:
// since when a channel is connected or disconnected, its uptime over 7
// and 30 days, the Attention list (attention.go), the disconnect alert
// and the expiry reminders (alerts.go). Events are kept EventsKeepDays
// days, pruned by a periodic job (PruneEvents).

// Defaults of the history's settings (WHAPIDESK_DISCONNECT_ALERT_AFTER,
// WHAPIDESK_EVENTS_KEEP_DAYS).
const (
	DefaultDisconnectAlertAfter = 5 * time.Minute
	DefaultEventsKeepDays       = 90
)

// historySettings are the history's settings (zero: the defaults).
type historySettings struct {
	alertAfter time.Duration
	keepDays   int
	// noLinkOnce logs once that alerts go without a link.
	noLinkOnce sync.Once
}

// SetDisconnectAlertAfter sets how long a linked channel stays
// disconnected before it is on the Attention list, its owner is mailed
// and the dashboard says so (0: DefaultDisconnectAlertAfter).
func (s *Service) SetDisconnectAlertAfter(d time.Duration) { s.history.alertAfter = d }

// SetEventsKeepDays sets how many days the status history is kept (0:
// DefaultEventsKeepDays).
func (s *Service) SetEventsKeepDays(n int) { s.history.keepDays = n }

// DisconnectAlertAfter is the alert's delay.
func (s *Service) DisconnectAlertAfter() time.Duration {
	if s.history.alertAfter <= 0 {
		return DefaultDisconnectAlertAfter
	}
	return s.history.alertAfter
}

// EventsKeepDays is how many days the history is kept.
func (s *Service) EventsKeepDays() int {
	if s.history.keepDays <= 0 {
		return DefaultEventsKeepDays
	}
	return s.history.keepDays
}

// liveStates are the states of a channel that runs and whose phone may
// be linked: where a disconnect, a stuck line or an ending paid time
// matters.
func liveStates() []models.ChannelStatus {
	return statesWhere(func(r stateRule) bool { return r.phase == PhaseWaiting })
}

// LinkSince says since when a channel's phone is linked or not.
type LinkSince struct {
	Linked bool
	// Since is when the link last changed; zero when the history does
	// not know (never linked, or changed before the history began).
	Since time.Time
}

// LinkSinces returns, for each of chs, whether its phone is linked and
// since when.
func (s *Service) LinkSinces(ctx context.Context, chs []models.Channel) (map[int64]LinkSince, error) {
	ids := make([]int64, len(chs))
	for i := range chs {
		ids[i] = chs[i].ID
	}
	last, err := s.store.LastLinkChanges(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]LinkSince, len(chs))
	for _, ch := range chs {
		// Which way and since when from one event, never the row's link
		// with the event's time (see models.LastLinkChanges).
		ls := LinkSince{Linked: ch.Linked}
		if lc, ok := last[ch.ID]; ok {
			ls = LinkSince{Linked: lc.Linked, Since: lc.At}
		}
		out[ch.ID] = ls
	}
	return out, nil
}

// Uptime is the share of a window a channel's phone was linked, in
// percent, over the last 7 and 30 days (or since the channel was made,
// when that is later).
type Uptime struct {
	Week, Month float64
}

// Uptime computes ch's uptime from its history at the service's now.
func (s *Service) Uptime(ctx context.Context, ch *models.Channel) (Uptime, error) {
	now := s.now()
	share := func(days int) (float64, error) {
		from := now.Add(-time.Duration(days) * day)
		if ch.CreatedAt.After(from) {
			from = ch.CreatedAt
		}
		if !now.After(from) {
			return 0, nil
		}
		linked, err := s.store.LinkedTime(ctx, ch, from, now)
		if err != nil {
			return 0, err
		}
		return 100 * float64(linked) / float64(now.Sub(from)), nil
	}
	var u Uptime
	var err error
	if u.Week, err = share(7); err != nil {
		return u, err
	}
	u.Month, err = share(30)
	return u, err
}

// PruneEvents deletes the history older than EventsKeepDays, keeping each
// channel's last event before the cut (the state its oldest window starts
// in): what the periodic prune job runs.
func (s *Service) PruneEvents(ctx context.Context) (int64, error) {
	return s.store.PruneChannelEvents(ctx, s.now().Add(-time.Duration(s.EventsKeepDays())*day))
}

// Disconnected returns user's channels (0: everyone's) disconnected
// longer than the alert's delay: the dashboard's banner and the
// Attention list.
func (s *Service) Disconnected(ctx context.Context, userID int64) ([]models.ChannelNotice, error) {
	return s.store.DisconnectedChannels(ctx, userID, liveStates(), s.now().Add(-s.DisconnectAlertAfter()))
}
