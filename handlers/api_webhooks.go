package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
)

// The API of webhook endpoints (admins only): register one, list them,
// delete one. The admin pages are in admin_webhooks.go.

// apiWebhookBody is the body of POST /api/webhooks.
type apiWebhookBody struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// apiWebhook is an endpoint as the API shows it; Secret only in the answer
// that created it.
type apiWebhook struct {
	ID        int64    `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Active    bool     `json:"active"`
	CreatedAt string   `json:"created_at"`
	Secret    string   `json:"secret,omitempty"`
}

func toAPIWebhook(ep *models.WebhookEndpoint) apiWebhook {
	events := ep.Events
	if events == nil {
		events = []string{}
	}
	return apiWebhook{ID: ep.ID, URL: ep.URL, Events: events, Active: ep.Active, CreatedAt: apiTime(ep.CreatedAt)}
}

// apiCreateWebhook registers an endpoint: 201 with its secret (the only
// time it is shown), 422 naming the field for a bad address or event.
func (h *Handler) apiCreateWebhook(c echo.Context) error {
	var body apiWebhookBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ep, secret, err := h.svc.CreateWebhookEndpoint(c.Request().Context(), actor(c), body.URL, body.Events)
	if err != nil {
		return apiFail(c, err)
	}
	out := toAPIWebhook(ep)
	out.Secret = secret
	return c.JSON(http.StatusCreated, out)
}

// apiListWebhooks lists every endpoint, without secrets.
func (h *Handler) apiListWebhooks(c echo.Context) error {
	eps, err := h.store.WebhookEndpoints(c.Request().Context())
	if err != nil {
		return err
	}
	items := make([]apiWebhook, 0, len(eps))
	for i := range eps {
		items = append(items, toAPIWebhook(&eps[i]))
	}
	return c.JSON(http.StatusOK, apiList[apiWebhook]{Items: items, Total: int64(len(items)), Limit: len(items), Offset: 0})
}

// apiDeleteWebhook deletes an endpoint and what was queued for it: 204.
func (h *Handler) apiDeleteWebhook(c echo.Context) error {
	id, ok := apiPathID(c)
	if !ok {
		return apiNoWebhook(c)
	}
	err := h.svc.DeleteWebhookEndpoint(c.Request().Context(), actor(c), id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return apiNoWebhook(c)
	case err != nil:
		return apiFail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func apiNoWebhook(c echo.Context) *APIError {
	return apiError(http.StatusNotFound, "not_found", loc(c).T("api.no_webhook"))
}
