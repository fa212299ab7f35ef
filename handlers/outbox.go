package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/views"
)

const mailsPerPage = 50

// mailStateBadge is an outbox state in words.
func mailStateBadge(m *models.Mail, configured bool) views.Badge {
	switch m.State {
	case models.MailQueued:
		if !configured {
			return views.Badge{Text: "Queued", Tone: "muted", Title: "Mail is not configured: it waits here"}
		}
		if m.LastError != "" {
			return views.Badge{Text: "Queued, will retry", Tone: "warn", Title: "The mail server refused it for now: it is tried again later"}
		}
		return views.Badge{Text: "Queued", Tone: "muted"}
	case models.MailSending:
		return views.Badge{Text: "Sending", Tone: "ok"}
	case models.MailSent:
		return views.Badge{Text: "Sent", Tone: "ok"}
	case models.MailFailed:
		return views.Badge{Text: "Failed", Tone: "bad", Title: "Refused for good, or out of attempts: it is sent again only if retried"}
	}
	return views.Badge{Text: string(m.State)}
}

// mailKindWords is an outbox kind in words.
func mailKindWords(kind string) string {
	if kind == "invitation" {
		return "Invitation"
	}
	return sentenceCase(kind)
}

func mailHref(id int64) string { return "/admin/outbox/" + strconv.FormatInt(id, 10) }

func mailRow(m *models.Mail, configured bool) views.OutboxRow {
	r := views.OutboxRow{ID: m.ID, Href: mailHref(m.ID), State: mailStateBadge(m, configured), Kind: mailKindWords(m.Kind),
		To: m.To, Subject: m.Subject, Created: formatTime(&m.CreatedAt), Attempts: strconv.Itoa(m.Attempts), LastError: m.LastError}
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
		Pager: buildPager(models.ListTotal{N: n}, mailsPerPage, page, func(k int) string {
			return "/admin/outbox?page=" + strconv.Itoa(k)
		})}
	for i := range list {
		v.Rows = append(v.Rows, mailRow(&list[i], configured))
	}
	return h.render(c, http.StatusOK, views.OutboxPage(h.outboxPage(c, "Outbox"), v))
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
	v := views.MailView{Row: mailRow(m, configured), MessageID: "<" + m.MessageID + ">", Sent: formatTime(m.SentAt),
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
	switch {
	case errors.Is(err, models.ErrMailNotFailed):
		h.setFlash(c, "info", "The mail to "+m.To+" is "+mailStateBadge(m, true).Text+": only a failed mail is retried.")
	case err != nil:
		return err
	case h.svc.MailConfigured():
		h.setFlash(c, "success", "The mail to "+m.To+" is queued again: it is sent within seconds.")
	default:
		h.setFlash(c, "success", "The mail to "+m.To+" is queued again; mail is not configured, so it waits here.")
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/outbox")
}
