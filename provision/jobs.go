package provision

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/internal/webhookout"
	"whapidesk/models"
	"whapidesk/whapi"
)

// autoAllocate tops up one auto-mode customer's channels (all of them, or
// only channelID) that need days: on create and on credit.
func (s *Service) autoAllocate(ctx context.Context, actor models.Actor, userID, channelID int64) error {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil || u.AllocationMode != models.AllocationAuto {
		return err
	}
	_, err = s.topUp(ctx, actor, userID, channelID)
	return err
}

// TopUpReport counts what a top-up run did. Deferred are the channels
// WHAPI took no extend of yet (extended moments ago): they are left alone
// until then and topped up by a later run.
type TopUpReport struct {
	Candidates, Extended, Deferred, Failed int
	Days                                   int64
}

// AutoTopUp extends the channels of auto-mode customers whose active-till
// comes within the top-up window (or that have no paid days yet): each by
// up to one period's days, never beyond the customer's balance. Manual-mode
// customers are never touched.
func (s *Service) AutoTopUp(ctx context.Context) (TopUpReport, error) {
	return s.topUp(ctx, models.SystemActor, 0, 0)
}

func (s *Service) topUp(ctx context.Context, actor models.Actor, userID, channelID int64) (TopUpReport, error) {
	var rep TopUpReport
	st, err := s.settings(ctx)
	if errors.Is(err, ErrNotConfigured) {
		return rep, nil // nothing can be extended yet
	}
	if err != nil {
		return rep, err
	}
	now := s.now()
	until := now.Add(time.Duration(st.TopupWindowDays) * day)
	// Channels WHAPI takes no extend of yet (ExtendAfter) are not
	// candidates: no run asks again before then, in no process.
	cands, err := s.store.TopUpCandidates(ctx, userID, now, until)
	if err != nil {
		return rep, err
	}
	// First the extends, at most Concurrency at once; then the read-back of
	// all of them together, from pages of GET /channels/list
	// (settleTopUps). A run stopped between the two leaves nothing wrong:
	// a booked extend's channel is read back by the next sync (or before
	// its next change), an unanswered one is settled by Reconcile.
	var (
		mu   sync.Mutex
		sent []*extendSent
	)
	s.each(ctx, len(cands), func(i int) {
		c := cands[i]
		if channelID != 0 && c.ChannelID != channelID {
			return
		}
		mu.Lock()
		rep.Candidates++
		mu.Unlock()
		x, err := s.topUpOne(ctx, actor, c, until)
		mu.Lock()
		defer mu.Unlock()
		var soon *ExtendTooSoonError
		switch {
		case errors.As(err, &soon):
			rep.Deferred++
			s.log.InfoContext(ctx, "auto top-up deferred: WHAPI takes no extend of the channel yet", "channel", c.ChannelID, "until", soon.Until)
		case err != nil:
			rep.Failed++
			s.log.WarnContext(ctx, "auto top-up failed", "channel", c.ChannelID, "err", err)
		case x != nil:
			sent = append(sent, x) // counted once read back
		}
	})
	s.settleTopUps(ctx, sent, &rep)
	return rep, ctx.Err()
}

// topUpOne extends one channel by min(one period's days, balance), if it
// is still due (until: the top-up window's end) once its activeTill is
// WHAPI's, and returns the extend for its read-back (nil: nothing sent).
func (s *Service) topUpOne(ctx context.Context, actor models.Actor, c models.TopUpCandidate, until time.Time) (*extendSent, error) {
	u, err := s.store.UserByID(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	days := min(c.DaysPerPeriod, u.DayBalance)
	if days <= 0 {
		return nil, nil
	}
	in, err := ValidateExtend(ctx, ExtendInput{ChannelID: c.ChannelID, Days: days, Comment: fmt.Sprintf("Auto top-up for channel %d", c.ChannelID)})
	if err != nil {
		return nil, err
	}
	unlock := s.locks.lock(c.ChannelID)
	defer unlock()
	// The candidates were listed before any of them was extended: one
	// extended since (by another run) but not yet read back has an
	// unconfirmed activeTill, which is read first, and a channel no
	// longer due is left alone.
	ch, err := s.store.ChannelByID(ctx, c.ChannelID)
	if err != nil {
		return nil, err
	}
	if !ch.TillConfirmed && ch.RemoteID() != "" && CheckState(ch, ActExtend) == nil {
		if ch, err = s.confirmedChannel(ctx, ch); err != nil {
			return nil, err
		}
	}
	if ch.DaysAllocated > 0 && ch.ActiveTill != nil && !ch.ActiveTill.Before(until) {
		return nil, nil
	}
	// Due as judged here, and still due once the days are reserved: another
	// instance may extend the channel between the two (its lock is this
	// process's only).
	in.dueBefore = &until
	x, _, done, err := s.sendExtend(ctx, actor, in)
	done()
	if errors.Is(err, models.ErrInsufficientBalance) {
		return nil, nil // another top-up of the same customer took the days first
	}
	if errors.Is(err, models.ErrNotDue) {
		return nil, nil // another run (another instance's) extended it first
	}
	if errors.Is(err, models.ErrPlanLimit) {
		return nil, nil // an expired channel of a full plan stays expired
	}
	return x, err
}

// each runs f(0..n-1) with at most s.Concurrency at once.
func (s *Service) each(ctx context.Context, n int, f func(i int)) {
	sem := make(chan struct{}, max(1, s.Concurrency))
	var wg sync.WaitGroup
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// CreditDays adds days to a customer's balance (admin_credit, comment
// required); in auto mode the customer's channels that need days get them.
func (s *Service) CreditDays(ctx context.Context, actor models.Actor, userID, days int64, comment string) error {
	fe := FieldErrors{}
	if days < 1 || days > 100_000 {
		fe["days"] = i18n.T(ctx, "prov.credit.days", "Max", number(ctx, 100_000))
	}
	c, err := cleanText(comment, "comment", MaxComment, true)
	if err != nil {
		fe["comment"] = fieldMsg(ctx, err)
	}
	if len(fe) > 0 {
		return fe
	}
	if err := s.store.CreditDays(ctx, actor, userID, days, models.LedgerAdminCredit, c); err != nil {
		return err
	}
	return s.afterCredit(ctx, actor, userID)
}

func (s *Service) afterCredit(ctx context.Context, actor models.Actor, userID int64) error {
	ctx, cancel := s.detach(ctx)
	defer cancel()
	if err := s.autoAllocate(ctx, actor, userID, 0); err != nil {
		s.log.WarnContext(ctx, "auto allocation after credit failed", "user", userID, "err", err)
	}
	return nil
}

// ActivatePlan puts a customer on a plan and credits the period's days.
func (s *Service) ActivatePlan(ctx context.Context, actor models.Actor, userID, planID int64) (*models.Subscription, error) {
	sub, err := s.store.ActivatePlan(ctx, actor, userID, planID)
	if err != nil {
		return nil, err
	}
	return sub, s.afterCredit(ctx, actor, userID)
}

// RenewSubscription starts the next period and credits its days.
func (s *Service) RenewSubscription(ctx context.Context, actor models.Actor, userID int64) (*models.Subscription, error) {
	sub, err := s.store.RenewSubscription(ctx, actor, userID)
	if err != nil {
		return nil, err
	}
	return sub, s.afterCredit(ctx, actor, userID)
}

// ReconcileReport counts what a reconcile run did.
type ReconcileReport struct {
	Settled, Synced, Gone, Orphans, Errors int
	// Hooked counts the channels whose webhook it registered.
	Hooked int
}

// Reconcile settles operations left half-done by a crash or a lost answer
// (exactly once, from what WHAPI shows), refreshes every channel from WHAPI,
// registers the webhook of a running channel that lacks one (with a public
// address; see ensureHook), marks channels gone upstream, and deletes WHAPI
// channels that carry our marker but are not ours (duplicates of a create
// whose answer was lost).
func (s *Service) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	st, err := s.settings(ctx)
	if errors.Is(err, ErrNotConfigured) {
		return rep, nil // nothing to settle or sync yet
	}
	if err != nil {
		return rep, err
	}
	ops, err := s.store.OpenOperations(ctx, s.now().Add(-s.SettleAfter))
	if err != nil {
		return rep, err
	}
	for i := range ops {
		if err := s.settleOp(ctx, st.InstallID, &ops[i]); err != nil {
			if !errors.Is(err, models.ErrSettled) {
				rep.Errors++
				s.log.WarnContext(ctx, "reconcile: operation left open", "op", ops[i].ID, "err", err)
			}
			continue
		}
		rep.Settled++
	}
	ids, err := s.store.SyncableChannelIDs(ctx)
	if err != nil {
		return rep, err
	}
	var mu sync.Mutex
	s.each(ctx, len(ids), func(i int) {
		ch, hooked, err := s.syncListed(ctx, ids[i])
		mu.Lock()
		defer mu.Unlock()
		if hooked {
			rep.Hooked++
		}
		switch {
		case errors.Is(err, models.ErrChannelBusy):
			// Its state changed since it was listed (a delete began): the
			// next run sees it as it is then.
		case err != nil:
			rep.Errors++
		case IsGone(ch):
			rep.Gone++
		default:
			rep.Synced++
		}
	})
	n, err := s.removeOrphans(ctx, st.InstallID)
	rep.Orphans = n
	if err != nil {
		rep.Errors++
	}
	return rep, nil
}

// settleOp decides an open operation from WHAPI's state.
func (s *Service) settleOp(ctx context.Context, install string, op *models.Operation) error {
	// A create is settled without the channel's lock: nothing else changes
	// a pending channel, and adopting it allocates its first days in auto
	// mode through Extend, which takes that lock (it is not reentrant).
	if op.Kind != models.OpCreate {
		unlock := s.locks.lock(op.ChannelID)
		defer unlock()
	}
	ch, err := s.store.ChannelByID(ctx, op.ChannelID)
	if err != nil {
		return err
	}
	switch op.Kind {
	case models.OpCreate:
		if op.State == models.OpReserved {
			return s.store.FailCreate(ctx, op.ID, "never sent")
		}
		found, err := s.findRemote(ctx, install, ch.ID)
		if err != nil {
			return err
		}
		if found == nil {
			return s.store.FailCreate(ctx, op.ID, "not created upstream")
		}
		_, err = s.confirmCreate(ctx, models.SystemActor, op.ID, found)
		return err
	case models.OpExtend:
		if op.State == models.OpReserved {
			return s.store.FailExtend(ctx, op.ID, "never sent")
		}
		applied, err := s.extendApplied(ctx, op, ch)
		if errors.Is(err, whapi.ErrNotFound) {
			return s.store.FailExtend(ctx, op.ID, "channel not found upstream")
		}
		if err != nil {
			return err
		}
		if !applied {
			return s.store.FailExtend(ctx, op.ID, "not applied upstream")
		}
		if err := s.store.ConfirmExtend(ctx, op.ID, s.channelEvent(ctx, webhookout.ChannelExtended)); err != nil {
			return err
		}
		_, err = s.afterExtend(ctx, ch.ID)
		return err
	case models.OpDelete:
		if op.State == models.OpReserved {
			return s.store.FailDelete(ctx, op.ID, "never sent")
		}
		_, err := s.whapi.GetChannel(ctx, ch.RemoteID())
		switch {
		case errors.Is(err, whapi.ErrNotFound):
			// WHAPI refunded what was left when it deleted the channel, i.e.
			// when the delete was sent (op.UpdatedAt, set by MarkSent), not
			// now: SettleAfter or a restart later, a day boundary may have
			// passed.
			return s.store.ConfirmDelete(ctx, op.ID, UnusedDays(ch, op.UpdatedAt), s.channelEvent(ctx, webhookout.ChannelDeleted))
		case err != nil:
			return err
		}
		return s.store.FailDelete(ctx, op.ID, "still exists upstream")
	}
	return fmt.Errorf("provision: unknown operation kind %q", op.Kind)
}

// removeOrphans deletes WHAPI channels named with our marker that no
// channel of ours owns (a create that happened although we recorded it as
// failed, or a duplicate). Channels with an open create are left alone.
func (s *Service) removeOrphans(ctx context.Context, install string) (int, error) {
	all, err := s.whapi.ListAllChannels(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rc := range all {
		id, ok := markerID(install, rc.Name)
		if !ok {
			continue
		}
		ch, err := s.store.ChannelByID(ctx, id)
		if err == nil && (ch.RemoteID() == rc.ID || ch.Status == models.ChannelPending) {
			continue
		}
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return n, err
		}
		if err := s.whapi.DeleteChannel(ctx, rc.ID); err != nil && !errors.Is(err, whapi.ErrNotFound) {
			return n, err
		}
		if err := s.store.RecordAudit(ctx, models.SystemActor, "channel.orphan_deleted", "whapi channel", fmt.Sprintf("duplicate of channel %d deleted at WHAPI", id)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
