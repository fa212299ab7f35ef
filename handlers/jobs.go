package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/jobs"
	"whapidesk/views"
)

// JobQueue is what the Jobs page reads and does: jobs.Queue.
type JobQueue interface {
	Counts(ctx context.Context) (map[jobs.Group]int64, error)
	List(ctx context.Context, g jobs.Group, before int64, n int) ([]jobs.Job, bool, error)
	Get(ctx context.Context, id int64) (jobs.Job, error)
	Retry(ctx context.Context, id int64) (jobs.Job, error)
	Cancel(ctx context.Context, id int64) (jobs.Job, error)
}

var _ JobQueue = (*jobs.Queue)(nil)

const jobsPerPage = 50

// jobGroupWords are the tabs of the Jobs page (catalog ids), in
// jobs.Groups' order.
var jobGroupWords = map[jobs.Group]string{
	jobs.GroupWaiting:   "jobs.group.waiting",
	jobs.GroupRunning:   "jobs.group.running",
	jobs.GroupFailed:    "jobs.group.failed",
	jobs.GroupDone:      "jobs.group.done",
	jobs.GroupCancelled: "jobs.group.cancelled",
}

// jobStateBadge is a River state in l's words.
func jobStateBadge(l *i18n.Localizer, state string) views.Badge {
	switch state {
	case "available":
		return views.Badge{Key: "jobs.state.available", Tone: "muted"}
	case "scheduled":
		return views.Badge{Key: "jobs.state.scheduled", Tone: "muted"}
	case "pending":
		return views.Badge{Key: "jobs.state.pending", Tone: "muted"}
	case "running":
		return views.Badge{Key: "jobs.state.running", Tone: "ok"}
	case "retryable":
		return views.Badge{Key: "jobs.state.retryable", Tone: "warn"}
	case "discarded":
		return views.Badge{Key: "jobs.state.discarded", Tone: "bad", Title: l.T("jobs.state.discarded_title")}
	case "completed":
		return views.Badge{Key: "jobs.state.completed", Tone: "ok"}
	case "cancelled":
		return views.Badge{Key: "jobs.state.cancelled", Tone: "muted"}
	}
	return views.Badge{Text: state}
}

// badgeWords is a badge's words in l's language, for a sentence.
func badgeWords(l *i18n.Localizer, b views.Badge) string {
	if b.Key != "" {
		return l.T(b.Key)
	}
	return b.Text
}

// jobWords names a job's kind in l's words ("Auto top-up"): the
// catalog's jobs.kind table, else the queue's words (what).
func jobWords(l *i18n.Localizer, kind, what string) string {
	if id := "jobs.kind." + kind; i18n.Has(id) {
		return l.T(id)
	}
	return sentenceCase(what)
}

// jobsHref is the address of a tab of the Jobs page, from the job before
// (0: the newest).
func jobsHref(g jobs.Group, before int64) string {
	q := url.Values{}
	if g != jobs.GroupWaiting {
		q.Set("state", string(g))
	}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	if len(q) == 0 {
		return "/admin/jobs"
	}
	return "/admin/jobs?" + q.Encode()
}

// jobGroupParam is ?state= (or the form's "state"): a group, Waiting when
// absent or unknown.
func jobGroupParam(s string) jobs.Group {
	if _, ok := jobGroupWords[jobs.Group(s)]; ok {
		return jobs.Group(s)
	}
	return jobs.GroupWaiting
}

func (h *Handler) jobsPage(c echo.Context, title string) views.Page {
	p := h.page(c, loc(c).T(title))
	p.Active = "jobs"
	return p
}

// showJobsPage is /admin/jobs: the background jobs of one state, newest
// first, with their attempts, times and last error.
func (h *Handler) showJobsPage(c echo.Context) error {
	ctx := c.Request().Context()
	g := jobGroupParam(c.QueryParam("state"))
	l := loc(c)
	v := views.JobsView{Group: l.T(jobGroupWords[g])}
	if h.cfg.Jobs == nil {
		v.NotRunning = true
		return h.render(c, http.StatusOK, views.JobsPage(h.jobsPage(c, "jobs.title"), v))
	}
	counts, err := h.cfg.Jobs.Counts(ctx)
	if err != nil {
		return err
	}
	for _, tg := range jobs.Groups {
		v.Tabs = append(v.Tabs, views.JobTab{Label: l.T(jobGroupWords[tg]), Count: counts[tg],
			Href: jobsHref(tg, 0), Current: tg == g, Key: string(tg)})
	}
	before, _ := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	list, more, err := h.cfg.Jobs.List(ctx, g, max(before, 0), jobsPerPage)
	if err != nil {
		return err
	}
	v.Total = counts[g]
	if before > 0 {
		v.Newest = jobsHref(g, 0)
	}
	if more && len(list) > 0 {
		v.Older = jobsHref(g, list[len(list)-1].ID)
	}
	for _, j := range list {
		v.Rows = append(v.Rows, jobRow(l, j, g))
	}
	return h.render(c, http.StatusOK, views.JobsPage(h.jobsPage(c, "jobs.title"), v))
}

func jobRow(l *i18n.Localizer, j jobs.Job, g jobs.Group) views.JobRow {
	r := views.JobRow{ID: j.ID, What: jobWords(l, j.Kind, j.What), State: jobStateBadge(l, j.State),
		Attempts: l.T("jobs.attempts", "Done", l.Number(int64(j.Attempt)), "Max", l.Number(int64(j.MaxAttempts))),
		Created:  l.DateTime(j.CreatedAt), LastRun: dateTimeOf(l, j.AttemptedAt), Finished: dateTimeOf(l, j.FinalizedAt),
		Error: j.LastError, Group: string(g)}
	if j.AfterBoot {
		r.What = l.T("jobs.after_boot", "Job", r.What)
	}
	if j.FinalizedAt == nil {
		r.Due = l.DateTime(j.ScheduledAt)
	}
	if j.CanRetry {
		r.RetryAction = "/admin/jobs/" + strconv.FormatInt(j.ID, 10) + "/retry"
	}
	if j.CanCancel {
		r.CancelHref = "/admin/jobs/" + strconv.FormatInt(j.ID, 10) + "/cancel?state=" + url.QueryEscape(string(g))
	}
	return r
}

// sentenceCase starts s with a capital letter.
func sentenceCase(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// jobParam reads the job of /admin/jobs/:id/…; 404 when there is no queue
// or no such job.
func (h *Handler) jobParam(c echo.Context) (jobs.Job, error) {
	id, err := idParam(c, "id")
	if err != nil || h.cfg.Jobs == nil {
		return jobs.Job{}, echo.NewHTTPError(http.StatusNotFound)
	}
	j, err := h.cfg.Jobs.Get(c.Request().Context(), id)
	if errors.Is(err, jobs.ErrNotFound) {
		return j, echo.NewHTTPError(http.StatusNotFound)
	}
	return j, err
}

// retryJob makes a failed or cancelled job due now.
func (h *Handler) retryJob(c echo.Context) error {
	j, err := h.jobParam(c)
	if err != nil {
		return err
	}
	back := jobsHref(jobGroupParam(c.FormValue("state")), 0)
	l := loc(c)
	_, err = h.cfg.Jobs.Retry(c.Request().Context(), j.ID)
	switch {
	case errors.Is(err, jobs.ErrCannotRetry):
		h.setFlash(c, "error", l.T("jobs.flash.cannot_retry", "Job", jobLabel(l, j), "State", badgeWords(l, jobStateBadge(l, j.State))))
	case err != nil:
		return err
	default:
		h.log.Info("job retried by an admin", "job", j.ID, "kind", j.Kind, "admin", currentUser(c).Email)
		h.setFlash(c, "success", l.T("jobs.flash.retried", "Job", jobLabel(l, j)))
	}
	return h.backToJobs(c, back)
}

// showCancelJobPage asks before a job is cancelled.
func (h *Handler) showCancelJobPage(c echo.Context) error {
	j, err := h.jobParam(c)
	if err != nil {
		return err
	}
	g := jobGroupParam(c.QueryParam("state"))
	l := loc(c)
	if !j.CanCancel {
		h.setFlash(c, "info", l.T("jobs.flash.finished", "Job", jobLabel(l, j)))
		return h.backToJobs(c, jobsHref(g, 0))
	}
	v := views.JobCancel{ID: j.ID, Label: jobLabel(l, j), Running: j.State == "running", Periodic: !j.AfterBoot,
		Back: string(g), BackHref: jobsHref(g, 0)}
	return h.render(c, http.StatusOK, views.JobCancelPage(h.jobsPage(c, "jobs.cancel_page.page_title"), v))
}

// cancelJob cancels a job that is not finished.
func (h *Handler) cancelJob(c echo.Context) error {
	j, err := h.jobParam(c)
	if err != nil {
		return err
	}
	back := jobsHref(jobGroupParam(c.FormValue("back")), 0)
	l := loc(c)
	_, err = h.cfg.Jobs.Cancel(c.Request().Context(), j.ID)
	switch {
	case errors.Is(err, jobs.ErrCannotCancel):
		h.setFlash(c, "info", l.T("jobs.flash.finished", "Job", jobLabel(l, j)))
	case errors.Is(err, jobs.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	case err != nil:
		return err
	default:
		h.log.Info("job cancelled by an admin", "job", j.ID, "kind", j.Kind, "admin", currentUser(c).Email)
		text := l.T("jobs.flash.cancelled", "Job", jobLabel(l, j))
		if j.State == "running" {
			text = l.T("jobs.flash.cancelling", "Job", jobLabel(l, j))
		}
		h.setFlash(c, "success", text)
	}
	return h.backToJobs(c, back)
}

// jobLabel names a job in a message: "Auto top-up #12".
func jobLabel(l *i18n.Localizer, j jobs.Job) string {
	return jobWords(l, j.Kind, j.What) + " #" + strconv.FormatInt(j.ID, 10)
}

// backToJobs saves the flash and goes back to a tab of the Jobs page.
func (h *Handler) backToJobs(c echo.Context, to string) error {
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, to)
}
