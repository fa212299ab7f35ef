package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"whapidesk/internal/webhookout"
	"whapidesk/models"
	"whapidesk/whapi"
)

// Start, stop and restart: what an admin does to a channel's line at WHAPI
// (POST /channels/{id}/start, /stop, /restart).
//
// None of them moves a day or a plan slot — a stopped channel keeps its
// slot, and its days run on at WHAPI — so none is journalled as an
// operation. The stop and the start reserve by setting the channel's
// stopped flag before they call (models.SetStopped, with its audit event:
// what whapidesk means the line to do), and settle from WHAPI's answer or,
// when the answer says nothing (a lost answer, a 5xx such as the spec's
// 503 "not ready", a failure under a 2xx), from reading the channel back.
// When even that fails, the flag keeps what was asked and Reconcile's next
// sync settles it from WHAPI (record): a channel meant to run that WHAPI
// holds stopped is started once; a channel meant to be stopped that WHAPI
// shows running is recorded running (whapidesk never stops a line by
// itself). A restart changes nothing here; an unanswered one is judged
// from the gate's health.

// Stop stops a running channel's line at WHAPI: its owner's messages stop
// flowing until an admin starts it again. It keeps its plan slot and its
// linked phone, and its days run on.
func (s *Service) Stop(ctx context.Context, actor models.Actor, channelID int64) (*models.Channel, error) {
	return s.setLine(ctx, actor, channelID, true)
}

// Start starts a stopped channel's line at WHAPI again.
func (s *Service) Start(ctx context.Context, actor models.Actor, channelID int64) (*models.Channel, error) {
	return s.setLine(ctx, actor, channelID, false)
}

// setLine stops (stopped true) or starts a channel's line: permit,
// reserve (the flag), call, settle.
func (s *Service) setLine(ctx context.Context, actor models.Actor, channelID int64, stopped bool) (*models.Channel, error) {
	a, verb, call := ActStart, "start", s.whapi.StartChannel
	if stopped {
		a, verb, call = ActStop, "stop", s.whapi.StopChannel
	}
	unlock := s.locks.lock(channelID)
	defer unlock()
	ch, err := s.permitted(ctx, channelID, a)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetStopped(ctx, actor, ch.ID, stopped, "channel."+verb, verb+" requested"); err != nil {
		return nil, err
	}
	ctx, cancel := s.detach(ctx)
	defer cancel()
	defer s.forget(ctx, ch.ID)
	answer := call(ctx, ch.RemoteID())
	remote, gerr := s.whapi.GetChannel(ctx, ch.RemoteID())
	if errors.Is(gerr, whapi.ErrNotFound) {
		if err := s.store.MarkChannelGone(ctx, ch.ID, UnusedDays(ch, s.now()), s.channelEvent(ctx, webhookout.ChannelDeleted)); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: the channel no longer exists upstream", ErrRefused)
	}
	done := answer == nil || gerr == nil && remote.Stopped == stopped
	switch {
	case done && gerr != nil:
		s.log.WarnContext(ctx, "read-back after a "+verb+" failed; Reconcile will sync", "channel", ch.ID, "err", gerr)
		return s.store.ChannelByID(ctx, ch.ID)
	case done:
		// WHAPI's answer counts over a reading taken a moment after it,
		// which may not show the change yet.
		r := *remote
		r.Stopped = stopped
		if ch, err = s.store.ChannelByID(ctx, ch.ID); err != nil {
			return nil, err
		}
		if err := s.record(ctx, ch, &r); err != nil {
			return nil, err
		}
		return s.store.ChannelByID(ctx, ch.ID)
	case gerr != nil && whapi.OutcomeUnknown(answer):
		// Neither the answer nor a reading says what WHAPI did: the flag
		// keeps what was asked until the next sync settles it.
		s.log.WarnContext(ctx, "channel "+verb+": outcome unknown", "channel", ch.ID, "err", answer, "read", gerr)
		return nil, ErrOutcomeUnknown
	}
	// Not done: WHAPI refused, or shows the line as it was.
	s.log.WarnContext(ctx, "channel "+verb+" not applied", "channel", ch.ID, "err", answer)
	if err := s.store.SetStopped(ctx, actor, ch.ID, !stopped, "channel."+verb, "not done upstream"); err != nil && !errors.Is(err, models.ErrChannelBusy) {
		return nil, err
	}
	if gerr == nil {
		if err := s.store.SyncChannel(ctx, ch.ID, remoteOf(remote)); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: the channel was not %s", ErrRefused, map[bool]string{true: "stopped", false: "started"}[stopped])
}

// meantToRun reports whether whapidesk means a channel's line to run: a
// running state, not stopped here.
func meantToRun(ch *models.Channel) bool {
	return ruleOf(ch.Status).whenStopped != nil && !ch.Stopped
}

// startMeant starts a channel that whapidesk means to run but WHAPI holds
// stopped with days ahead (rc), and returns what to record of it: what
// WHAPI shows then, running when WHAPI said it started it. Only WHAPI's
// "no" (a 4xx) makes whapidesk give up: the channel is then recorded
// stopped, for an admin to see and start. After an answer that says
// nothing (none, a 5xx such as 503 "not ready", a failure under a 2xx) it
// stays meant to run: the next sync tries again, and meanwhile its connect
// page wakes a line WHAPI shows asleep.
func (s *Service) startMeant(ctx context.Context, ch *models.Channel, rc models.RemoteChannel) models.RemoteChannel {
	err := s.whapi.StartChannel(ctx, ch.RemoteID())
	if again, gerr := s.whapi.GetChannel(ctx, ch.RemoteID()); gerr == nil {
		rc = remoteOf(again)
	}
	if err == nil || whapi.OutcomeUnknown(err) {
		rc.Stopped = false
	}
	s.forget(ctx, ch.ID)
	detail := "started: WHAPI held it stopped"
	switch {
	case rc.Stopped:
		detail = "WHAPI holds it stopped and refused to start it: start it by hand"
		s.log.WarnContext(ctx, "a channel meant to run stays stopped upstream", "channel", ch.ID, "err", err)
	case err != nil:
		detail = "WHAPI holds it stopped; a start was sent but not confirmed, the next sync tries again"
		s.log.WarnContext(ctx, "starting a channel meant to run: outcome unknown", "channel", ch.ID, "err", err)
	}
	if aerr := s.store.RecordAudit(ctx, models.SystemActor, "channel.start", auditTarget(ch), detail); aerr != nil {
		s.log.WarnContext(ctx, "audit of a start failed", "channel", ch.ID, "err", aerr)
	}
	return rc
}

// Restart restarts a running channel's line at WHAPI: it reconnects to
// WhatsApp within seconds, its phone stays linked. An unanswered restart
// (a lost answer, a 5xx such as the spec's 503 "not ready") counts as done
// when the gate shows the line starting or started anew since the call;
// otherwise it is ErrRefused, or ErrUnconfirmed when the gate cannot be
// asked either.
func (s *Service) Restart(ctx context.Context, actor models.Actor, channelID int64) (*models.Channel, error) {
	unlock := s.locks.lock(channelID)
	defer unlock()
	ch, err := s.permitted(ctx, channelID, ActRestart)
	if err != nil {
		return nil, err
	}
	token, err := s.store.ChannelToken(ch)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.detach(ctx)
	defer cancel()
	// When the line started, to judge an unanswered restart by (best
	// effort: without it, only a line still starting counts).
	before, _ := s.whapi.Gate(ch.APIURL).Health(ctx, token)
	err = s.whapi.RestartChannel(ctx, ch.RemoteID())
	s.forget(ctx, ch.ID)
	switch {
	case err == nil:
	case errors.Is(err, whapi.ErrNotFound):
		if _, serr := s.syncLocked(ctx, ch); serr != nil {
			s.log.WarnContext(ctx, "sync after a refused restart failed", "channel", ch.ID, "err", serr)
		}
		return nil, fmt.Errorf("%w: the channel no longer exists upstream", ErrRefused)
	case !whapi.OutcomeUnknown(err):
		return nil, fmt.Errorf("%w: the channel was not restarted", ErrRefused)
	default:
		after, herr := s.whapi.Gate(ch.APIURL).Health(ctx, token)
		switch {
		case herr != nil:
			s.log.WarnContext(ctx, "channel restart: outcome unknown", "channel", ch.ID, "err", err, "health", herr)
			return nil, ErrUnconfirmed
		case !lineRestarted(before, after):
			s.log.WarnContext(ctx, "channel restart not applied", "channel", ch.ID, "err", err, "line", after.Status.Text)
			return nil, fmt.Errorf("%w: the channel was not restarted", ErrRefused)
		}
	}
	if err := s.store.RecordAudit(ctx, actor, "channel.restart", auditTarget(ch), "restarted"); err != nil {
		return nil, err
	}
	return s.store.ChannelByID(ctx, ch.ID)
}

// lineRestarted judges from the gate's health whether a line restarted:
// it is starting (INIT, LAUNCH), or its instance started since before was
// read.
func lineRestarted(before, after *whapi.Health) bool {
	switch after.Status.Text {
	case whapi.StatusInit, whapi.StatusLaunch:
		return true
	}
	return before != nil && after.StartAt != before.StartAt
}

// auditTarget names a channel in the audit log, as models does.
func auditTarget(ch *models.Channel) string {
	return fmt.Sprintf("channel %d (%s)", ch.ID, strings.TrimSpace(ch.Name))
}
