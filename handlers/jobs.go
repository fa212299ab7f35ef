package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

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

// jobGroupWords are the tabs of the Jobs page, in jobs.Groups' order.
var jobGroupWords = map[jobs.Group]string{
	jobs.GroupWaiting:   "Waiting",
	jobs.GroupRunning:   "Running",
	jobs.GroupFailed:    "Failed",
	jobs.GroupDone:      "Done",
	jobs.GroupCancelled: "Cancelled",
}

// jobStateBadge is a River state in words.
func jobStateBadge(state string) views.Badge {
	switch state {
	case "available":
		return views.Badge{Text: "Due now", Tone: "muted"}
	case "scheduled":
		return views.Badge{Text: "Scheduled", Tone: "muted"}
	case "pending":
		return views.Badge{Text: "Pending", Tone: "muted"}
	case "running":
		return views.Badge{Text: "Running", Tone: "ok"}
	case "retryable":
		return views.Badge{Text: "Failed, will retry", Tone: "warn"}
	case "discarded":
		return views.Badge{Text: "Failed, gave up", Tone: "bad", Title: "No attempts left: it runs again only if retried"}
	case "completed":
		return views.Badge{Text: "Done", Tone: "ok"}
	case "cancelled":
		return views.Badge{Text: "Cancelled", Tone: "muted"}
	}
	return views.Badge{Text: state}
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
	p := h.page(c, title)
	p.Active = "jobs"
	return p
}

// showJobsPage is /admin/jobs: the background jobs of one state, newest
// first, with their attempts, times and last error.
func (h *Handler) showJobsPage(c echo.Context) error {
	ctx := c.Request().Context()
	g := jobGroupParam(c.QueryParam("state"))
	v := views.JobsView{Group: jobGroupWords[g]}
	if h.cfg.Jobs == nil {
		v.NotRunning = true
		return h.render(c, http.StatusOK, views.JobsPage(h.jobsPage(c, "Jobs"), v))
	}
	counts, err := h.cfg.Jobs.Counts(ctx)
	if err != nil {
		return err
	}
	for _, tg := range jobs.Groups {
		v.Tabs = append(v.Tabs, views.JobTab{Label: jobGroupWords[tg], Count: groupThousands(counts[tg]),
			Href: jobsHref(tg, 0), Current: tg == g, Key: string(tg)})
	}
	before, _ := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	list, more, err := h.cfg.Jobs.List(ctx, g, max(before, 0), jobsPerPage)
	if err != nil {
		return err
	}
	v.Summary = countOf(counts[g], "job", "jobs")
	if before > 0 {
		v.Newest = jobsHref(g, 0)
	}
	if more && len(list) > 0 {
		v.Older = jobsHref(g, list[len(list)-1].ID)
	}
	for _, j := range list {
		v.Rows = append(v.Rows, jobRow(j, g))
	}
	return h.render(c, http.StatusOK, views.JobsPage(h.jobsPage(c, "Jobs"), v))
}

func jobRow(j jobs.Job, g jobs.Group) views.JobRow {
	r := views.JobRow{ID: j.ID, What: sentenceCase(j.What), State: jobStateBadge(j.State),
		Attempts: strconv.Itoa(j.Attempt) + " of " + strconv.Itoa(j.MaxAttempts),
		Created:  formatTime(&j.CreatedAt), LastRun: formatTime(j.AttemptedAt), Finished: formatTime(j.FinalizedAt),
		Error: j.LastError, Group: string(g)}
	if j.AfterBoot {
		r.What += " (after start)"
	}
	if j.FinalizedAt == nil {
		r.Due = formatTime(&j.ScheduledAt)
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
	_, err = h.cfg.Jobs.Retry(c.Request().Context(), j.ID)
	switch {
	case errors.Is(err, jobs.ErrCannotRetry):
		h.setFlash(c, "error", jobLabel(j)+" cannot be retried: it is "+jobStateBadge(j.State).Text+".")
	case err != nil:
		return err
	default:
		h.log.Info("job retried by an admin", "job", j.ID, "kind", j.Kind, "admin", currentUser(c).Email)
		h.setFlash(c, "success", jobLabel(j)+" is due now: it runs within seconds.")
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
	if !j.CanCancel {
		h.setFlash(c, "info", jobLabel(j)+" is finished already: there is nothing to cancel.")
		return h.backToJobs(c, jobsHref(g, 0))
	}
	v := views.JobCancel{ID: j.ID, Label: jobLabel(j), Running: j.State == "running", Periodic: !j.AfterBoot,
		Back: string(g), BackHref: jobsHref(g, 0)}
	return h.render(c, http.StatusOK, views.JobCancelPage(h.jobsPage(c, "Cancel job"), v))
}

// cancelJob cancels a job that is not finished.
func (h *Handler) cancelJob(c echo.Context) error {
	j, err := h.jobParam(c)
	if err != nil {
		return err
	}
	back := jobsHref(jobGroupParam(c.FormValue("back")), 0)
	_, err = h.cfg.Jobs.Cancel(c.Request().Context(), j.ID)
	switch {
	case errors.Is(err, jobs.ErrCannotCancel):
		h.setFlash(c, "info", jobLabel(j)+" is finished already: there is nothing to cancel.")
	case errors.Is(err, jobs.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	case err != nil:
		return err
	default:
		h.log.Info("job cancelled by an admin", "job", j.ID, "kind", j.Kind, "admin", currentUser(c).Email)
		text := jobLabel(j) + " is cancelled."
		if j.State == "running" {
			text = jobLabel(j) + " is being cancelled: it stops within seconds and is not retried."
		}
		h.setFlash(c, "success", text)
	}
	return h.backToJobs(c, back)
}

// jobLabel names a job in a message: "Auto top-up #12".
func jobLabel(j jobs.Job) string {
	return sentenceCase(j.What) + " #" + strconv.FormatInt(j.ID, 10)
}

// backToJobs saves the flash and goes back to a tab of the Jobs page.
func (h *Handler) backToJobs(c echo.Context, to string) error {
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, to)
}
