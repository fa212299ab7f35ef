package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"whapidesk/provision"
)

// Flash messages: one-time messages kept in the session and shown on the
// next page the user sees (views.Page.Flash).

// setFlash stores a one-time message shown on the next page.
func (h *Handler) setFlash(c echo.Context, kind, text string) {
	if s := currentSession(c); s != nil {
		s.Values[sessFlashKind] = kind
		s.Values[sessFlashText] = text
		markDirty(c)
	}
}

// popFlash takes the pending one-time message, if any.
func popFlash(c echo.Context) (kind, text string) {
	s := currentSession(c)
	if s == nil {
		return "", ""
	}
	kind, _ = s.Values[sessFlashKind].(string)
	text, _ = s.Values[sessFlashText].(string)
	if text != "" {
		delete(s.Values, sessFlashKind)
		delete(s.Values, sessFlashText)
		markDirty(c)
	}
	return kind, text
}

// problemText says what went wrong, in plain words, with the kind of
// flash it deserves. Errors that are not the admin's to fix are returned
// (a 500, details logged).
func problemText(err error) (kind, text string, _ error) {
	status, _, msg, ok := domainError(err)
	if !ok {
		return "", "", err
	}
	kind = "error"
	if errors.Is(err, provision.ErrOutcomeUnknown) || status == http.StatusTooManyRequests {
		kind = "warning"
	}
	return kind, upperFirst(msg) + ".", nil
}

// flashProblem puts what went wrong in the flash (see problemText).
func (h *Handler) flashProblem(c echo.Context, err error) error {
	kind, text, err := problemText(err)
	if err != nil {
		return err
	}
	h.setFlash(c, kind, text)
	return nil
}
