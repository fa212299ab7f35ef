package provision

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/models"
)

// catalogID is a catalog id shown instead of its words.
var catalogID = regexp.MustCompile(`\b(mail|lifecycle|date)\.[a-z_]+`)

// Every mail renders in every language the catalog speaks: no catalog id
// shows instead of words (a missing or mistyped id), the HTML part says
// its language and direction, the links are the same in every language,
// and a user's text of the other direction is isolated in both parts.
func TestEveryMailInEveryLanguage(t *testing.T) {
	at := time.Date(2026, 12, 7, 19, 5, 0, 0, time.UTC)
	for _, l := range i18n.Languages {
		loc := i18n.For(l.Tag)
		d := lineAlertData{Brand: "Acme", Name: "ريم", Channel: "مكتب الاستقبال", Since: at, Ends: at,
			Link: "https://desk.example.com/l/TOKEN", SignIn: "https://desk.example.com/login", Minutes: 30, Days: 3}
		noLink := d
		noLink.Link, noLink.SignIn = "", ""
		ad := alertData{Brand: "Acme", Dashboard: "https://desk.example.com/admin", Jobs: "https://desk.example.com/admin/jobs",
			Date: at, Estimate: 12, Threshold: 50, Job: JobFailure{ID: 41, What: "auto top-up", Kind: "auto_top_up", At: at}}
		dd := digestData{alertData: ad, Yesterday: at.Add(-24 * time.Hour), Allocated: 3, Returned: 1,
			Channels:  []stateCount{{Label: LabelID("Active"), N: 2}},
			Failures:  []JobFailure{ad.Job},
			Attention: []DigestItem{{Title: "Sales (Ann <ann@example.com>)", Detail: "x", URL: "https://desk.example.com/admin/channels/1/connect"}}}
		mails := map[string]func() (renderedMail, error){
			"invitation": func() (renderedMail, error) {
				return renderInvitation(loc, invitationData{Brand: "Acme", Name: "Dana", Email: "dana@example.com",
					Link: "https://desk.example.com/set-password/TOKEN", Expires: at, Hours: 72})
			},
			"reset": func() (renderedMail, error) {
				return renderReset(loc, resetData{Brand: "Acme", Email: "dana@example.com", Link: "https://desk.example.com/set-password/TOKEN",
					Login: "https://desk.example.com/login", Expires: at, Minutes: 30})
			},
			"alert": func() (renderedMail, error) {
				return alertMail.render(loc, "mail.disconnect.subject", d, "Brand", "Acme", "Channel", d.Channel)
			},
			"alert no link": func() (renderedMail, error) {
				return alertMail.render(loc, "mail.disconnect.subject", noLink, "Brand", "Acme", "Channel", d.Channel)
			},
			"expiry": func() (renderedMail, error) {
				return expiryMail.render(loc, "mail.expiry.subject", d, "Brand", "Acme", "Channel", d.Channel, "Count", 3)
			},
			"low balance": func() (renderedMail, error) { return renderLowBalance(loc, ad) },
			"job failure": func() (renderedMail, error) { return renderJobFailure(loc, ad) },
			"digest":      func() (renderedMail, error) { return renderDigest(loc, dd) },
		}
		for name, render := range mails {
			m, err := render()
			if err != nil {
				t.Fatalf("%s %s: %v", l.Tag, name, err)
			}
			all := m.subject + m.text + m.html
			if catalogID.MatchString(all) || strings.Contains(all, "<no value>") {
				t.Errorf("%s %s: a catalog id or an unfilled placeholder:\n%s\n%s\n%s", l.Tag, name, m.subject, m.text, m.html)
			}
			if head := fmt.Sprintf(`<html lang="%s" dir="%s">`, l.Tag, l.Dir()); !strings.Contains(m.html, head) {
				t.Errorf("%s %s: the HTML part lacks %s", l.Tag, name, head)
			}
			for _, link := range []string{"https://desk.example.com/l/TOKEN", "https://desk.example.com/set-password/TOKEN", "https://desk.example.com/admin/jobs"} {
				if strings.Contains(m.text, link) != strings.Contains(m.html, `href="`+link+`"`) {
					t.Errorf("%s %s: %s is in one part only", l.Tag, name, link)
				}
			}
			if strings.Contains(m.text, "مكتب الاستقبال") && !strings.Contains(m.text, i18n.Isolate("مكتب الاستقبال")) {
				t.Errorf("%s %s: the Arabic channel name is not isolated in the text:\n%s", l.Tag, name, m.text)
			}
			if strings.Contains(m.html, "مكتب الاستقبال") && !strings.Contains(m.html, "<bdi>مكتب الاستقبال</bdi>") {
				t.Errorf("%s %s: the Arabic channel name is not isolated in the HTML:\n%s", l.Tag, name, m.html)
			}
			if testing.Verbose() && (name == "expiry" || name == "digest") {
				t.Logf("%s %s\n%s\n%s\n%s", l.Tag, name, m.subject, m.text, m.html)
			}
		}
	}
}

// A customer whose language is Arabic gets the expiry reminder in Arabic
// (the outbox holds it as it is sent): its subject and text in the
// catalog's words, with Arabic digits for the days, the HTML part right to
// left; a customer without a language gets it in English, as before.
func TestExpiryReminderInTheOwnersLanguage(t *testing.T) {
	e := newEnv(t)
	e.svc.SetPublicURL("https://desk.example.com")
	ar := e.customer("ar", 2, 30, 60)
	if err := e.store.SetUserLanguage(e.ctx, admin, ar.ID, "ar"); err != nil {
		t.Fatal(err)
	}
	arch := e.create(ar.ID, "خط المبيعات")
	en := e.customer("en", 2, 30, 60)
	ench := e.create(en.ID, "sales line")
	for _, ch := range []*models.Channel{arch, ench} {
		if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 10, Comment: "paid"}); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Set(e.channel(arch.ID).ActiveTill.Add(-3*24*time.Hour + time.Hour))
	if _, err := e.svc.ExpiryReminders(e.ctx); err != nil {
		t.Fatal(err)
	}
	var got map[string]models.Mail = map[string]models.Mail{}
	for _, m := range e.mails(MailKindExpiry) {
		got[m.To] = m
	}
	m, ok := got[e.user(ar.ID).Email]
	if !ok {
		t.Fatalf("no reminder to the Arabic customer: %v", got)
	}
	for _, want := range []string{"يتوقف خلال ٣ أيام", "«\u2068خط المبيعات\u2069»"} {
		if !strings.Contains(m.Subject, want) {
			t.Errorf("subject %q lacks %q", m.Subject, want)
		}
	}
	for _, want := range []string{"تنتهي المدة المدفوعة لخطك", "خلال ٣ أيام أو أقل", "اطلب من مزوّد الخدمة تمديده", "https://desk.example.com/login"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the text lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, `<html lang="ar" dir="rtl">`) || !strings.Contains(m.HTML, "<bdi>خط المبيعات</bdi>") {
		t.Errorf("the HTML part:\n%s", m.HTML)
	}
	if m := got[e.user(en.ID).Email]; m.Subject != `LinkDesk: "sales line" stops in 3 days` || !strings.Contains(m.Text, "in 3 days or less") {
		t.Errorf("the English reminder %q:\n%s", m.Subject, m.Text)
	}
}
