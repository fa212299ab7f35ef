package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"whapidesk/internal/testdb"
	"whapidesk/jobs"
	"whapidesk/models"
	"whapidesk/provision"
)

// countingWork counts the runs of each job; fail, when set, decides the
// top-up's outcome by its run number (1, 2, …); block makes the reconcile
// wait for its context.
type countingWork struct {
	reconciles, topUps, sessions atomic.Int64
	fail                         func(run int64) error
	block                        chan struct{} // closed when a blocked run started
	blockOnce                    sync.Once
}

func (w *countingWork) Reconcile(ctx context.Context) (provision.ReconcileReport, error) {
	w.reconciles.Add(1)
	if w.block != nil {
		w.blockOnce.Do(func() { close(w.block) })
		<-ctx.Done()
		return provision.ReconcileReport{}, ctx.Err()
	}
	return provision.ReconcileReport{Synced: 1}, nil
}

func (w *countingWork) AutoTopUp(context.Context) (provision.TopUpReport, error) {
	n := w.topUps.Add(1)
	if w.fail != nil {
		if err := w.fail(n); err != nil {
			return provision.TopUpReport{}, err
		}
	}
	return provision.TopUpReport{}, nil
}

func (w *countingWork) DeleteExpiredSessions(context.Context) (int64, error) {
	w.sessions.Add(1)
	return 0, nil
}

// syncBuffer is a log a test reads while the queue writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// open starts a queue on path with w, fast polling and no periodic jobs
// unless cfg says otherwise, and stops it when the test ends.
func open(t *testing.T, path models.Database, w *countingWork, logs *syncBuffer, cfg jobs.Config) *jobs.Queue {
	t.Helper()
	cfg.Work, cfg.Sessions = w, w
	cfg.Log = slog.New(slog.NewTextHandler(logs, nil))
	cfg.FetchPoll = 20 * time.Millisecond
	if cfg.ReconcileAfterBoot == 0 {
		cfg.ReconcileAfterBoot = -1
	}
	q, err := jobs.Open(t.Context(), path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := q.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return q
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settled reports whether q has no job waiting or running.
func settled(t *testing.T, q *jobs.Queue) bool {
	t.Helper()
	c, err := q.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c[jobs.GroupWaiting] == 0 && c[jobs.GroupRunning] == 0
}

// Two instances on one database, each inserting the top-up of the same
// period five times at once (as two leaders, or a restart, would): one
// job, one run.
func TestPeriodicJobRunsOncePerPeriodAcrossInstances(t *testing.T) {
	path := models.Database(testdb.New(t))
	w := &countingWork{}
	logs := &syncBuffer{}
	// A period long enough that the test never straddles two.
	cfg := jobs.Config{NoPeriodic: true, TopUpEvery: 24 * time.Hour}
	a := open(t, path, w, logs, jobs.Config{NoPeriodic: true, TopUpEvery: cfg.TopUpEvery, ID: "instance-a"})
	b := open(t, path, w, logs, jobs.Config{NoPeriodic: true, TopUpEvery: cfg.TopUpEvery, ID: "instance-b"})

	var inserted atomic.Int64
	var wg sync.WaitGroup
	for i := range 10 {
		q := a
		if i%2 == 1 {
			q = b
		}
		wg.Go(func() {
			res, err := q.InsertPeriodic(t.Context(), jobs.KindTopUp)
			if err != nil {
				t.Error(err)
				return
			}
			if !res.UniqueSkippedAsDuplicate {
				inserted.Add(1)
			}
		})
	}
	wg.Wait()
	waitFor(t, 10*time.Second, "the top-up ran", func() bool { return w.topUps.Load() >= 1 && settled(t, a) })
	// Once it ran, the period's job is completed: inserting it again (a
	// restart, the other instance's schedule) is a no-op too.
	for _, q := range []*jobs.Queue{a, b} {
		res, err := q.InsertPeriodic(t.Context(), jobs.KindTopUp)
		if err != nil {
			t.Fatal(err)
		}
		if !res.UniqueSkippedAsDuplicate {
			t.Error("the period's top-up was inserted again after it ran")
		}
	}
	if got := inserted.Load(); got != 1 {
		t.Errorf("%d inserts of the period's top-up were kept, want 1", got)
	}
	if !settled(t, b) {
		t.Error("a job is waiting after the duplicate inserts")
	}
	if got := w.topUps.Load(); got != 1 {
		t.Errorf("the top-up ran %d times in one period, want 1", got)
	}
	done, _, err := a.List(t.Context(), jobs.GroupDone, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].Kind != jobs.KindTopUp || done[0].Attempt != 1 {
		t.Errorf("completed jobs = %+v, want one top-up, one attempt", done)
	}
}

// The periodic schedule itself, on two instances at once: every period's
// top-up runs once, whichever instance leads.
func TestScheduleOnTwoInstancesRunsEachPeriodOnce(t *testing.T) {
	path := models.Database(testdb.New(t))
	w := &countingWork{}
	logs := &syncBuffer{}
	const every = time.Second // River's least unique period
	cfg := func(id string) jobs.Config {
		return jobs.Config{ID: id, TopUpEvery: every, ReconcileEvery: time.Hour, SessionsEvery: time.Hour}
	}
	a := open(t, path, w, logs, cfg("instance-a"))
	open(t, path, w, logs, cfg("instance-b"))
	waitFor(t, 30*time.Second, "three top-ups ran", func() bool { return w.topUps.Load() >= 3 || t.Failed() })
	done, _, err := a.List(t.Context(), jobs.GroupDone, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	periods := map[time.Time]int{}
	topUps := 0
	for _, j := range done {
		if j.Kind == jobs.KindTopUp {
			topUps++
			periods[j.ScheduledAt.Truncate(every)]++
		}
	}
	for p, n := range periods {
		if n > 1 {
			t.Errorf("%d top-ups ran in the period from %s", n, p)
		}
	}
	// Runs finished by now are among the completed jobs (one may be under
	// way): never more runs than jobs.
	if runs := w.topUps.Load(); runs > int64(topUps)+1 {
		t.Errorf("%d top-up runs for %d completed jobs", runs, topUps)
	}
	// The session cleanup runs at start (once: one leader).
	if got := w.sessions.Load(); got != 1 {
		t.Errorf("the session cleanup ran %d times at start, want 1", got)
	}
}

// A failing job is retried after the backoff, and its failure is logged
// with its kind and attempt.
func TestFailedJobIsRetriedWithBackoff(t *testing.T) {
	path := models.Database(testdb.New(t))
	w := &countingWork{fail: func(run int64) error {
		if run == 1 {
			return errors.New("WHAPI answered 503")
		}
		return nil
	}}
	logs := &syncBuffer{}
	const wait = 700 * time.Millisecond
	q := open(t, path, w, logs, jobs.Config{NoPeriodic: true, Backoff: func(int) time.Duration { return wait }})
	res, err := q.InsertPeriodic(t.Context(), jobs.KindTopUp)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Job.ID
	// Retryable, or (a retry due within River's scheduler interval)
	// available at its time.
	waitFor(t, 10*time.Second, "the first attempt failed", func() bool {
		j, err := q.Get(t.Context(), id)
		return err == nil && j.Attempt == 1 && j.LastError != ""
	})
	j, err := q.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if j.Attempt != 1 || j.LastError != "WHAPI answered 503" || !j.CanCancel {
		t.Errorf("after the failure: %+v", j)
	}
	if j.AttemptedAt == nil || j.ScheduledAt.Before(j.AttemptedAt.Add(wait)) {
		t.Errorf("next attempt at %s, want at least %s after the attempt at %v", j.ScheduledAt, wait, j.AttemptedAt)
	}
	waitFor(t, 10*time.Second, "the second attempt succeeded", func() bool {
		j, err := q.Get(t.Context(), id)
		return err == nil && j.State == "completed"
	})
	j, _ = q.Get(t.Context(), id)
	if j.Attempt != 2 || w.topUps.Load() != 2 {
		t.Errorf("attempts %d, runs %d, want 2 and 2", j.Attempt, w.topUps.Load())
	}
	if !j.FinalizedAt.After(j.CreatedAt.Add(wait)) {
		t.Errorf("completed at %v, before the backoff of %s after %v", j.FinalizedAt, wait, j.CreatedAt)
	}
	line := ""
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "auto top-up failed") {
			line = l
		}
	}
	for _, want := range []string{"level=WARN", "kind=auto_top_up", "attempt=1", "max_attempts=5", `err="WHAPI answered 503"`, "retry_in=700ms"} {
		if !strings.Contains(line, want) {
			t.Errorf("the failure's log line %q does not say %s", line, want)
		}
	}
}

// A job out of attempts is given up (and says so in the log); Retry runs
// it again. Cancel keeps a waiting job from running; finished jobs take
// neither action.
func TestRetryAndCancel(t *testing.T) {
	path := models.Database(testdb.New(t))
	w := &countingWork{fail: func(run int64) error {
		if run == 1 {
			return errors.New("no luck")
		}
		return nil
	}}
	logs := &syncBuffer{}
	q := open(t, path, w, logs, jobs.Config{NoPeriodic: true, MaxAttempts: 1})
	res, err := q.InsertPeriodic(t.Context(), jobs.KindTopUp)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Job.ID
	waitFor(t, 10*time.Second, "the job was given up", func() bool {
		j, err := q.Get(t.Context(), id)
		return err == nil && j.State == "discarded"
	})
	if !strings.Contains(logs.String(), "level=ERROR msg=\"auto top-up failed: no attempts left") {
		t.Errorf("giving up is not logged as an error:\n%s", logs)
	}
	if _, err := q.Cancel(t.Context(), id); !errors.Is(err, jobs.ErrCannotCancel) {
		t.Errorf("cancel of a given-up job: %v, want ErrCannotCancel", err)
	}
	if _, err := q.Retry(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the retried job completed", func() bool {
		j, err := q.Get(t.Context(), id)
		return err == nil && j.State == "completed"
	})
	if _, err := q.Retry(t.Context(), id); !errors.Is(err, jobs.ErrCannotRetry) {
		t.Errorf("retry of a completed job: %v, want ErrCannotRetry", err)
	}

	// A start's Reconcile, scheduled a minute ahead, cancelled before it runs.
	res, err = q.InsertBootReconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	j, err := q.Cancel(t.Context(), res.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != "cancelled" || j.CanCancel || !j.CanRetry {
		t.Errorf("after cancel: %+v", j)
	}
	if _, err := q.Cancel(t.Context(), 999999); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("cancel of no job: %v, want ErrNotFound", err)
	}
	if n := w.reconciles.Load(); n != 0 {
		t.Errorf("the cancelled reconcile ran %d times", n)
	}
}

// Stop lets a running job finish for a while, then cancels its context;
// it leaves no goroutine of the queue behind.
func TestStopCancelsRunningJobsAndLeavesNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	path := models.Database(testdb.New(t))
	w := &countingWork{block: make(chan struct{})}
	logs := &syncBuffer{}
	cfg := jobs.Config{NoPeriodic: true, Work: w, Sessions: w, Log: slog.New(slog.NewTextHandler(logs, nil)), FetchPoll: 20 * time.Millisecond, ReconcileAfterBoot: -1}
	q, err := jobs.Open(t.Context(), path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	res, err := q.InsertPeriodic(t.Context(), jobs.KindReconcile)
	if err != nil {
		t.Fatal(err)
	}
	<-w.block // running, until its context ends
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if !strings.Contains(logs.String(), "background jobs did not finish in time: cancelling them") ||
		strings.Contains(logs.String(), "reconcile failed") {
		t.Errorf("a job cut short by the shutdown is not told as such:\n%s", logs)
	}
	if err := q.Stop(context.Background()); err != nil {
		t.Errorf("second stop: %v", err)
	}
	// The shutdown put it back (its attempt not counted): the next start
	// runs it.
	nw := &countingWork{}
	next := open(t, path, nw, &syncBuffer{}, jobs.Config{NoPeriodic: true})
	waitFor(t, 10*time.Second, "the next start ran the job cut short", func() bool {
		j, err := next.Get(t.Context(), res.Job.ID)
		return err == nil && j.State == "completed" && j.Attempt == 1 && nw.reconciles.Load() == 1
	})
	if err := next.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the queue's goroutines ended", func() bool { return runtime.NumGoroutine() <= before })
}
