package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

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

// errorHandler answers every error: JSON on /api, an HTML page elsewhere.
// Internal details are logged, never shown.
func (h *Handler) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var ae *APIError
	var he *echo.HTTPError
	status := http.StatusInternalServerError
	message := "Something went wrong on our side. Please try again."
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
			message = messageForStatus(status)
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
		err = h.render(c, status, views.ErrorPage(h.page(c, ""), status, http.StatusText(status), message))
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

func messageForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return "There is nothing here. Check the address, or go back to the start page."
	case http.StatusForbidden:
		return "You do not have access to this page."
	case http.StatusMethodNotAllowed:
		return "This address does not accept that kind of request."
	case http.StatusRequestEntityTooLarge:
		return "What you sent is too large."
	}
	return "Something went wrong on our side. Please try again."
}
