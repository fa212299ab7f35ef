package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
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

// queueDisconnectAlert renders and queues one alert (base nil: no link),
// in the owner's language. Its key is the channel and the AlertEvery
// period it falls in.
func (s *Service) queueDisconnectAlert(ctx context.Context, n models.ChannelNotice, base *url.URL, now time.Time) error {
	d := lineAlertData{Brand: s.brandName(), Name: n.UserName, Channel: n.Name, Since: n.Since.UTC()}
	if base != nil {
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
	u, err := s.store.UserByID(ctx, n.UserID)
	if err != nil {
		return err
	}
	m, err := alertMail.render(mailLoc(u), "mail.disconnect.subject", d, "Brand", d.Brand, "Channel", n.Name)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("channel:%d:%d", n.ChannelID, now.Unix()/int64(AlertEvery/time.Second))
	return s.store.InSQLTx(ctx, func(tx *sql.Tx) error {
		_, err := s.queueMail(ctx, tx, u, MailKindDisconnect, m, key, base)
		return err
	})
}

type lineAlertData struct {
	Brand, Name, Channel, Link, SignIn string
	Since, Ends                        time.Time
	Minutes                            int
	Days                               int
}

var alertMail = newMailTemplate("disconnect alert", `{{hello .Name}}

{{t "mail.disconnect.since" "Channel" .Channel "Brand" .Brand "Since" .Since}}
{{if .Link}}
{{t "mail.disconnect.scan"}}

{{.Link}}

{{n "mail.disconnect.link_minutes" .Minutes}} {{t "mail.disconnect.later_text" "SignIn" .SignIn}}
{{else if .SignIn}}
{{t "mail.disconnect.sign_in_text" "SignIn" .SignIn}}
{{else}}
{{t "mail.disconnect.no_link" "Brand" .Brand}}
{{end}}
{{.Brand}}
`, mailHead+`<p>{{hello .Name}}</p>
<p>{{t "mail.disconnect.since" "Channel" (strong .Channel) "Brand" .Brand "Since" .Since}}</p>
{{if .Link}}<p><a href="{{.Link}}" `+mailButton+`>{{t "mail.disconnect.button"}}</a></p>
<p>{{n "mail.disconnect.link_minutes" .Minutes}} {{t "mail.disconnect.later_html" "SignIn" (link .SignIn (t "mail.sign_in_link"))}}</p>
{{else if .SignIn}}<p>{{t "mail.disconnect.sign_in_html" "SignIn" (link .SignIn (t "mail.sign_in_link_start"))}}</p>
{{else}}<p>{{t "mail.disconnect.no_link" "Brand" .Brand}}</p>
{{end}}<p>{{.Brand}}</p>
</body></html>
`)

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
	// nil without a public address: the mail has no link, and the outbox
	// names its Message-ID's domain.
	base, _ := s.linkBase("")
	for _, n := range ending {
		left := n.Since.Sub(now)
		th := ReminderDays[0]
		for _, d := range ReminderDays {
			if left <= time.Duration(d)*day {
				th = d
			}
		}
		d := lineAlertData{Brand: s.brandName(), Name: n.UserName, Channel: n.Name, Days: th, Ends: n.Since.UTC()}
		if base != nil {
			d.SignIn = base.JoinPath("login").String()
		}
		u, err := s.store.UserByID(ctx, n.UserID)
		if err != nil {
			return rep, err
		}
		m, err := expiryMail.render(mailLoc(u), "mail.expiry.subject", d, "Brand", d.Brand, "Channel", n.Name, "Count", th)
		if err != nil {
			return rep, err
		}
		ch, err := s.store.ChannelByID(ctx, n.ChannelID)
		if err != nil {
			return rep, err
		}
		key := fmt.Sprintf("channel:%d:%dd:%s", n.ChannelID, th, n.Since.UTC().Format("2006-01-02"))
		if err := s.store.InSQLTx(ctx, func(tx *sql.Tx) error {
			if _, err := s.queueMail(ctx, tx, u, MailKindExpiry, m, key, base); err != nil {
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

var expiryMail = newMailTemplate("expiry reminder", `{{hello .Name}}

{{n "mail.expiry.ends" .Days "Channel" .Channel "Brand" .Brand "Ends" .Ends}}
{{t "mail.expiry.stops"}}

{{if .SignIn}}{{t "mail.expiry.ask_sign_in_text" "SignIn" .SignIn}}{{else}}{{t "mail.expiry.ask"}}{{end}}

{{.Brand}}
`, mailHead+`<p>{{hello .Name}}</p>
<p>{{n "mail.expiry.ends" .Days "Channel" (strong .Channel) "Brand" .Brand "Ends" .Ends}} {{t "mail.expiry.stops"}}</p>
<p>{{if .SignIn}}{{t "mail.expiry.ask_sign_in_html" "SignIn" (link .SignIn (t "mail.sign_in_link"))}}{{else}}{{t "mail.expiry.ask"}}{{end}}</p>
<p>{{.Brand}}</p>
</body></html>
`)
