package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Errors of the admin's actions on a job.
var (
	ErrNotFound    = errors.New("no such job")
	ErrUnknownKind = errors.New("no such kind of job")
	// ErrCannotRetry: the job is running, or waiting to run anyway.
	ErrCannotRetry = errors.New("the job is not failed or cancelled: there is nothing to retry")
	// ErrCannotCancel: the job is finished already.
	ErrCannotCancel = errors.New("the job is finished: there is nothing to cancel")
)

// Group is one tab of the Jobs page: a set of River's job states.
type Group string

// The groups, in the order the page shows them.
const (
	GroupWaiting   Group = "waiting"   // available, scheduled, pending
	GroupRunning   Group = "running"   // running
	GroupFailed    Group = "failed"    // retryable (tried again later) and discarded (given up)
	GroupDone      Group = "done"      // completed
	GroupCancelled Group = "cancelled" // cancelled
)

// Groups are the groups, in order.
var Groups = []Group{GroupWaiting, GroupRunning, GroupFailed, GroupDone, GroupCancelled}

// states are River's states of each group.
var states = map[Group][]rivertype.JobState{
	GroupWaiting:   {rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStatePending},
	GroupRunning:   {rivertype.JobStateRunning},
	GroupFailed:    {rivertype.JobStateRetryable, rivertype.JobStateDiscarded},
	GroupDone:      {rivertype.JobStateCompleted},
	GroupCancelled: {rivertype.JobStateCancelled},
}

// GroupOf is the group of a River state ("" for none).
func GroupOf(s string) Group {
	for g, ss := range states {
		if slices.Contains(ss, rivertype.JobState(s)) {
			return g
		}
	}
	return ""
}

// Job is one job as the Jobs page shows it.
type Job struct {
	ID          int64
	Kind        string // KindReconcile, …
	What        string // the kind in words: "reconcile", "auto top-up"
	State       string // River's: available, scheduled, running, retryable, …
	Attempt     int    // attempts made so far
	MaxAttempts int
	CreatedAt   time.Time
	ScheduledAt time.Time  // when it is due (for a retryable job: its next attempt)
	AttemptedAt *time.Time // the last attempt's start
	FinalizedAt *time.Time // completed, cancelled or given up
	// LastError is the last attempt's error ("" when none).
	LastError string
	// AfterBoot: a start's own Reconcile.
	AfterBoot bool
	// CanRetry and CanCancel say which actions the job takes.
	CanRetry, CanCancel bool
}

func jobOf(r *rivertype.JobRow) Job {
	j := Job{ID: r.ID, Kind: r.Kind, What: kindWords(r.Kind), State: string(r.State), Attempt: r.Attempt,
		MaxAttempts: r.MaxAttempts, CreatedAt: r.CreatedAt, ScheduledAt: r.ScheduledAt, AttemptedAt: r.AttemptedAt,
		FinalizedAt: r.FinalizedAt, CanRetry: canRetry(r.State), CanCancel: canCancel(r.State)}
	if n := len(r.Errors); n > 0 {
		j.LastError = r.Errors[n-1].Error
	}
	if r.Kind == KindReconcile {
		j.AfterBoot = len(r.EncodedArgs) > 2 // {"boot":"…"}, not {}
	}
	return j
}

// canRetry: a failed, given-up or cancelled job can be tried again now.
func canRetry(s rivertype.JobState) bool {
	return s == rivertype.JobStateRetryable || s == rivertype.JobStateDiscarded || s == rivertype.JobStateCancelled
}

// canCancel: a job not finished yet can be cancelled (a running one stops
// at its next check of its context, and is not retried).
func canCancel(s rivertype.JobState) bool {
	switch s {
	case rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStatePending,
		rivertype.JobStateRetryable, rivertype.JobStateRunning:
		return true
	}
	return false
}

// Counts are how many jobs each group holds.
func (q *Queue) Counts(ctx context.Context) (map[Group]int64, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM river_job GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("jobs: count: %w", err)
	}
	defer rows.Close()
	out := map[Group]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("jobs: count: %w", err)
		}
		if g := GroupOf(s); g != "" {
			out[g] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs: count: %w", err)
	}
	return out, nil
}

// List returns up to n jobs of group g, newest first, older than the job
// before (0: from the newest), and whether there are more.
func (q *Queue) List(ctx context.Context, g Group, before int64, n int) ([]Job, bool, error) {
	ss, ok := states[g]
	if !ok {
		return nil, false, fmt.Errorf("jobs: no group %q", g)
	}
	p := river.NewJobListParams().States(ss...).OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(n + 1)
	if before > 0 {
		row, err := q.client.JobGet(ctx, before)
		switch {
		case errors.Is(err, river.ErrNotFound):
			// Cleaned away meanwhile: start from the newest.
		case err != nil:
			return nil, false, fmt.Errorf("jobs: list: %w", err)
		default:
			p = p.After(river.JobListCursorFromJob(row))
		}
	}
	res, err := q.client.JobList(ctx, p)
	if err != nil {
		return nil, false, fmt.Errorf("jobs: list: %w", err)
	}
	more := len(res.Jobs) > n
	out := make([]Job, 0, min(n, len(res.Jobs)))
	for _, r := range res.Jobs[:min(n, len(res.Jobs))] {
		out = append(out, jobOf(r))
	}
	return out, more, nil
}

// Get returns one job.
func (q *Queue) Get(ctx context.Context, id int64) (Job, error) {
	r, err := q.client.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return Job{}, ErrNotFound
	}
	if err != nil {
		return Job{}, fmt.Errorf("jobs: get: %w", err)
	}
	return jobOf(r), nil
}

// Retry makes a failed, given-up or cancelled job due now (one more
// attempt if it had none left).
func (q *Queue) Retry(ctx context.Context, id int64) (Job, error) {
	j, err := q.Get(ctx, id)
	if err != nil {
		return j, err
	}
	if !j.CanRetry {
		return j, ErrCannotRetry
	}
	r, err := q.client.JobRetry(ctx, id)
	if err != nil {
		return j, fmt.Errorf("jobs: retry: %w", err)
	}
	return jobOf(r), nil
}

// Cancel cancels a job that is not finished: it is not run (again); a
// running one has its context cancelled.
func (q *Queue) Cancel(ctx context.Context, id int64) (Job, error) {
	j, err := q.Get(ctx, id)
	if err != nil {
		return j, err
	}
	if !j.CanCancel {
		return j, ErrCannotCancel
	}
	r, err := q.client.JobCancel(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return j, ErrNotFound
	}
	if err != nil {
		return j, fmt.Errorf("jobs: cancel: %w", err)
	}
	return jobOf(r), nil
}
