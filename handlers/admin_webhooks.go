package handlers

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// The admin's webhook pages: the endpoints, the form that adds one, an
// endpoint's page with its attempts, and its actions (send a test event,
// rotate the secret, delete). The API is in api_webhooks.go.

// webhookEventWords says when each event is sent, for the form (catalog
// ids).
var webhookEventWords = map[string]string{
	"channel.created":  "webhooks.event.channel_created",
	"channel.linked":   "webhooks.event.channel_linked",
	"channel.unlinked": "webhooks.event.channel_unlinked",
	"channel.expiring": "webhooks.event.channel_expiring",
	"channel.extended": "webhooks.event.channel_extended",
	"channel.deleted":  "webhooks.event.channel_deleted",
	"customer.created": "webhooks.event.customer_created",
}

// webhookShown is how many attempts and deliveries an endpoint's page
// lists.
const webhookShown = 50

func webhookHref(id int64) string { return "/admin/webhooks/" + strconv.FormatInt(id, 10) }

func (h *Handler) webhooksPage(c echo.Context, title string) views.Page {
	p := h.page(c, loc(c).T(title))
	p.Active = "webhooks"
	return p
}

func webhookRow(l *i18n.Localizer, ep *models.WebhookEndpoint) views.WebhookRow {
	return views.WebhookRow{ID: ep.ID, Href: webhookHref(ep.ID), URL: ep.URL, Events: ep.Events, Created: l.DateTime(ep.CreatedAt), Active: ep.Active}
}

func webhookForm(l *i18n.Localizer, url string, chosen []string, fe provision.FieldErrors) views.WebhookForm {
	f := views.WebhookForm{URL: url, URLError: fe["url"], EventsError: fe["events"]}
	for _, t := range provision.WebhookEventTypes() {
		words := ""
		if id, ok := webhookEventWords[t]; ok {
			words = l.T(id)
		}
		f.Events = append(f.Events, views.WebhookEventChoice{Type: t, Words: words, Checked: slices.Contains(chosen, t)})
	}
	return f
}

// showWebhooksPage is /admin/webhooks.
func (h *Handler) showWebhooksPage(c echo.Context) error {
	return h.renderWebhooks(c, http.StatusOK, webhookForm(loc(c), "", nil, nil))
}

func (h *Handler) renderWebhooks(c echo.Context, status int, form views.WebhookForm) error {
	eps, err := h.store.WebhookEndpoints(c.Request().Context())
	if err != nil {
		return err
	}
	v := views.WebhooksView{Form: form, AllowPrivate: h.svc.WebhookAllowPrivate(), DemoReceiver: h.cfg.DemoWebhooks != nil}
	for i := range eps {
		v.Rows = append(v.Rows, webhookRow(loc(c), &eps[i]))
	}
	return h.render(c, status, views.WebhooksPage(h.webhooksPage(c, "webhooks.title"), v))
}

// createWebhook adds an endpoint and answers with its page, which shows
// the secret this once (no redirect: the secret is kept nowhere to show it
// later). A bad address or no event: the form again, 422, each message
// next to its field.
func (h *Handler) createWebhook(c echo.Context) error {
	if err := c.Request().ParseForm(); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest)
	}
	url, events := c.FormValue("url"), c.Request().PostForm["events"]
	ep, secret, err := h.svc.CreateWebhookEndpoint(c.Request().Context(), actor(c), url, events)
	var fe provision.FieldErrors
	switch {
	case errors.As(err, &fe):
		return h.renderWebhooks(c, http.StatusUnprocessableEntity, webhookForm(loc(c), url, events, fe))
	case err != nil:
		return err
	}
	return h.renderWebhook(c, ep, views.WebhookView{Secret: secret})
}

// webhookParam reads the endpoint of /admin/webhooks/:id; 404 when there
// is none.
func (h *Handler) webhookParam(c echo.Context) (*models.WebhookEndpoint, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, echo.NewHTTPError(http.StatusNotFound)
	}
	ep, err := h.store.WebhookEndpointByID(c.Request().Context(), id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound)
	}
	return ep, err
}

// showWebhookPage is one endpoint: its facts, actions, attempts and
// deliveries. Never its secret.
func (h *Handler) showWebhookPage(c echo.Context) error {
	ep, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	return h.renderWebhook(c, ep, views.WebhookView{})
}

func (h *Handler) renderWebhook(c echo.Context, ep *models.WebhookEndpoint, v views.WebhookView) error {
	ctx := c.Request().Context()
	as, err := h.store.WebhookAttempts(ctx, ep.ID, webhookShown)
	if err != nil {
		return err
	}
	ds, err := h.store.WebhookDeliveries(ctx, ep.ID, webhookShown)
	if err != nil {
		return err
	}
	l := loc(c)
	v.Row = webhookRow(l, ep)
	for _, a := range as {
		r := views.WebhookAttemptRow{ID: a.ID, At: l.DateTime(a.AttemptedAt), Event: a.EventType, EventID: a.EventID,
			Status: l.T("webhooks.no_answer"), OK: a.Error == "" && a.StatusCode >= 200 && a.StatusCode < 300,
			Latency: l.T("webhooks.ms", "Ms", l.Number(a.LatencyMS)), Error: a.Error}
		if a.StatusCode != 0 {
			r.Status = strconv.Itoa(a.StatusCode)
		}
		v.Attempts = append(v.Attempts, r)
	}
	for _, d := range ds {
		r := views.WebhookDeliveryRow{ID: d.ID, Event: d.EventType, EventID: d.EventID, State: webhookStateBadge(l, &d),
			Attempts: l.Number(int64(d.Attempts)), LastError: d.LastError}
		if d.State == models.WebhookQueued && d.Attempts > 0 {
			r.Next = l.DateTime(d.NextAttemptAt)
		}
		v.Deliveries = append(v.Deliveries, r)
	}
	p := h.page(c, ep.URL)
	p.Active = "webhooks"
	return h.render(c, http.StatusOK, views.WebhookPage(p, v))
}

// webhookStateBadge is a delivery's state in l's words.
func webhookStateBadge(l *i18n.Localizer, d *models.WebhookDelivery) views.Badge {
	switch d.State {
	case models.WebhookQueued:
		if d.Attempts > 0 {
			return views.Badge{Key: "webhooks.state.retrying", Tone: "warn", Title: l.T("webhooks.state.retrying_title")}
		}
		return views.Badge{Key: "webhooks.state.queued", Tone: "muted"}
	case models.WebhookSending:
		return views.Badge{Key: "webhooks.state.sending", Tone: "ok"}
	case models.WebhookDelivered:
		return views.Badge{Key: "webhooks.state.delivered", Tone: "ok"}
	case models.WebhookFailed:
		return views.Badge{Key: "webhooks.state.failed", Tone: "bad", Title: l.T("webhooks.state.failed_title")}
	}
	return views.Badge{Text: string(d.State)}
}

// testWebhook queues a webhook.test event for the endpoint.
func (h *Handler) testWebhook(c echo.Context) error {
	ep, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	if err := h.svc.SendTestWebhook(c.Request().Context(), actor(c), ep.ID); err != nil {
		return err
	}
	h.setFlash(c, "success", loc(c).T("webhooks.flash.test"))
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, webhookHref(ep.ID))
}

// confirmRotateWebhook asks before the secret is replaced.
func (h *Handler) confirmRotateWebhook(c echo.Context) error {
	ep, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.WebhookRotatePage(h.webhooksPage(c, "webhooks.rotate"), webhookRow(loc(c), ep)))
}

// rotateWebhook gives the endpoint a new secret and shows it this once.
func (h *Handler) rotateWebhook(c echo.Context) error {
	ep, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	secret, err := h.svc.RotateWebhookSecret(c.Request().Context(), actor(c), ep.ID)
	if err != nil {
		return err
	}
	until := time.Now().Add(models.WebhookSecretGrace)
	return h.renderWebhook(c, ep, views.WebhookView{Secret: secret, Rotated: true, PreviousUntil: loc(c).DateTime(until)})
}

// confirmDeleteWebhook asks before the endpoint is deleted.
func (h *Handler) confirmDeleteWebhook(c echo.Context) error {
	ep, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.WebhookDeletePage(h.webhooksPage(c, "webhooks.delete_page.page_title"), webhookRow(loc(c), ep)))
}

// deleteWebhook deletes the endpoint and what was queued for it.
func (h *Handler) deleteWebhook(c echo.Context) error {
	ep, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	err = h.svc.DeleteWebhookEndpoint(c.Request().Context(), actor(c), ep.ID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return err
	}
	h.setFlash(c, "success", loc(c).T("webhooks.flash.deleted", "Url", i18n.Isolate(ep.URL)))
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/webhooks")
}
