package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/views"
)

// APIError is the body of every JSON error: {"error": {"code", "message"}}.
// RetryAfter, on a 429, is how many seconds to wait (as the Retry-After
// header says).
type APIError struct {
	Status     int               `json:"-"`
	Code       string            `json:"code"`
	Message    string            `json:"message"`
	Fields     map[string]string `json:"fields,omitempty"`
	RetryAfter int               `json:"retry_after,omitempty"`
	// WHAPIStatus is WHAPI's HTTP status where the error is WHAPI's answer
	// to an admin's request (token_refused).
	WHAPIStatus int `json:"whapi_status,omitempty"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func apiError(status int, code, message string) *APIError {
	return &APIError{Status: status, Code: code, Message: message}
}

// errorHandler answers every error: JSON on /api, an HTML page elsewhere,
// in the reader's language. Internal details are logged, never shown.
func (h *Handler) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	l := loc(c)
	var ae *APIError
	var he *echo.HTTPError
	status := http.StatusInternalServerError
	message := l.T("errors.page.internal")
	code := "internal"
	switch {
	case errors.Is(err, models.ErrDecrypt): // the secret key does not open the saved secrets
		status, code, message = keyMismatchWords(c, err)
	case errors.As(err, &ae):
		status, code, message = ae.Status, ae.Code, ae.Message
	case errors.As(err, &he):
		status = he.Code
		code = codeForStatus(status)
		if m, ok := he.Message.(string); ok && status < 500 && m != http.StatusText(status) {
			message = m
		} else {
			message = messageForStatus(l, status)
		}
	}
	if status >= 500 {
		h.log.ErrorContext(c.Request().Context(), "request failed", "method", c.Request().Method,
			"path", logPath(c.Request()), "err", err)
	}
	if isHook(c.Request()) { // WHAPI reads the status only
		err = c.NoContent(status)
	} else if isAPI(c) {
		if ae == nil {
			ae = &APIError{Code: code, Message: message}
		}
		err = c.JSON(status, map[string]any{"error": ae})
	} else if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = h.render(c, status, views.ErrorPage(h.page(c, ""), status, statusTitle(l, status), message))
	}
	if err != nil {
		h.log.ErrorContext(c.Request().Context(), "writing error response", "err", err)
	}
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusTooManyRequests:
		return "rate_limited"
	}
	if status >= 500 {
		return "internal"
	}
	return "error"
}

// messageForStatus is what an error page (or a JSON error without words of
// its own) says of a status, in l's language.
func messageForStatus(l *i18n.Localizer, status int) string {
	switch status {
	case http.StatusNotFound:
		return l.T("errors.page.not_found")
	case http.StatusForbidden:
		return l.T("errors.page.forbidden")
	case http.StatusMethodNotAllowed:
		return l.T("errors.page.method")
	case http.StatusRequestEntityTooLarge:
		return l.T("errors.page.too_large")
	}
	return l.T("errors.page.internal")
}

// statusTitle is the title of an error page: the status's name in l's
// language (http.StatusText's, for a status the catalog does not name).
func statusTitle(l *i18n.Localizer, status int) string {
	id := "http.status.s" + strconv.Itoa(status)
	if !i18n.Has(id) {
		return http.StatusText(status)
	}
	return l.T(id)
}
