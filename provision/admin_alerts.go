package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"whapidesk/internal/i18n"
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
	// Kind is the job's kind ("auto_top_up"): a mail names it in its
	// reader's language (mail.job_kind.<kind>), What when the catalog has
	// no word for it.
	Kind string
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
	d := alertData{Brand: s.brandName(), Estimate: estimate, Threshold: st.LowBalanceThreshold, Date: now}
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
	// The summary in each admin's language, rendered once per language.
	digests := map[string]renderedMail{}
	for i := range admins {
		u := &admins[i]
		loc := mailLoc(u)
		m, ok := digests[loc.Tag()]
		if !ok {
			dd, err := s.digestData(i18n.With(ctx, loc), d, tot, in.Failures, now, base)
			if err != nil {
				return rep, err
			}
			if m, err = renderDigest(loc, dd); err != nil {
				return rep, err
			}
			digests[loc.Tag()] = m
		}
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
// lists on their own, in the language ctx carries. Links point at the
// admin's pages on base (nil: no public address, no links).
func (s *Service) digestAttention(ctx context.Context, base *url.URL) ([]DigestItem, error) {
	items, err := s.Attention(ctx, nil)
	if err != nil {
		return nil, err
	}
	loc := i18n.From(ctx)
	out := make([]DigestItem, 0, len(items))
	for _, it := range items {
		n := it.Channel
		who := n.Email
		if n.UserName != "" {
			who = n.UserName + " <" + n.Email + ">"
		}
		at := loc.DateTime(it.Since)
		d := DigestItem{Title: fmt.Sprintf("%s (%s)", n.Name, who)}
		page := []string{"admin", "channels", strconv.FormatInt(n.ChannelID, 10), "connect"}
		switch it.Kind {
		case AttnDisconnected:
			d.Detail = loc.T("mail.digest.item_disconnected", "At", at)
		case AttnStuck:
			d.Detail = loc.T("mail.digest.item_stuck", "At", at)
		case AttnEnding:
			d.Detail = loc.T("mail.digest.item_ending", "At", at)
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
		Yesterday: day.Add(-24 * time.Hour)}
	for _, st := range CountedStates() {
		label, _ := StateLabel(st)
		dd.Channels = append(dd.Channels, stateCount{Label: LabelID(label), N: tot.Channels[st]})
	}
	return dd, nil
}

// queueAlert renders one admin alert in u's language and queues it.
func (s *Service) queueAlert(ctx context.Context, u *models.User, render func(*i18n.Localizer, alertData) (renderedMail, error), d alertData, key string, base *url.URL) (int, error) {
	m, err := render(mailLoc(u), d)
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
	Brand, Dashboard, Jobs string
	Date                   time.Time
	Estimate, Threshold    int64
	Job                    JobFailure
}

type stateCount struct {
	// Label is the catalog's id of the state's word.
	Label string
	N     int64
}

type digestData struct {
	alertData
	Yesterday           time.Time
	Allocated, Returned int64
	Channels            []stateCount
	Failures            []JobFailure
	Attention           []DigestItem
}

// jobWhat is a job given up, in the mail's words: the catalog's word for
// its kind, else the job queue's.
func jobWhat(loc *i18n.Localizer, f JobFailure) string {
	if f.Kind != "" {
		if id := "mail.job_kind." + f.Kind; i18n.Has(id) {
			return loc.T(id)
		}
	}
	return f.What
}

var lowBalanceMail = newMailTemplate("low-balance alert", `{{n "mail.low_balance.body" .Threshold "Estimate" .Estimate}}

{{t "mail.low_balance.stop"}} {{if .Dashboard}}{{t "mail.low_balance.record_text" "Dashboard" .Dashboard}}{{else}}{{t "mail.low_balance.record"}}{{end}}

{{.Brand}}
`, mailHead+`<p>{{n "mail.low_balance.body" .Threshold "Estimate" (strong .Estimate)}}</p>
<p>{{t "mail.low_balance.stop"}} {{if .Dashboard}}{{t "mail.low_balance.record_html" "Dashboard" (link .Dashboard (t "mail.low_balance.dashboard_link"))}}{{else}}{{t "mail.low_balance.record"}}{{end}}</p>
<p>{{.Brand}}</p>
</body></html>
`)

func renderLowBalance(loc *i18n.Localizer, d alertData) (renderedMail, error) {
	return lowBalanceMail.render(loc, "mail.low_balance.subject", d, "Brand", d.Brand, "Estimate", d.Estimate)
}

var jobFailureMail = newMailTemplate("job alert", `{{t "mail.job_failure.given_up"}}

  {{t "mail.job_failure.line" "What" (what .Job) "ID" (printf "%d" .Job.ID) "At" .Job.At}}

{{if .Jobs}}{{t "mail.job_failure.retry_text" "Jobs" .Jobs}}{{else}}{{t "mail.job_failure.retry"}}{{end}}

{{.Brand}}
`, mailHead+`<p>{{t "mail.job_failure.given_up"}}</p>
<p>{{t "mail.job_failure.line" "What" (strong (what .Job)) "ID" (printf "%d" .Job.ID) "At" .Job.At}}</p>
<p>{{if .Jobs}}{{t "mail.job_failure.retry_html" "Jobs" (link .Jobs (t "mail.job_failure.jobs_link"))}}{{else}}{{t "mail.job_failure.retry"}}{{end}}</p>
<p>{{.Brand}}</p>
</body></html>
`)

func renderJobFailure(loc *i18n.Localizer, d alertData) (renderedMail, error) {
	return jobFailureMail.render(loc, "mail.job_failure.subject", d, "Brand", d.Brand, "What", jobWhat(loc, d.Job))
}

var digestMail = newMailTemplate("daily summary", `{{t "mail.digest.title" "Brand" .Brand "Date" (date .Date)}}

{{if lt .Estimate .Threshold}}{{t "mail.digest.estimate_low" "Estimate" .Estimate "Threshold" .Threshold}}{{else}}{{t "mail.digest.estimate" "Estimate" .Estimate}}{{end}}
{{n "mail.digest.yesterday" .Allocated "Yesterday" (date .Yesterday) "Returned" .Returned}}

{{t "mail.digest.channels_list"}}
{{range .Channels}}  {{t "mail.digest.state" "State" (t .Label) "N" .N}}
{{end}}
{{if .Failures}}{{t "mail.digest.failed_list"}}
{{range .Failures}}  {{t "mail.job_failure.line" "What" (what .) "ID" (printf "%d" .ID) "At" .At}}
{{end}}{{else}}{{t "mail.digest.failed_none"}}{{end}}

{{if .Attention}}{{t "mail.digest.attention_list"}}
{{range .Attention}}  {{arg .Title}}{{if .Detail}} — {{.Detail}}{{end}}{{if .URL}}
    {{.URL}}{{end}}
{{end}}{{else}}{{t "mail.digest.attention_none"}}{{end}}
{{if .Dashboard}}
{{t "mail.digest.dashboard_text" "Dashboard" .Dashboard}}{{end}}

{{.Brand}}
`, mailHead+`<h2>{{t "mail.digest.title" "Brand" .Brand "Date" (date .Date)}}</h2>
<p>{{if lt .Estimate .Threshold}}{{t "mail.digest.estimate_low" "Estimate" (strong .Estimate) "Threshold" .Threshold}}{{else}}{{t "mail.digest.estimate" "Estimate" (strong .Estimate)}}{{end}}<br>
{{n "mail.digest.yesterday" .Allocated "Yesterday" (date .Yesterday) "Returned" .Returned}}</p>
<h3>{{t "mail.digest.channels"}}</h3>
<ul>{{range .Channels}}<li>{{t "mail.digest.state" "State" (t .Label) "N" .N}}</li>{{end}}</ul>
<h3>{{t "mail.digest.failed"}}</h3>
{{if .Failures}}<ul>{{range .Failures}}<li>{{t "mail.job_failure.line" "What" (what .) "ID" (printf "%d" .ID) "At" .At}}</li>{{end}}</ul>{{else}}<p>{{t "mail.digest.none"}}</p>{{end}}
<h3>{{t "mail.digest.attention"}}</h3>
{{if .Attention}}<ul>{{range .Attention}}<li>{{if .URL}}<a href="{{.URL}}">{{arg .Title}}</a>{{else}}{{arg .Title}}{{end}}{{if .Detail}} — {{.Detail}}{{end}}</li>{{end}}</ul>{{else}}<p>{{t "mail.digest.nothing"}}</p>{{end}}
{{if .Dashboard}}<p><a href="{{.Dashboard}}">{{t "mail.digest.open_dashboard"}}</a></p>{{end}}
<p>{{.Brand}}</p>
</body></html>
`)

func renderDigest(loc *i18n.Localizer, d digestData) (renderedMail, error) {
	return digestMail.render(loc, "mail.digest.subject", d, "Brand", d.Brand, "Date", loc.Date(d.Date))
}
