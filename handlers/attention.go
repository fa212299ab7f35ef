package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/jobs"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// The admin's Attention list (issue 16, point 1): provision.Attention's
// items in words, each with its action. The same items feed the
// dashboard's count (attentionCount).

// attentionWords are each kind's words on the page (catalog ids).
var attentionWords = map[provision.AttentionKind]string{
	provision.AttnDisconnected: "attention.kind.disconnected",
	provision.AttnStuck:        "attention.kind.stuck",
	provision.AttnEnding:       "attention.kind.ending",
	provision.AttnJobFailed:    "attention.kind.job_failed",
}

// failedJobs is the queue's list of failed jobs (nil when the handlers
// run without a queue, as some tests do).
func (h *Handler) failedJobs() provision.FailedJobs {
	if fj, ok := h.cfg.Jobs.(provision.FailedJobs); ok {
		return fj
	}
	return nil
}

// attentionRows gathers the Attention list in words.
// The words come from ctx's localizer (the reader's language).
func (h *Handler) attentionRows(ctx context.Context) ([]views.AttentionRow, error) {
	items, err := h.svc.Attention(ctx, h.failedJobs())
	if err != nil {
		return nil, err
	}
	l := i18n.From(ctx)
	now := h.svc.Now()
	rows := make([]views.AttentionRow, 0, len(items))
	for _, it := range items {
		r := views.AttentionRow{Kind: string(it.Kind), What: l.T(attentionWords[it.Kind])}
		at := it.Since
		switch it.Kind {
		case provision.AttnJobFailed:
			r.Subject, r.Detail, r.Href = jobWords(l, it.Job.Kind, it.Job.What)+" #"+strconv.FormatInt(it.Job.ID, 10), it.Job.Error,
				jobsHref(jobs.GroupFailed, 0)
			r.Since = l.T("attention.since", "When", l.DateTime(at), "Ago", agoLoc(l, now.Sub(at)))
		case provision.AttnEnding:
			r.Subject, r.Owner = it.Channel.Name, it.Channel.Email
			r.Href = "/admin/users/" + strconv.FormatInt(it.Channel.UserID, 10)
			r.Since = l.T("attention.ends", "When", l.DateTime(at), "Left", daysLeftWords(l, &at, now))
		default:
			r.Subject, r.Owner = it.Channel.Name, it.Channel.Email
			r.Href = adminConnectPath(it.Channel.ChannelID, "")
			r.Since = l.T("attention.since", "When", l.DateTime(at), "Ago", agoLoc(l, now.Sub(at)))
			if it.Kind == provision.AttnDisconnected {
				r.LinkAction = adminChannelBase(it.Channel.ChannelID) + "/connect-links"
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func (h *Handler) showAttentionPage(c echo.Context) error {
	rows, err := h.attentionRows(c.Request().Context())
	if err != nil {
		return err
	}
	p := h.page(c, loc(c).T("attention.title"))
	p.Active = "attention"
	return h.render(c, http.StatusOK, views.AttentionPage(p, views.AttentionView{Rows: rows,
		AlertAfter: durationLoc(loc(c), h.svc.DisconnectAlertAfter()), LinkMinutes: strconv.Itoa(int(provision.ConnectLinkDefault / time.Minute))}))
}

// agoLoc says how long ago something was, in l's language: "just now",
// "12 min ago", "3 h ago", "4 days ago".
func agoLoc(l *i18n.Localizer, d time.Duration) string {
	switch {
	case d < time.Minute:
		return l.T("attention.ago.just_now")
	case d < time.Hour:
		return l.N("attention.ago.minutes", int64(d/time.Minute))
	case d < 48*time.Hour:
		return l.N("attention.ago.hours", int64(d/time.Hour))
	}
	return l.N("attention.ago.days", int64(d/(24*time.Hour)))
}

// durationLoc says a delay in l's words: "5 minutes", "1 hour", "90
// seconds".
func durationLoc(l *i18n.Localizer, d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return l.N("attention.duration.hours", int64(d/time.Hour))
	case d%time.Minute == 0:
		return l.N("attention.duration.minutes", int64(d/time.Minute))
	}
	return l.N("attention.duration.seconds", int64(d/time.Second))
}

// historyLines are a channel's link line and uptime for its connect page
// (the owner's and the admin's view), read after the page's look at the
// line; "" when the history does not know, or cannot be read (logged:
// the page shows the rest).
func (h *Handler) historyLines(ctx context.Context, id int64) (link, uptime string) {
	ch, err := h.store.ChannelByID(ctx, id)
	if err != nil {
		h.log.WarnContext(ctx, "channel history: read the channel", "channel", id, "err", err)
		return "", ""
	}
	since, err := h.svc.LinkSinces(ctx, []models.Channel{*ch})
	if err != nil {
		h.log.WarnContext(ctx, "channel history: read the link's changes", "channel", id, "err", err)
		return "", ""
	}
	l := i18n.From(ctx)
	if link = custLinkLine(l, since[id], h.svc.Now()); link == "" {
		return "", ""
	}
	up, err := h.svc.Uptime(ctx, ch)
	if err != nil {
		h.log.WarnContext(ctx, "channel history: uptime", "channel", id, "err", err)
		return "", ""
	}
	return link, l.T("app.uptime_line", "Week", fmt.Sprintf("%.1f", up.Week), "Month", fmt.Sprintf("%.1f", up.Month))
}
