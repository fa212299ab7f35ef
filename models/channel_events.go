package models

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"
)

// EventSource says what told whapidesk of a change of a channel's state.
type EventSource string

// Event sources (channel_events.source, migration 0024).
const (
	SourceWebhook  EventSource = "whapi_webhook" // WHAPI's webhook
	SourcePoll     EventSource = "poll"          // a poll of the channel's gate (the connect page, Reconcile)
	SourceSync     EventSource = "sync"          // a read of WHAPI's channel (sync, create, gone upstream)
	SourceAdmin    EventSource = "admin"         // an admin's action
	SourceCustomer EventSource = "customer"      // the channel's owner's action
	SourceJob      EventSource = "job"           // a background job (top-up, Reconcile settling an operation)
)

// ChannelState is what the history records of a channel: its status in
// our lifecycle, whether a phone is linked, and the gate's last status
// text ("" when none is known).
type ChannelState struct {
	Status ChannelStatus
	Linked bool
	Gate   string
}

// ChannelEvent is one observed change of a channel's state.
type ChannelEvent struct {
	ID        int64         `gorm:"primaryKey"`
	ChannelID int64         `gorm:"column:channel_id"`
	At        time.Time     `gorm:"column:at"`
	Source    EventSource   `gorm:"column:source"`
	OldStatus ChannelStatus `gorm:"column:old_status"`
	NewStatus ChannelStatus `gorm:"column:new_status"`
	OldLinked bool          `gorm:"column:old_linked"`
	NewLinked bool          `gorm:"column:new_linked"`
	OldGate   string        `gorm:"column:old_gate"`
	NewGate   string        `gorm:"column:new_gate"`
}

// TableName implements gorm's Tabler.
func (ChannelEvent) TableName() string { return "channel_events" }

// LinkChanged reports whether the event linked or unlinked a phone.
func (e ChannelEvent) LinkChanged() bool { return e.OldLinked != e.NewLinked }

// ChannelFollowUp is work done in the transaction that changed a channel,
// once its event is written: a mail, a webhook delivery. Its error rolls
// the change back.
// ch is the channel as the change left it.
type ChannelFollowUp func(ctx context.Context, tx *sql.Tx, ev ChannelEvent, ch *Channel) error

// SetChannelFollowUp sets the one follow-up of every channel event (nil:
// none). It is set once, at wiring, before the store is used.
//
// This is the point where webhooks out hook in: provision sets it, and
// channel.linked / channel.unlinked deliveries (ev.LinkChanged(), by
// ev.NewLinked) are queued here, in the same transaction as the change.
func (s *Store) SetChannelFollowUp(f ChannelFollowUp) { s.followUp = f }

// channelStateOf reads a channel's state inside tx.
func channelStateOf(tx *gorm.DB, id int64) (ChannelState, error) {
	var row struct {
		Status ChannelStatus
		Linked bool
		Gate   string
	}
	err := tx.Raw(`SELECT c.status AS status, c.linked AS linked, COALESCE(g.gate_status, '') AS gate
		FROM channels c LEFT JOIN channel_gate g ON g.channel_id = c.id WHERE c.id = ?`, id).Scan(&row).Error
	return ChannelState(row), err
}

// noteChannel records, in tx, the change of channel id's state since
// before (read with channelStateOf earlier in the same transaction), if
// there is one, and runs the follow-up. Every write of a channel's status,
// link or gate status calls it: the one place the history is written.
func (s *Store) noteChannel(tx *gorm.DB, id int64, before ChannelState, src EventSource) error {
	after, err := channelStateOf(tx, id)
	if err != nil {
		return err
	}
	if after == before {
		return nil
	}
	ev := ChannelEvent{ChannelID: id, At: s.now(), Source: src,
		OldStatus: before.Status, NewStatus: after.Status, OldLinked: before.Linked, NewLinked: after.Linked,
		OldGate: before.Gate, NewGate: after.Gate}
	if err := tx.Create(&ev).Error; err != nil {
		return err
	}
	if ev.LinkChanged() {
		// When the phone was unlinked, on the channel (migration 0025):
		// what DisconnectedChannels finds through its index.
		var unlinkedAt *time.Time
		if !ev.NewLinked {
			unlinkedAt = &ev.At
		}
		if err := tx.Exec("UPDATE channels SET unlinked_at = ? WHERE id = ?", unlinkedAt, id).Error; err != nil {
			return err
		}
	}
	if s.followUp == nil {
		return nil
	}
	var ch Channel
	if err := tx.First(&ch, id).Error; err != nil {
		return notFound(err)
	}
	sqlTx, err := sqlTxOf(tx)
	if err != nil {
		return err
	}
	return s.followUp(tx.Statement.Context, sqlTx, ev, &ch)
}

// sourceOfActor is the source of a change an actor made to a channel of
// owner: a job for the system, the customer for the owner, else an admin.
func sourceOfActor(a Actor, owner int64) EventSource {
	switch {
	case a.UserID == nil && (a.Email == "" || a.Email == SystemActor.Email):
		return SourceJob
	case a.UserID != nil && *a.UserID == owner:
		return SourceCustomer
	}
	return SourceAdmin
}

// sourceOfEmail is sourceOfActor for an operation's actor, which is
// journalled by e-mail.
func sourceOfEmail(tx *gorm.DB, email string, owner int64) (EventSource, error) {
	if email == "" || email == SystemActor.Email {
		return SourceJob, nil
	}
	var ids []int64
	if err := tx.Model(&User{}).Where("email = ?", email).Limit(1).Pluck("id", &ids).Error; err != nil {
		return "", err
	}
	if len(ids) == 1 && ids[0] == owner {
		return SourceCustomer, nil
	}
	return SourceAdmin, nil
}

// noteOperation is noteChannel for the settling of a journalled
// operation: its source is the operation's actor.
func (s *Store) noteOperation(tx *gorm.DB, op *Operation, before ChannelState) error {
	src, err := sourceOfEmail(tx, op.Actor, op.UserID)
	if err != nil {
		return err
	}
	return s.noteChannel(tx, op.ChannelID, before, src)
}

// ChannelEvents returns a channel's events, newest first, at most limit.
func (s *Store) ChannelEvents(ctx context.Context, channelID int64, limit int) ([]ChannelEvent, error) {
	var out []ChannelEvent
	err := s.db.WithContext(ctx).Where("channel_id = ?", channelID).Order("at DESC, id DESC").Limit(limit).Find(&out).Error
	return out, err
}

// LinkChange is a channel's last event that linked or unlinked a phone:
// when, and which way.
type LinkChange struct {
	At     time.Time
	Linked bool
}

// LastLinkChanges returns, per channel of ids, its last event that linked
// or unlinked a phone (a channel never linked nor unlinked since the
// history began has none). A page says "connected since" or "disconnected
// since" from the event alone, which way and when read together: the
// channel's row, read in another statement, may be older or newer than
// the event a moment later (a page said "Disconnected" of a phone just
// linked).
func (s *Store) LastLinkChanges(ctx context.Context, ids []int64) (map[int64]LinkChange, error) {
	out := make(map[int64]LinkChange, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ChannelID int64
		At        time.Time
		NewLinked bool
	}
	err := s.db.WithContext(ctx).Raw(`SELECT e.channel_id AS channel_id, e.at AS at, e.new_linked AS new_linked FROM channel_events e
		WHERE e.id IN (SELECT MAX(x.id) FROM channel_events x WHERE x.channel_id IN ? AND x.old_linked <> x.new_linked GROUP BY x.channel_id)`, ids).
		Scan(&rows).Error
	for _, r := range rows {
		out[r.ChannelID] = LinkChange{At: r.At.UTC(), Linked: r.NewLinked}
	}
	return out, err
}

// LinkedSpan is a stretch of time and whether a phone was linked in it.
type LinkedSpan struct {
	From, To time.Time
	Linked   bool
}

// LinkedTime returns how long channel ch was linked between from and to,
// from its history: the state at from is the last event's before it (or,
// without one, the first event's old state, or, without any, the
// channel's state now). Time before the channel was created counts as not
// linked (the caller picks the window).
func (s *Store) LinkedTime(ctx context.Context, ch *Channel, from, to time.Time) (time.Duration, error) {
	var before []ChannelEvent
	if err := s.db.WithContext(ctx).Where("channel_id = ? AND at < ?", ch.ID, from.UTC()).
		Order("at DESC, id DESC").Limit(1).Find(&before).Error; err != nil {
		return 0, err
	}
	var in []ChannelEvent
	if err := s.db.WithContext(ctx).Where("channel_id = ? AND at >= ? AND at < ?", ch.ID, from.UTC(), to.UTC()).
		Order("at, id").Find(&in).Error; err != nil {
		return 0, err
	}
	linked := ch.Linked
	switch {
	case len(before) == 1:
		linked = before[0].NewLinked
	case len(in) > 0:
		linked = in[0].OldLinked
	}
	var total time.Duration
	at := from
	for _, e := range in {
		if linked {
			total += e.At.Sub(at)
		}
		at, linked = e.At, e.NewLinked
	}
	if linked {
		total += to.Sub(at)
	}
	return total, nil
}

// PruneChannelEvents deletes the events older than cut, except each
// channel's last one before it: the state its uptime window starts in.
func (s *Store) PruneChannelEvents(ctx context.Context, cut time.Time) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM channel_events WHERE at < ? AND id NOT IN (
			SELECT k.id FROM (SELECT MAX(x.id) AS id FROM channel_events x WHERE x.at < ? GROUP BY x.channel_id) k)`, cut.UTC(), cut.UTC())
		n = res.RowsAffected
		return res.Error
	})
	return n, err
}

// ChannelNotice is a channel on a list that needs someone's attention,
// with its owner and since when.
type ChannelNotice struct {
	ChannelID int64     `gorm:"column:channel_id"`
	UserID    int64     `gorm:"column:user_id"`
	Name      string    `gorm:"column:name"`
	Email     string    `gorm:"column:email"`
	UserName  string    `gorm:"column:user_name"`
	Since     time.Time `gorm:"column:since"`
	// Gate is the gate's status text (StuckChannels only).
	Gate string `gorm:"column:gate"`
}

// DisconnectedChannels returns the channels in the states live (userID 0: everyone's)
// whose phone was unlinked at or before `before` and is not linked again,
// with the time of the unlink, oldest first. A channel WHAPI holds stopped
// is left out: its line is off on purpose.
func (s *Store) DisconnectedChannels(ctx context.Context, userID int64, live []ChannelStatus, before time.Time) ([]ChannelNotice, error) {
	// c.unlinked_at is the time of the last unlink in the history
	// (noteChannel keeps it), read through its partial index.
	q := s.db.WithContext(ctx).Table("channels c").
		Select("c.id AS channel_id, c.user_id AS user_id, c.name AS name, u.email AS email, u.name AS user_name, c.unlinked_at AS since").
		Joins("JOIN users u ON u.id = c.user_id").
		// Through the subquery, so that the planner starts from the few
		// lines down (the partial index) and not from every channel of a
		// live status (SQLite without statistics picks channels_status).
		Where("c.id IN (SELECT d.id FROM channels d WHERE d.unlinked_at IS NOT NULL AND d.unlinked_at <= ?)", before.UTC()).
		Where("NOT c.linked AND NOT c.stopped AND c.status IN ? AND c.whapi_id IS NOT NULL", live)
	if userID != 0 {
		q = q.Where("c.user_id = ?", userID)
	}
	var out []ChannelNotice
	err := q.Order("c.unlinked_at, c.id").Scan(&out).Error
	return utcNotices(out), err
}

// StuckChannels returns the channels in the states live whose gate has been in one of
// the statuses gates since at or before `before`: since the event that
// put it there (or, before any, since the channel was created).
func (s *Store) StuckChannels(ctx context.Context, gates []string, live []ChannelStatus, before time.Time) ([]ChannelNotice, error) {
	var rows []struct {
		ChannelNotice
		EventAt   *time.Time `gorm:"column:event_at"`
		CreatedAt time.Time  `gorm:"column:created_at"`
	}
	err := s.db.WithContext(ctx).Table("channels c").
		Select("c.id AS channel_id, c.user_id AS user_id, c.name AS name, u.email AS email, u.name AS user_name, g.gate_status AS gate, e.at AS event_at, c.created_at AS created_at").
		Joins("JOIN users u ON u.id = c.user_id").
		Joins("JOIN channel_gate g ON g.channel_id = c.id").
		Joins(`LEFT JOIN channel_events e ON e.id = (SELECT MAX(x.id) FROM channel_events x WHERE x.channel_id = c.id AND x.old_gate <> x.new_gate)`).
		Where("g.gate_status IN ? AND c.status IN ? AND NOT c.stopped", gates, live).
		Order("c.id").Scan(&rows).Error
	var out []ChannelNotice
	for _, r := range rows {
		n := r.ChannelNotice
		n.Since = r.CreatedAt
		if r.EventAt != nil {
			n.Since = *r.EventAt
		}
		if !n.Since.After(before) {
			out = append(out, n)
		}
	}
	return utcNotices(out), err
}

// PendingChannels returns the channels still waiting for WHAPI's create
// (status st) since at or before `before`.
func (s *Store) PendingChannels(ctx context.Context, st ChannelStatus, before time.Time) ([]ChannelNotice, error) {
	var out []ChannelNotice
	err := s.db.WithContext(ctx).Table("channels c").
		Select("c.id AS channel_id, c.user_id AS user_id, c.name AS name, u.email AS email, u.name AS user_name, c.created_at AS since").
		Joins("JOIN users u ON u.id = c.user_id").
		Where("c.status = ? AND c.created_at <= ?", st, before.UTC()).Order("c.id").Scan(&out).Error
	return utcNotices(out), err
}

// ChannelsEnding returns the channels in the states live with paid days whose paid time
// ends after now and by until, and that the automatic top-up does not
// cover (topUpCovers: a manual-mode customer, a disabled one, one without
// an active plan or without days in the balance), soonest first; Since is
// the end of the paid time.
func (s *Store) ChannelsEnding(ctx context.Context, live []ChannelStatus, now, until time.Time) ([]ChannelNotice, error) {
	var out []ChannelNotice
	err := s.db.WithContext(ctx).Table("channels c").
		Select("c.id AS channel_id, c.user_id AS user_id, c.name AS name, u.email AS email, u.name AS user_name, c.active_till AS since").
		Joins("JOIN users u ON u.id = c.user_id").
		Where("c.status IN ? AND c.whapi_id IS NOT NULL AND c.days_allocated > 0", live).
		Where("c.active_till > ? AND c.active_till <= ?", now.UTC(), until.UTC()).
		Where("NOT (" + topUpCovers + ")").
		Order("c.active_till, c.id").Scan(&out).Error
	return utcNotices(out), err
}

// MailSentSince reports whether a mail of kind whose unique key starts
// with kind + ":" + prefix was queued at or after since.
func (s *Store) MailSentSince(ctx context.Context, kind, prefix string, since time.Time) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Mail{}).
		Where("kind = ? AND unique_key LIKE ? AND created_at >= ?", kind, kind+":"+prefix+"%", since.UTC()).Count(&n).Error
	return n > 0, err
}

func utcNotices(ns []ChannelNotice) []ChannelNotice {
	for i := range ns {
		ns[i].Since = ns[i].Since.UTC()
	}
	return ns
}
