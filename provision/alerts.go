package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	texttemplate "text/template"
	"time"

	"whapidesk/internal/webhookout"
	"whapidesk/models"
)

// The disconnect alert and the expiry reminders (issue 16, point 3): mails
// to a channel's owner, found by periodic jobs (jobs/alerts.go), queued
// through queueMail with a unique key so a second run, a restart or a
// second instance queues none twice.
//
// The disconnect alert: a linked channel disconnected longer than
// DisconnectAlertAfter; at most one per channel per AlertEvery. It carries
// a fresh connect link (FreshConnectLink) on the public address
// (WHAPIDESK_PUBLIC_URL). A job has no request to take an origin from, so
// without a public address the mail carries no link: it tells the owner to
// sign in and reconnect from the dashboard, and a warning is logged once.
//
// The expiry reminders: 7, 3 and 1 days (ReminderDays) before a channel's
// paid time ends, when the automatic top-up will not extend it
// (models.ChannelsEnding leaves out what the top-up covers); one per
// channel, threshold and end date.

// Mail kinds of the alerts (the outbox's kind).
const (
	MailKindDisconnect = "disconnect_alert"
	MailKindExpiry     = "expiry_reminder"
)

// AlertEvery is the least time between two disconnect alerts of a channel.
const AlertEvery = 6 * time.Hour

// ReminderDays are the expiry reminders' thresholds, largest first.
var ReminderDays = []int{7, 3, 1}

// noLinkHost names the Message-ID's domain when no public address is
// known.
const noLinkHost = "localhost"

// LineAlertReport counts what a run of the disconnect alerts or the expiry
// reminders queued.
type LineAlertReport struct {
	Queued, Skipped int
}

// DisconnectAlerts queues the disconnect alert of every channel
// disconnected longer than the delay whose owner was not alerted of it
// within AlertEvery: what the periodic job runs.
func (s *Service) DisconnectAlerts(ctx context.Context) (LineAlertReport, error) {
	var rep LineAlertReport
	down, err := s.Disconnected(ctx, 0)
	if err != nil {
		return rep, err
	}
	now := s.now()
	base, baseErr := s.linkBase("")
	if baseErr != nil {
		s.history.noLinkOnce.Do(func() {
			s.log.WarnContext(ctx, "disconnect alerts go without a reconnect link: set WHAPIDESK_PUBLIC_URL so mails can link to the app")
		})
	}
	for _, n := range down {
		prefix := fmt.Sprintf("channel:%d:", n.ChannelID)
		sent, err := s.store.MailSentSince(ctx, MailKindDisconnect, prefix, now.Add(-AlertEvery))
		if err != nil {
			return rep, err
		}
		if sent {
			rep.Skipped++
			continue
		}
		if err := s.queueDisconnectAlert(ctx, n, base, now); err != nil {
			return rep, fmt.Errorf("provision: disconnect alert of channel %d: %w", n.ChannelID, err)
		}
		rep.Queued++
	}
	return rep, nil
}

// queueDisconnectAlert renders and queues one alert (base nil: no link).
// Its key is the channel and the AlertEvery period it falls in.
func (s *Service) queueDisconnectAlert(ctx context.Context, n models.ChannelNotice, base *url.URL, now time.Time) error {
	d := lineAlertData{Brand: s.brandName(), Name: n.UserName, Channel: n.Name,
		Since: n.Since.UTC().Format("2 January 2006, 15:04 UTC")}
	msgBase := &url.URL{Scheme: "https", Host: noLinkHost}
	if base != nil {
		msgBase = base
		d.SignIn = base.JoinPath("login").String()
		l, err := s.FreshConnectLink(ctx, n.ChannelID)
		switch {
		case errors.Is(err, ErrNotConnectable) || errors.Is(err, models.ErrNotFound):
			// Its state changed since it was listed: the mail says to sign in.
		case err != nil:
			return err
		default:
			d.Link = l.URL
			d.Minutes = int(ConnectLinkDefault / time.Minute)
		}
	}
	m, err := renderMail("disconnect alert", fmt.Sprintf("%s: %q is disconnected", d.Brand, n.Name), alertText, alertHTML, d)
	if err != nil {
		return err
	}
	u, err := s.store.UserByID(ctx, n.UserID)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("channel:%d:%d", n.ChannelID, now.Unix()/int64(AlertEvery/time.Second))
	return s.store.InSQLTx(ctx, func(tx *sql.Tx) error {
		_, err := s.queueMail(ctx, tx, u, MailKindDisconnect, m, key, msgBase)
		return err
	})
}

type lineAlertData struct {
	Brand, Name, Channel, Since, Link, SignIn string
	Minutes                                   int
	Days                                      int
	Ends                                      string
}

var alertText = texttemplate.Must(texttemplate.New("text").Parse(`Hello{{if .Name}} {{.Name}}{{end}},

Your line "{{.Channel}}" on {{.Brand}} has been disconnected since {{.Since}}:
no messages go through it until your phone is linked again.
{{if .Link}}
Reconnect it by scanning a new code with your phone:

{{.Link}}

The link works for {{.Minutes}} minutes. Later, sign in at {{.SignIn}}
and choose Reconnect on your dashboard.
{{else if .SignIn}}
Sign in at {{.SignIn}} and choose Reconnect on your dashboard.
{{else}}
Sign in to {{.Brand}} and choose Reconnect on your dashboard.
{{end}}
{{.Brand}}
`))

var alertHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Brand}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #222;">
<p>Hello{{if .Name}} {{.Name}}{{end}},</p>
<p>Your line <strong>{{.Channel}}</strong> on {{.Brand}} has been disconnected since {{.Since}}: no messages go through it until your phone is linked again.</p>
{{if .Link}}<p><a href="{{.Link}}" style="display: inline-block; padding: 0.6em 1.2em; background: #1a5fb4; color: #fff; text-decoration: none; border-radius: 4px;">Reconnect</a></p>
<p>The link works for {{.Minutes}} minutes. Later, <a href="{{.SignIn}}">sign in</a> and choose Reconnect on your dashboard.</p>
{{else if .SignIn}}<p><a href="{{.SignIn}}">Sign in</a> and choose Reconnect on your dashboard.</p>
{{else}}<p>Sign in to {{.Brand}} and choose Reconnect on your dashboard.</p>
{{end}}<p>{{.Brand}}</p>
</body></html>
`))

// ExpiryReminders queues the reminders due now: for each channel whose
// paid time ends within the largest threshold and that the top-up will
// not extend, the reminder of the smallest threshold it is within (one
// missed while the app was down is not sent late: the next one is).
func (s *Service) ExpiryReminders(ctx context.Context) (LineAlertReport, error) {
	var rep LineAlertReport
	now := s.now()
	ending, err := s.store.ChannelsEnding(ctx, liveStates(), now, now.Add(time.Duration(ReminderDays[0])*day))
	if err != nil {
		return rep, err
	}
	base, baseErr := s.linkBase("")
	msgBase := &url.URL{Scheme: "https", Host: noLinkHost}
	if baseErr == nil {
		msgBase = base
	}
	for _, n := range ending {
		left := n.Since.Sub(now)
		th := ReminderDays[0]
		for _, d := range ReminderDays {
			if left <= time.Duration(d)*day {
				th = d
			}
		}
		d := lineAlertData{Brand: s.brandName(), Name: n.UserName, Channel: n.Name, Days: th,
			Ends: n.Since.UTC().Format("2 January 2006, 15:04 UTC")}
		if baseErr == nil {
			d.SignIn = base.JoinPath("login").String()
		}
		m, err := renderMail("expiry reminder", fmt.Sprintf("%s: %q stops in %s", d.Brand, n.Name, daysWords(th)), expiryText, expiryHTML, d)
		if err != nil {
			return rep, err
		}
		u, err := s.store.UserByID(ctx, n.UserID)
		if err != nil {
			return rep, err
		}
		ch, err := s.store.ChannelByID(ctx, n.ChannelID)
		if err != nil {
			return rep, err
		}
		key := fmt.Sprintf("channel:%d:%dd:%s", n.ChannelID, th, n.Since.UTC().Format("2006-01-02"))
		if err := s.store.InSQLTx(ctx, func(tx *sql.Tx) error {
			if _, err := s.queueMail(ctx, tx, u, MailKindExpiry, m, key, msgBase); err != nil {
				return err
			}
			// The reseller's systems hear of it too (channel.expiring),
			// once per channel, threshold and end, as the mail.
			return s.queueEventOnce(ctx, tx, webhookout.ChannelExpiring, key, map[string]any{
				"channel": ChannelJSON(ch), "days_left": th})
		}); err != nil {
			return rep, fmt.Errorf("provision: expiry reminder of channel %d: %w", n.ChannelID, err)
		}
		rep.Queued++
	}
	return rep, nil
}

func daysWords(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

var expiryText = texttemplate.Must(texttemplate.New("text").Parse(`Hello{{if .Name}} {{.Name}}{{end}},

The paid time of your line "{{.Channel}}" on {{.Brand}} ends on {{.Ends}},
in {{if eq .Days 1}}a day or less{{else}}{{.Days}} days or less{{end}}. It will not be extended by itself: after that
date it stops sending and receiving messages.

Ask your provider to extend it{{if .SignIn}}, or sign in at {{.SignIn}} to see
its days{{end}}.

{{.Brand}}
`))

var expiryHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Brand}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #222;">
<p>Hello{{if .Name}} {{.Name}}{{end}},</p>
<p>The paid time of your line <strong>{{.Channel}}</strong> on {{.Brand}} ends on {{.Ends}}, in {{if eq .Days 1}}a day or less{{else}}{{.Days}} days or less{{end}}. It will not be extended by itself: after that date it stops sending and receiving messages.</p>
<p>Ask your provider to extend it{{if .SignIn}}, or <a href="{{.SignIn}}">sign in</a> to see its days{{end}}.</p>
<p>{{.Brand}}</p>
</body></html>
`))
