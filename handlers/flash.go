package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
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

// requestProblem is problemTextIn in the request's language.
func requestProblem(c echo.Context, err error) (kind, text string, _ error) {
	return problemTextIn(loc(c), err)
}

// problemTextIn says what went wrong, in plain words of l's language,
// with the kind of flash it deserves. Errors that are not the admin's to
// fix are returned (a 500, details logged).
func problemTextIn(l *i18n.Localizer, err error) (kind, text string, _ error) {
	status, _, msg, ok := domainErrorIn(l, err)
	if !ok {
		return "", "", err
	}
	kind = "error"
	if errors.Is(err, provision.ErrOutcomeUnknown) || status == http.StatusTooManyRequests {
		kind = "warning"
	}
	return kind, sentence(l, msg), nil
}

// flashProblem puts what went wrong in the flash, in the reader's
// language (see problemTextIn).
func (h *Handler) flashProblem(c echo.Context, err error) error {
	kind, text, err := requestProblem(c, err)
	if err != nil {
		return err
	}
	h.setFlash(c, kind, text)
	return nil
}
