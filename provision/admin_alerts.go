package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strconv"
	texttemplate "text/template"
	"time"

	"whapidesk/models"
)

// The admins' mails (issue 16, point 3): an alert at once for what is
// critical — the partner's estimated days under the low-balance threshold
// (once per admin per UTC day while it stays under), a background job given
// up after its last attempt (once per admin per job) — and otherwise one
// daily summary per admin (once per admin per UTC day, from the digest hour
// on). A periodic job (jobs/admin_alerts.go, claimed through the database,
// unique per period) calls AdminAlerts; each mail's unique key in the
// outbox is what keeps it to once, however often the job runs, on however
// many instances. Every mail goes through queueMail, so an admin who
// switched a kind off gets none of it.

// DefaultDigestHour is the UTC hour the daily summary is due from
// (WHAPIDESK_DIGEST_HOUR).
const DefaultDigestHour = 7

// JobFailure is a background job given up after its last attempt, as the
// job queue reports it.
//
// Its error is not carried: it may quote the upstream service, whose name
// no mail carries; the Jobs page shows it.
type JobFailure struct {
	ID   int64
	What string // the kind in words: "auto top-up"
	At   time.Time
}

// DigestItem is one line of the summary's "Needs attention" section:
// plain words and a link (a full URL, or none without a public address).
type DigestItem struct {
	Title, Detail, URL string
}

// AlertInput is what the alerts job knows that provision does not: the
// job queue's failures.
type AlertInput struct {
	// Failures are the jobs given up in the last day (the job queue's
	// own mail jobs excluded: a mail that cannot be sent is on the Outbox
	// page, and alerting by mail about it would feed itself).
	Failures []JobFailure
	// DigestHour is the UTC hour from which today's summary is due.
	DigestHour int
}

// AlertReport says what one run queued (mails already queued by an
// earlier run are not counted again).
type AlertReport struct {
	Admins, Alerts, Digests int
}

// AdminAlerts queues the admins' due alerts and, from the digest hour on,
// today's summary, each in a transaction of its own. Safe to run again at
// any time: what was queued before is not queued twice.
func (s *Service) AdminAlerts(ctx context.Context, in AlertInput) (AlertReport, error) {
	var rep AlertReport
	admins, err := s.store.EnabledAdmins(ctx)
	if err != nil || len(admins) == 0 {
		return rep, err
	}
	rep.Admins = len(admins)
	st, err := s.store.Settings(ctx)
	if err != nil {
		return rep, err
	}
	tot, err := s.store.DashboardTotals(ctx)
	if err != nil {
		return rep, err
	}
	now := s.now().UTC()
	today := now.Format(time.DateOnly)
	base, err := s.linkBase("")
	if errors.Is(err, ErrNoLinkBase) {
		base = nil // no public address: the mails carry no links
	} else if err != nil {
		return rep, err
	}
	estimate := tot.Partner.Estimate()
	d := alertData{Brand: s.brandName(), Estimate: estimate, Threshold: st.LowBalanceThreshold, Date: today}
	if base != nil {
		d.Dashboard, d.Jobs = base.JoinPath("admin").String(), base.JoinPath("admin", "jobs").String()
	}

	for i := range admins {
		u := &admins[i]
		if estimate < st.LowBalanceThreshold {
			n, err := s.queueAlert(ctx, u, renderLowBalance, d, "partner_low:"+today+":user:"+strconv.FormatInt(u.ID, 10), base)
			if err != nil {
				return rep, err
			}
			rep.Alerts += n
		}
		for _, f := range in.Failures {
			fd := d
			fd.Job = f
			n, err := s.queueAlert(ctx, u, renderJobFailure, fd, fmt.Sprintf("job:%d:user:%d", f.ID, u.ID), base)
			if err != nil {
				return rep, err
			}
			rep.Alerts += n
		}
	}

	if now.Hour() < in.DigestHour {
		return rep, nil
	}
	dd, err := s.digestData(ctx, d, tot, in.Failures, now, base)
	if err != nil {
		return rep, err
	}
	m, err := renderDigest(dd)
	if err != nil {
		return rep, err
	}
	for i := range admins {
		u := &admins[i]
		n, err := s.queueOnce(ctx, u, MailKindAdminDigest, m, today+":user:"+strconv.FormatInt(u.ID, 10), base)
		if err != nil {
			return rep, err
		}
		rep.Digests += n
	}
	return rep, nil
}

// digestAttention is the summary's "Needs attention" section: the
// Attention list (attention.go) without its failed jobs, which the summary
// lists on their own. Links point at the admin's pages on base (nil: no
// public address, no links).
func (s *Service) digestAttention(ctx context.Context, base *url.URL) ([]DigestItem, error) {
	items, err := s.Attention(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]DigestItem, 0, len(items))
	for _, it := range items {
		n := it.Channel
		who := n.Email
		if n.UserName != "" {
			who = n.UserName + " <" + n.Email + ">"
		}
		at := it.Since.UTC().Format("2 Jan 2006 15:04 UTC")
		d := DigestItem{Title: fmt.Sprintf("%s (%s)", n.Name, who)}
		page := []string{"admin", "channels", strconv.FormatInt(n.ChannelID, 10), "connect"}
		switch it.Kind {
		case AttnDisconnected:
			d.Detail = "disconnected since " + at
		case AttnStuck:
			d.Detail = "being set up since " + at
		case AttnEnding:
			d.Detail = "paid time ends " + at + " and the automatic top-up will not extend it"
			page = []string{"admin", "users", strconv.FormatInt(n.UserID, 10)}
		default:
			continue
		}
		if base != nil {
			d.URL = base.JoinPath(page...).String()
		}
		out = append(out, d)
	}
	return out, nil
}

// digestData gathers the summary: the partner's estimate, the days moved
// yesterday (UTC), the channels by state, the jobs given up in the last
// day, and the Attention list.
func (s *Service) digestData(ctx context.Context, d alertData, tot models.Dashboard, failures []JobFailure, now time.Time, base *url.URL) (digestData, error) {
	day := now.Truncate(24 * time.Hour)
	moves, err := s.store.DayMovesBetween(ctx, day.Add(-24*time.Hour), day)
	if err != nil {
		return digestData{}, err
	}
	att, err := s.digestAttention(ctx, base)
	if err != nil {
		return digestData{}, err
	}
	dd := digestData{alertData: d, Allocated: moves.Allocated, Returned: moves.Returned, Failures: failures, Attention: att,
		Yesterday: day.Add(-24 * time.Hour).Format(time.DateOnly)}
	for _, st := range CountedStates() {
		label, _ := StateLabel(st)
		dd.Channels = append(dd.Channels, stateCount{Label: label, N: tot.Channels[st]})
	}
	return dd, nil
}

// queueAlert renders and queues one admin alert.
func (s *Service) queueAlert(ctx context.Context, u *models.User, render func(alertData) (renderedMail, error), d alertData, key string, base *url.URL) (int, error) {
	m, err := render(d)
	if err != nil {
		return 0, err
	}
	return s.queueOnce(ctx, u, MailKindAdminAlert, m, key, base)
}

// queueOnce queues m for u in a transaction of its own and says whether a
// new outbox row was written (0: queued before, or switched off).
func (s *Service) queueOnce(ctx context.Context, u *models.User, kind string, m renderedMail, key string, base *url.URL) (int, error) {
	var n int
	err := s.store.InSQLTx(ctx, func(tx *sql.Tx) error {
		queued, err := s.queueMail(ctx, tx, u, kind, m, key, base)
		if queued {
			n = 1
		}
		return err
	})
	return n, err
}

type alertData struct {
	Brand, Date, Dashboard, Jobs string
	Estimate, Threshold          int64
	Job                          JobFailure
}

type stateCount struct {
	Label string
	N     int64
}

type digestData struct {
	alertData
	Yesterday           string
	Allocated, Returned int64
	Channels            []stateCount
	Failures            []JobFailure
	Attention           []DigestItem
}

const mailHead = `<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Brand}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #222;">
`

var lowBalanceText = texttemplate.Must(texttemplate.New("text").Parse(`The partner account's estimated days are down to {{.Estimate}},
under the warning threshold of {{.Threshold}} days.

New channels and extensions stop once no days are left. Record the days
you buy on the dashboard{{if .Dashboard}}: {{.Dashboard}}{{end}}

{{.Brand}}
`))

var lowBalanceHTML = htmltemplate.Must(htmltemplate.New("html").Parse(mailHead + `<p>The partner account's estimated days are down to <strong>{{.Estimate}}</strong>, under the warning threshold of {{.Threshold}} days.</p>
<p>New channels and extensions stop once no days are left. Record the days you buy on {{if .Dashboard}}<a href="{{.Dashboard}}">the dashboard</a>{{else}}the dashboard{{end}}.</p>
<p>{{.Brand}}</p>
</body></html>
`))

func renderLowBalance(d alertData) (renderedMail, error) {
	return renderMail("low-balance alert", fmt.Sprintf("%s: partner days low (%d left)", d.Brand, d.Estimate), lowBalanceText, lowBalanceHTML, d)
}

var jobFailureText = texttemplate.Must(texttemplate.New("text").Parse(`A background job failed its last attempt and was given up:

  {{.Job.What}} (job {{.Job.ID}}), at {{.Job.At.UTC.Format "2 January 2006, 15:04 UTC"}}

Its error is on the Jobs page, where it can be retried{{if .Jobs}}: {{.Jobs}}{{end}}

{{.Brand}}
`))

var jobFailureHTML = htmltemplate.Must(htmltemplate.New("html").Parse(mailHead + `<p>A background job failed its last attempt and was given up:</p>
<p><strong>{{.Job.What}}</strong> (job {{.Job.ID}}), at {{.Job.At.UTC.Format "2 January 2006, 15:04 UTC"}}</p>
<p>Its error is on {{if .Jobs}}<a href="{{.Jobs}}">the Jobs page</a>{{else}}the Jobs page{{end}}, where it can be retried.</p>
<p>{{.Brand}}</p>
</body></html>
`))

func renderJobFailure(d alertData) (renderedMail, error) {
	return renderMail("job alert", fmt.Sprintf("%s: a background job failed (%s)", d.Brand, d.Job.What), jobFailureText, jobFailureHTML, d)
}

var digestText = texttemplate.Must(texttemplate.New("text").Parse(`{{.Brand}} — summary of {{.Date}}

Partner days (estimate): {{.Estimate}}{{if lt .Estimate .Threshold}} — under the warning threshold of {{.Threshold}}{{end}}
Yesterday ({{.Yesterday}}): {{.Allocated}} days allocated to channels, {{.Returned}} returned

Channels:
{{range .Channels}}  {{.Label}}: {{.N}}
{{end}}
Failed jobs (last 24 hours): {{if .Failures}}
{{range .Failures}}  {{.What}} (job {{.ID}}), at {{.At.UTC.Format "15:04 UTC"}}
{{end}}{{else}}none{{end}}

Needs attention: {{if .Attention}}
{{range .Attention}}  {{.Title}}{{if .Detail}} — {{.Detail}}{{end}}{{if .URL}}
    {{.URL}}{{end}}
{{end}}{{else}}nothing{{end}}
{{if .Dashboard}}
Dashboard: {{.Dashboard}}{{end}}

{{.Brand}}
`))

var digestHTML = htmltemplate.Must(htmltemplate.New("html").Parse(mailHead + `<h2>{{.Brand}} — summary of {{.Date}}</h2>
<p>Partner days (estimate): <strong>{{.Estimate}}</strong>{{if lt .Estimate .Threshold}} — under the warning threshold of {{.Threshold}}{{end}}<br>
Yesterday ({{.Yesterday}}): {{.Allocated}} days allocated to channels, {{.Returned}} returned</p>
<h3>Channels</h3>
<ul>{{range .Channels}}<li>{{.Label}}: {{.N}}</li>{{end}}</ul>
<h3>Failed jobs (last 24 hours)</h3>
{{if .Failures}}<ul>{{range .Failures}}<li>{{.What}} (job {{.ID}}), at {{.At.UTC.Format "15:04 UTC"}}</li>{{end}}</ul>{{else}}<p>None.</p>{{end}}
<h3>Needs attention</h3>
{{if .Attention}}<ul>{{range .Attention}}<li>{{if .URL}}<a href="{{.URL}}">{{.Title}}</a>{{else}}{{.Title}}{{end}}{{if .Detail}} — {{.Detail}}{{end}}</li>{{end}}</ul>{{else}}<p>Nothing.</p>{{end}}
{{if .Dashboard}}<p><a href="{{.Dashboard}}">Open the dashboard</a></p>{{end}}
<p>{{.Brand}}</p>
</body></html>
`))

func renderDigest(d digestData) (renderedMail, error) {
	return renderMail("daily summary", fmt.Sprintf("%s: daily summary, %s", d.Brand, d.Date), digestText, digestHTML, d)
}
