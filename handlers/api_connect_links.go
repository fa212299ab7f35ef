package handlers

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
)

// The API of connect links: make one for a channel, revoke one (the page
// they open is in connect_links.go).

// linkURL is the address to hand out for a link just made: on the public
// address when one is set, else on the origin this request came to.
func linkURL(c echo.Context, l *provision.NewConnectLink) string {
	if strings.HasPrefix(l.URL, "/") {
		return requestOrigin(c) + l.URL
	}
	return l.URL
}

// apiConnectLinkBody is the body of POST /api/channels/:id/connect-links.
type apiConnectLinkBody struct {
	ValidMinutes *int64 `json:"valid_minutes"`
}

// apiConnectLink is a link just made, as the API shows it (once).
type apiConnectLink struct {
	ID        int64  `json:"id"`
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
}

// apiCreateConnectLink makes a link to the channel's connect page (its
// owner or an admin); the body is optional.
func (h *Handler) apiCreateConnectLink(c echo.Context) error {
	ch, err := h.apiChannelOfCaller(c)
	if err != nil {
		return err
	}
	var body apiConnectLinkBody
	if hasBody(c.Request()) {
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
	}
	var valid time.Duration
	if body.ValidMinutes != nil {
		if *body.ValidMinutes <= 0 || *body.ValidMinutes > int64(provision.ConnectLinkMax/time.Minute) {
			return linkInvalid(c, provision.FieldErrors{"valid_minutes": loc(c).T("api.field.link_minutes")})
		}
		valid = time.Duration(*body.ValidMinutes) * time.Minute
	}
	l, err := h.svc.CreateConnectLink(c.Request().Context(), actor(c), ch.ID, valid)
	var fe provision.FieldErrors
	switch {
	case errors.As(err, &fe):
		return linkInvalid(c, fe)
	case errors.Is(err, models.ErrNotFound):
		return apiNoChannel(c)
	case errors.Is(err, provision.ErrNotConnectable):
		return apiError(http.StatusConflict, "not_connectable", loc(c).T("api.not_connectable"))
	case err != nil:
		return apiFail(c, err)
	}
	return c.JSON(http.StatusCreated, apiConnectLink{ID: l.Link.ID, URL: linkURL(c, l), ExpiresAt: apiTime(l.Link.ExpiresAt)})
}

// apiRevokeConnectLink revokes a link (its channel's owner or an admin;
// anyone else's is "not found"). Revoking a link that has already ended
// is done as well: 204 either way.
func (h *Handler) apiRevokeConnectLink(c echo.Context) error {
	id, ok := apiPathID(c)
	if !ok {
		return apiNoLink(c)
	}
	_, err := h.svc.RevokeConnectLink(c.Request().Context(), actor(c), id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return apiNoLink(c)
	case err != nil:
		return apiFail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func apiNoLink(c echo.Context) *APIError {
	return apiError(http.StatusNotFound, "not_found", loc(c).T("api.no_link"))
}

// linkInvalid is a 400 naming the wrong fields; no link was made.
func linkInvalid(c echo.Context, fe provision.FieldErrors) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "invalid_input", Message: loc(c).T("api.link_invalid"), Fields: fe}
}
