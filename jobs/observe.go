package jobs

import "github.com/riverqueue/river"

// ObserveRuns calls f after each job run of this instance finishes, with
// the job's kind and whether the run failed (a failure River retries
// counts too), until stop is called: the operator's metrics of job runs
// and failures (internal/metrics). f runs on a goroutine of its own; a
// burst that outruns it is dropped by River rather than slowing the jobs.
func (q *Queue) ObserveRuns(f func(kind string, failed bool)) (stop func()) {
	events, cancel := q.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			if ev == nil || ev.Job == nil {
				continue
			}
			f(ev.Job.Kind, ev.Kind == river.EventKindJobFailed)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
