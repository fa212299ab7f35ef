package handlers

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// The admin's webhook pages: the endpoints, the form that adds one, an
// endpoint's page with its attempts, and its actions (send a test event,
// rotate the secret, delete). The API is in api_webhooks.go.

// webhookEventWords says when each event is sent, for the form.
var webhookEventWords = map[string]string{
	"channel.created":  "a channel was created",
	"channel.linked":   "a phone was linked to a channel",
	"channel.unlinked": "a channel's phone was unlinked, or its line dropped",
	"channel.expiring": "a channel's paid time ends soon and no top-up will extend it",
	"channel.extended": "days were added to a channel",
	"channel.deleted":  "a channel was deleted",
	"customer.created": "a customer account was created",
}

// webhookShown is how many attempts and deliveries an endpoint's page
// lists.
const webhookShown = 50

func webhookHref(id int64) string { return "/admin/webhooks/" + strconv.FormatInt(id, 10) }

func (h *Handler) webhooksPage(c echo.Context, title string) views.Page {
	p := h.page(c, title)
	p.Active = "webhooks"
	return p
}

func webhookRow(ep *models.WebhookEndpoint) views.WebhookRow {
	return views.WebhookRow{ID: ep.ID, Href: webhookHref(ep.ID), URL: ep.URL, Events: ep.Events, Created: formatTime(&ep.CreatedAt), Active: ep.Active}
}

func webhookForm(url string, chosen []string, fe provision.FieldErrors) views.WebhookForm {
	f := views.WebhookForm{URL: url, URLError: fe["url"], EventsError: fe["events"]}
	for _, t := range provision.WebhookEventTypes() {
		f.Events = append(f.Events, views.WebhookEventChoice{Type: t, Words: webhookEventWords[t], Checked: slices.Contains(chosen, t)})
	}
	return f
}

// showWebhooksPage is /admin/webhooks.
func (h *Handler) showWebhooksPage(c echo.Context) error {
	return h.renderWebhooks(c, http.StatusOK, webhookForm("", nil, nil))
}

func (h *Handler) renderWebhooks(c echo.Context, status int, form views.WebhookForm) error {
	eps, err := h.store.WebhookEndpoints(c.Request().Context())
	if err != nil {
		return err
	}
	v := views.WebhooksView{Form: form, AllowPrivate: h.svc.WebhookAllowPrivate(), DemoReceiver: h.cfg.DemoWebhooks != nil}
	for i := range eps {
		v.Rows = append(v.Rows, webhookRow(&eps[i]))
	}
	return h.render(c, status, views.WebhooksPage(h.webhooksPage(c, "Webhooks"), v))
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
		return h.renderWebhooks(c, http.StatusUnprocessableEntity, webhookForm(url, events, fe))
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
	v.Row = webhookRow(ep)
	for _, a := range as {
		r := views.WebhookAttemptRow{ID: a.ID, At: formatTime(&a.AttemptedAt), Event: a.EventType, EventID: a.EventID,
			Status: "no answer", OK: a.Error == "" && a.StatusCode >= 200 && a.StatusCode < 300,
			Latency: strconv.FormatInt(a.LatencyMS, 10) + " ms", Error: a.Error}
		if a.StatusCode != 0 {
			r.Status = strconv.Itoa(a.StatusCode)
		}
		v.Attempts = append(v.Attempts, r)
	}
	for _, d := range ds {
		r := views.WebhookDeliveryRow{ID: d.ID, Event: d.EventType, EventID: d.EventID, State: webhookStateBadge(&d),
			Attempts: strconv.Itoa(d.Attempts), LastError: d.LastError}
		if d.State == models.WebhookQueued && d.Attempts > 0 {
			r.Next = formatTime(&d.NextAttemptAt)
		}
		v.Deliveries = append(v.Deliveries, r)
	}
	return h.render(c, http.StatusOK, views.WebhookPage(h.webhooksPage(c, ep.URL), v))
}

// webhookStateBadge is a delivery's state in words.
func webhookStateBadge(d *models.WebhookDelivery) views.Badge {
	switch d.State {
	case models.WebhookQueued:
		if d.Attempts > 0 {
			return views.Badge{Text: "Will retry", Tone: "warn", Title: "The endpoint failed: it is tried again later, for 24 hours"}
		}
		return views.Badge{Text: "Queued", Tone: "muted"}
	case models.WebhookSending:
		return views.Badge{Text: "Sending", Tone: "ok"}
	case models.WebhookDelivered:
		return views.Badge{Text: "Delivered", Tone: "ok"}
	case models.WebhookFailed:
		return views.Badge{Text: "Failed", Tone: "bad", Title: "Refused by the endpoint, or still failing 24 hours after the first attempt"}
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
	h.setFlash(c, "success", "A test event is on its way: its attempt shows below within seconds (reload the page).")
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
	return h.render(c, http.StatusOK, views.WebhookRotatePage(h.webhooksPage(c, "Rotate secret"), webhookRow(ep)))
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
	return h.renderWebhook(c, ep, views.WebhookView{Secret: secret, Rotated: true, PreviousUntil: formatTime(&until)})
}

// confirmDeleteWebhook asks before the endpoint is deleted.
func (h *Handler) confirmDeleteWebhook(c echo.Context) error {
	ep, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.WebhookDeletePage(h.webhooksPage(c, "Delete endpoint"), webhookRow(ep)))
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
	h.setFlash(c, "success", "The endpoint "+ep.URL+" is deleted: no more events are sent to it.")
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/webhooks")
}
