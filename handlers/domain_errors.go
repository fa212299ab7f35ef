package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
)

// saveTokenFirst is what an admin is told to do when an action needs the
// partner token and none is saved (provision.ErrNotConfigured); customers
// and API callers get domainError's words instead.
const saveTokenFirst = "Save it in WHAPI Settings first."

// domainError maps an error of provision or models to what a person (page)
// or a program (API) is told: status, code and a plain message. ok is false
// for errors that are not the user's to fix (then: 500, details logged).
// WHAPI's own error texts are never passed on.
func domainError(err error) (status int, code, message string, ok bool) {
	var fe provision.FieldErrors
	var rl *provision.RetryLaterError
	var soon *provision.ExtendTooSoonError
	var small *models.PlanTooSmallError
	var project *provision.ProjectError
	switch {
	case errors.Is(err, models.ErrDecrypt):
		// provision.ErrKeyMismatch, or a channel token that does not open:
		// this server's secret key is not the one the secrets were saved
		// with. Anyone's words; admins get adminWords'.
		return http.StatusServiceUnavailable, "key_mismatch", "the service cannot act now: an admin must check its settings; nothing was changed", true
	case errors.As(err, &fe):
		return http.StatusUnprocessableEntity, "invalid_input", "nothing was changed: see the fields", true
	case errors.As(err, &rl):
		code := rl.Code
		if code == "" {
			code = "rate_limited"
		}
		return http.StatusTooManyRequests, code, rl.Error(), true
	case errors.As(err, &soon):
		return http.StatusTooManyRequests, "extend_too_soon", soon.Error(), true
	case errors.Is(err, models.ErrNotFound):
		return http.StatusNotFound, "not_found", "there is no such record", true
	case errors.Is(err, models.ErrPlanLimit):
		return http.StatusConflict, "plan_limit", "the plan's channel limit is reached: delete a channel or move to a bigger plan", true
	case errors.Is(err, models.ErrNoActivePlan):
		return http.StatusConflict, "no_active_plan", "there is no active plan: a plan must be active to add channels", true
	case errors.Is(err, models.ErrInsufficientBalance):
		return http.StatusConflict, "insufficient_balance", "the day balance is too small for this", true
	case errors.As(err, &small):
		return http.StatusConflict, "plan_too_small", fmt.Sprintf("the customer has %d live channels and this plan allows %d: delete channels first", small.Live, small.Max), true
	case errors.Is(err, models.ErrPlanRetired):
		return http.StatusConflict, "plan_retired", err.Error(), true
	case errors.Is(err, models.ErrAlreadyOnPlan):
		return http.StatusConflict, "already_on_plan", err.Error(), true
	case errors.Is(err, models.ErrNotCustomer):
		return http.StatusConflict, "not_customer", err.Error(), true
	case errors.Is(err, models.ErrCustomerDisabled):
		return http.StatusConflict, "customer_disabled", err.Error(), true
	case errors.Is(err, models.ErrAlreadyDeleted):
		return http.StatusConflict, "already_deleted", err.Error(), true
	case errors.Is(err, models.ErrInvalidMode):
		return http.StatusUnprocessableEntity, "invalid_input", err.Error(), true
	case errors.Is(err, models.ErrChannelBusy):
		return http.StatusConflict, "channel_busy", "the channel is being changed: try again in a moment", true
	case errors.Is(err, provision.ErrChannelStopped):
		return http.StatusConflict, "channel_stopped", "the channel is stopped: start it first", true
	case errors.Is(err, provision.ErrNotLinked):
		return http.StatusConflict, "not_linked", "no phone is linked to the channel: link one first", true
	case errors.Is(err, provision.ErrChannelRunning):
		return http.StatusConflict, "channel_running", "the channel is running already", true
	case errors.Is(err, models.ErrEmailTaken):
		return http.StatusConflict, "email_taken", err.Error(), true
	case errors.Is(err, provision.ErrNotConfigured):
		return http.StatusServiceUnavailable, "not_configured", "the service is not set up yet: an admin must finish its settings", true
	case errors.As(err, &project):
		// The words anyone may read: no WHAPI, no project id. Admins get
		// adminWords' instead.
		return http.StatusServiceUnavailable, "unavailable", "adding channels is temporarily unavailable; nothing was changed: try again later", true
	case errors.Is(err, provision.ErrPartnerShort):
		return http.StatusBadGateway, "partner_balance", "the days could not be added now; the days were given back", true
	case errors.Is(err, provision.ErrOutcomeUnknown):
		return http.StatusBadGateway, "pending", "the change is not confirmed yet; it is checked and settled automatically, no day is lost", true
	case errors.Is(err, provision.ErrUnconfirmed):
		return http.StatusBadGateway, "unconfirmed", "the change was sent but not confirmed; look at the channel again in a moment", true
	case errors.Is(err, provision.ErrUnavailable):
		return http.StatusBadGateway, "unavailable", "the service could not be reached; nothing was changed: try again in a moment", true
	case errors.Is(err, provision.ErrRefused):
		return http.StatusBadGateway, "upstream_refused", "the change was refused upstream; nothing was changed", true
	}
	return http.StatusInternalServerError, "internal", "something went wrong on our side", false
}

// keyMismatchWords is the answer to a key mismatch (an error wrapping
// models.ErrDecrypt) that reached the error handler: an admin is told
// what happened and what to do (adminWords), anyone else domainError's
// words. Never "WHAPI could not be reached".
func keyMismatchWords(c echo.Context, err error) (status int, code, message string) {
	if u := currentUser(c); u != nil && u.IsAdmin() {
		status, code, message, _ = adminWords(err)
	} else {
		status, code, message, _ = domainError(err)
		message = upperFirst(message) + "."
	}
	return status, code, message
}

// adminWords is what an admin is told of an error whose words for
// customers must not name WHAPI or its settings (domainError's); ok is
// false for any other error.
func adminWords(err error) (status int, code, message string, ok bool) {
	if errors.Is(err, models.ErrDecrypt) {
		return http.StatusServiceUnavailable, "key_mismatch", provision.ErrKeyMismatch.Error(), true
	}
	var rl *provision.RetryLaterError
	if errors.As(err, &rl) && rl.Detail != "" {
		status, code, message, _ = domainError(err)
		return status, code, rl.Detail + ": " + message, true
	}
	var project *provision.ProjectError
	if !errors.As(err, &project) {
		return 0, "", "", false
	}
	if project.Unchecked {
		return http.StatusServiceUnavailable, "project_unchecked", "WHAPI could not be asked whether the project id " + project.ProjectID +
			" is one of your WHAPI projects, so no channel was created: use “Test connection” in WHAPI Settings, then try again", true
	}
	return http.StatusConflict, "project_unknown", "the project id " + project.ProjectID +
		" is not one of your WHAPI projects: pick one in WHAPI Settings; no channel was created", true
}
