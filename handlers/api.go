package handlers

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/provision"
)

func (h *Handler) apiNoRoute(c echo.Context) error {
	return apiError(http.StatusNotFound, "not_found", loc(c).T("api.no_route"))
}

// apiRequireUser refuses requests that are not signed in (the api group
// lets them through to its handlers).
func (h *Handler) apiRequireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if currentUser(c) == nil {
			return apiError(http.StatusUnauthorized, "unauthorized", loc(c).T("api.sign_in"))
		}
		return next(c)
	}
}

// apiFail turns an error of provision or models into the API's answer: a
// status, a code and a plain message in the caller's language (never
// WHAPI's own text; an admin
// gets adminWords where a customer's words would hide what to fix). A "try
// again later" (too many new channels, an extend too soon after the last)
// also says how many seconds to wait: the Retry-After header and
// retry_after. Errors that are not the caller's to fix are passed on (500,
// details logged only).
func apiFail(c echo.Context, err error) error {
	l := loc(c)
	status, code, msg, ok := domainErrorIn(l, err)
	if !ok {
		return err
	}
	if u := currentUser(c); u != nil && u.IsAdmin() {
		if s, cd, m, ok := adminWordsIn(l, err); ok {
			status, code, msg = s, cd, m
		}
	}
	ae := &APIError{Status: status, Code: code, Message: msg}
	var fe provision.FieldErrors
	if errors.As(err, &fe) {
		ae.Fields = map[string]string(fe)
	}
	var rl *provision.RetryLaterError
	var soon *provision.ExtendTooSoonError
	var wait time.Duration
	switch {
	case errors.As(err, &rl):
		wait = rl.After
	case errors.As(err, &soon):
		wait = soon.After
	default:
		return ae
	}
	ae.RetryAfter = max(1, int(math.Ceil(wait.Seconds())))
	c.Response().Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	return ae
}

// apiInvalidInput is a 422 naming the wrong fields; nothing was changed.
func apiInvalidInput(c echo.Context, fields map[string]string) *APIError {
	return &APIError{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Message: loc(c).T("errors.invalid_input"), Fields: fields}
}

// apiPathID reads the :id of the path; ok is false when it is not a positive
// integer (then the record is simply "not found").
func apiPathID(c echo.Context) (int64, bool) { return pathID(c, "id") }

// Pagination of lists.
const (
	apiDefaultLimit = 50
	apiMaxLimit     = 200
)

// apiList is the envelope of every list answer.
type apiList[T any] struct {
	Items  []T   `json:"items"`
	Total  int64 `json:"total"`
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
}

// apiPagination reads ?limit (1–200, default 50) and ?offset (≥ 0, default 0)
// into fields, which collects what is wrong.
func apiPagination(c echo.Context, fields map[string]string) (limit, offset int) {
	limit, offset = apiDefaultLimit, 0
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > apiMaxLimit {
			fields["limit"] = loc(c).T("api.field.limit")
		} else {
			limit = n
		}
	}
	if v := c.QueryParam("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fields["offset"] = loc(c).T("api.field.offset")
		} else {
			offset = n
		}
	}
	return limit, offset
}

// apiQueryID reads an optional positive id from the query string (0 when
// absent) into fields, which collects what is wrong.
func apiQueryID(c echo.Context, name string, fields map[string]string) int64 {
	v := c.QueryParam(name)
	if v == "" {
		return 0
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		fields[name] = loc(c).T("api.field.positive")
		return 0
	}
	return id
}
