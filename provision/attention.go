package provision

import (
	"context"
	"sort"
	"time"

	"whapidesk/models"
)

// The admin's Attention list (issue 16, point 1): what needs someone now.
// Computed here, from the status history and the channels, so the
// Attention page and the admin's daily digest show the same list.

// AttentionKind is why an item is on the list.
type AttentionKind string

// The kinds of the Attention list.
const (
	// AttnDisconnected: a linked channel's phone was unlinked longer than
	// the alert's delay ago and is not linked again.
	AttnDisconnected AttentionKind = "disconnected"
	// AttnStuck: a channel is being set up (waiting for its create, or its
	// line starting: StuckGates) for longer than StuckAfter.
	AttnStuck AttentionKind = "stuck"
	// AttnEnding: a channel's paid time ends within EndingWithin and the
	// automatic top-up will not extend it (manual mode, no days in the
	// balance, no active plan).
	AttnEnding AttentionKind = "ending"
	// AttnJobFailed: a background job ran out of attempts.
	AttnJobFailed AttentionKind = "job_failed"
)

// The Attention list's thresholds.
const (
	StuckAfter   = 2 * time.Minute
	EndingWithin = 3 * 24 * time.Hour
)

// StuckGates are the gate's statuses of a line being started: WHAPI's
// INIT and LAUNCH (the status texts of its health check). Longer than StuckAfter in one, the
// line needs a look.
var StuckGates = []string{"INIT", "LAUNCH"}

// AttentionItem is one row of the Attention list: what, since when, and
// for a channel, whose.
type AttentionItem struct {
	Kind AttentionKind
	// Channel, for every kind but AttnJobFailed.
	Channel models.ChannelNotice
	// Since: since when (for AttnEnding, when the paid time ends).
	Since time.Time
	// Job, for AttnJobFailed.
	Job FailedJob
}

// FailedJob is a background job that ran out of attempts.
type FailedJob struct {
	ID   int64
	Kind string
	// What is the job in an admin's words; Error its last error.
	What, Error string
	At          time.Time
}

// FailedJobs lists the failed background jobs (jobs.Queue is one).
type FailedJobs interface {
	FailedJobs(ctx context.Context, limit int) ([]FailedJob, error)
}

// attentionJobsLimit bounds the failed jobs listed.
const attentionJobsLimit = 50

// Attention returns the Attention list at the service's now: disconnected
// channels, channels stuck being set up, paid time ending that no top-up
// will extend, and failed jobs (from fj; nil: none listed). Each group is
// oldest first (ending: soonest first).
func (s *Service) Attention(ctx context.Context, fj FailedJobs) ([]AttentionItem, error) {
	now := s.now()
	var out []AttentionItem
	add := func(kind AttentionKind, ns []models.ChannelNotice) {
		for _, n := range ns {
			out = append(out, AttentionItem{Kind: kind, Channel: n, Since: n.Since})
		}
	}
	down, err := s.Disconnected(ctx, 0)
	if err != nil {
		return nil, err
	}
	add(AttnDisconnected, down)
	pending, err := s.store.PendingChannels(ctx, models.ChannelPending, now.Add(-StuckAfter))
	if err != nil {
		return nil, err
	}
	stuck, err := s.store.StuckChannels(ctx, StuckGates, liveStates(), now.Add(-StuckAfter))
	if err != nil {
		return nil, err
	}
	stuck = append(pending, stuck...)
	sort.SliceStable(stuck, func(i, j int) bool { return stuck[i].Since.Before(stuck[j].Since) })
	add(AttnStuck, stuck)
	ending, err := s.store.ChannelsEnding(ctx, liveStates(), now, now.Add(EndingWithin))
	if err != nil {
		return nil, err
	}
	add(AttnEnding, ending)
	if fj != nil {
		jobs, err := fj.FailedJobs(ctx, attentionJobsLimit)
		if err != nil {
			return nil, err
		}
		for _, j := range jobs {
			out = append(out, AttentionItem{Kind: AttnJobFailed, Since: j.At, Job: j})
		}
	}
	return out, nil
}
