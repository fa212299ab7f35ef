package handlers

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/provision"
)

// WHAPI's webhooks: POST /hooks/whapi/:secret, one address per channel
// (provision registers it on the channel's gate). No session and no CSRF
// token: WHAPI has neither. The secret in the address is the credential,
// so it is never logged (logPath). The answer carries no body: 200 once
// the event is applied (WHAPI sends it again until it gets a 200), 404
// for an address no channel has, 400 for a body that is not an event
// WHAPI sends, 413 past hookBodyLimit; nothing is written in those cases.

// hookBodyLimit caps a webhook's body: WHAPI's events of a channel's
// status, QR code and account are a few KB (a QR image is the largest).
const hookBodyLimit = "64K"

// hookPrefix starts every webhook address.
const hookPrefix = "/hooks/whapi/"

// receiveWHAPIHook applies one event of WHAPI's webhook: parse, then hand
// to provision, which applies it without calling WHAPI.
func (h *Handler) receiveWHAPIHook(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) { // the body limit
			return he
		}
		return c.NoContent(http.StatusBadRequest)
	}
	ev, err := provision.ParseHookEvent(body)
	if err != nil {
		return c.NoContent(http.StatusBadRequest)
	}
	err = h.svc.ReceiveHook(c.Request().Context(), c.Param("secret"), ev)
	switch {
	case errors.Is(err, provision.ErrUnknownHook):
		return c.NoContent(http.StatusNotFound)
	case errors.Is(err, provision.ErrBadHookEvent):
		return c.NoContent(http.StatusBadRequest)
	case err != nil:
		return err // 500: WHAPI sends it again
	}
	return c.NoContent(http.StatusOK)
}

// isHook reports whether the request is for a webhook address.
func isHook(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, hookPrefix) }

// logPath is the request's path as logs may show it: a webhook address
// without its secret, a connect link or a set-password link without its
// token.
func logPath(r *http.Request) string {
	if isHook(r) {
		return hookPrefix + "…"
	}
	if isConnectLink(r) { // a connect link's token (connect_links.go)
		return provision.ConnectLinkPath + "…"
	}
	if isSetPassword(r) {
		return setPasswordPrefix + "…"
	}
	return r.URL.Path
}
