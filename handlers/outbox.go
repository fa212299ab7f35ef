package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/views"
)

const mailsPerPage = 50

// mailStateBadge is an outbox state in l's words.
func mailStateBadge(l *i18n.Localizer, m *models.Mail, configured bool) views.Badge {
	switch m.State {
	case models.MailQueued:
		if !configured {
			return views.Badge{Key: "outbox.state.queued", Tone: "muted", Title: l.T("outbox.state.queued_unconfigured")}
		}
		if m.LastError != "" {
			return views.Badge{Key: "outbox.state.retrying", Tone: "warn", Title: l.T("outbox.state.retrying_title")}
		}
		return views.Badge{Key: "outbox.state.queued", Tone: "muted"}
	case models.MailSending:
		return views.Badge{Key: "outbox.state.sending", Tone: "ok"}
	case models.MailSent:
		return views.Badge{Key: "outbox.state.sent", Tone: "ok"}
	case models.MailFailed:
		return views.Badge{Key: "outbox.state.failed", Tone: "bad", Title: l.T("outbox.state.failed_title")}
	}
	return views.Badge{Text: string(m.State)}
}

// mailKindWords is an outbox kind in l's words: the catalog's
// outbox.kind table, else the kind itself.
func mailKindWords(l *i18n.Localizer, kind string) string {
	if id := "outbox.kind." + kind; i18n.Has(id) {
		return l.T(id)
	}
	return sentenceCase(strings.ReplaceAll(kind, "_", " "))
}

func mailHref(id int64) string { return "/admin/outbox/" + strconv.FormatInt(id, 10) }

func mailRow(l *i18n.Localizer, m *models.Mail, configured bool) views.OutboxRow {
	r := views.OutboxRow{ID: m.ID, Href: mailHref(m.ID), State: mailStateBadge(l, m, configured), Kind: mailKindWords(l, m.Kind),
		To: m.To, Subject: m.Subject, Created: l.DateTime(m.CreatedAt), Attempts: l.Number(int64(m.Attempts)), LastError: m.LastError}
	if m.State == models.MailFailed {
		r.RetryAction = mailHref(m.ID) + "/retry"
	}
	return r
}

func (h *Handler) outboxPage(c echo.Context, title string) views.Page {
	p := h.page(c, title)
	p.Active = "outbox"
	return p
}

// showOutboxPage is /admin/outbox: every mail, newest first, with its
// state, attempts and last error, and a banner when mail is not
// configured.
func (h *Handler) showOutboxPage(c echo.Context) error {
	page := listPageNumber(c)
	list, n, err := h.store.Mails(c.Request().Context(), mailsPerPage, (page-1)*mailsPerPage)
	if err != nil {
		return err
	}
	configured := h.svc.MailConfigured()
	v := views.OutboxView{NotConfigured: !configured,
		Pager: listPager(c, models.ListTotal{N: n}, mailsPerPage, page, func(k int) string {
			return "/admin/outbox?page=" + strconv.Itoa(k)
		})}
	for i := range list {
		v.Rows = append(v.Rows, mailRow(loc(c), &list[i], configured))
	}
	return h.render(c, http.StatusOK, views.OutboxPage(h.outboxPage(c, loc(c).T("outbox.title")), v))
}

// mailParam reads the mail of /admin/outbox/:id; 404 when there is none.
func (h *Handler) mailParam(c echo.Context) (*models.Mail, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, echo.NewHTTPError(http.StatusNotFound)
	}
	m, err := h.store.MailByID(c.Request().Context(), id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound)
	}
	return m, err
}

// showMailPage is one mail as it is (or was) sent: its HTML part in a
// sandboxed frame, its text part, the server's answer.
func (h *Handler) showMailPage(c echo.Context) error {
	m, err := h.mailParam(c)
	if err != nil {
		return err
	}
	configured := h.svc.MailConfigured()
	v := views.MailView{Row: mailRow(loc(c), m, configured), MessageID: "<" + m.MessageID + ">", Sent: dateTimeOf(loc(c), m.SentAt),
		Reply: m.Reply, Text: m.Text, NotConfigured: !configured && m.State == models.MailQueued}
	if m.HTML != "" {
		v.HTMLHref = "/admin/outbox/" + strconv.FormatInt(m.ID, 10) + "/html"
	}
	return h.render(c, http.StatusOK, views.MailPage(h.outboxPage(c, m.Subject), v))
}

// mailHTMLPolicy is the Content-Security-Policy of a mail's HTML part shown
// on its own (showMailHTML): the inline styles a mail carries, pictures
// inlined as data, nothing else — no script, no request out (a mail's
// remote picture would tell its sender the admin looked) — sandboxed, and
// framed only by the app's own mail page.
const mailHTMLPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

// showMailHTML answers a mail's HTML part alone, for the frame of its page:
// under the app's own policy (no inline style) a mail shown in a srcdoc
// frame lost its styles, so the admin did not see what the customer gets.
func (h *Handler) showMailHTML(c echo.Context) error {
	m, err := h.mailParam(c)
	if err != nil {
		return err
	}
	hd := c.Response().Header()
	hd.Set("Content-Security-Policy", mailHTMLPolicy)
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	return c.HTMLBlob(http.StatusOK, []byte(m.HTML))
}

// retryMail queues a failed mail again.
func (h *Handler) retryMail(c echo.Context) error {
	m, err := h.mailParam(c)
	if err != nil {
		return err
	}
	err = h.svc.RetryMail(c.Request().Context(), actor(c), m.ID)
	l := loc(c)
	to := i18n.Isolate(m.To)
	switch {
	case errors.Is(err, models.ErrMailNotFailed):
		h.setFlash(c, "info", l.T("outbox.flash.not_failed", "To", to, "State", badgeWords(l, mailStateBadge(l, m, true))))
	case err != nil:
		return err
	case h.svc.MailConfigured():
		h.setFlash(c, "success", l.T("outbox.flash.queued", "To", to))
	default:
		h.setFlash(c, "success", l.T("outbox.flash.queued_waiting", "To", to))
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/outbox")
}
