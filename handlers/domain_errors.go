package handlers

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
)

// waitText says a wait in whole minutes (at least one), in l's language:
// the localized twin of provision.HumanDuration.
func waitText(l *i18n.Localizer, d time.Duration) string {
	m := int64((d + time.Minute - 1) / time.Minute)
	return l.N("errors.minutes", max(1, m))
}

// domainErrorIn maps an error of provision or models to what a person
// (page) or a program (API) is told, in l's language: status, code and a
// plain message (lower case, no full stop). ok is false for errors that
// are not the user's to fix (then: 500, details logged). WHAPI's own
// error texts are never passed on. This is the one table from errors to
// the catalog's words; the codes never depend on the language.
func domainErrorIn(l *i18n.Localizer, err error) (status int, code, message string, ok bool) {
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
		return http.StatusServiceUnavailable, "key_mismatch", l.T("errors.key_mismatch"), true
	case errors.As(err, &fe):
		return http.StatusUnprocessableEntity, "invalid_input", l.T("errors.invalid_input"), true
	case errors.As(err, &rl):
		code := rl.Code
		if code == "" {
			code = "rate_limited"
		}
		return http.StatusTooManyRequests, code, retryLaterText(l, rl), true
	case errors.As(err, &soon):
		return http.StatusTooManyRequests, "extend_too_soon", l.T("errors.extend_too_soon", "Wait", waitText(l, soon.After)), true
	case errors.Is(err, models.ErrNotFound):
		return http.StatusNotFound, "not_found", l.T("errors.not_found"), true
	case errors.Is(err, models.ErrPlanLimit):
		return http.StatusConflict, "plan_limit", l.T("errors.plan_limit"), true
	case errors.Is(err, models.ErrNoActivePlan):
		return http.StatusConflict, "no_active_plan", l.T("errors.no_active_plan"), true
	case errors.Is(err, models.ErrInsufficientBalance):
		return http.StatusConflict, "insufficient_balance", l.T("errors.insufficient_balance"), true
	case errors.As(err, &small):
		return http.StatusConflict, "plan_too_small", l.N("errors.plan_too_small", small.Live, "Max", l.Number(small.Max)), true
	case errors.Is(err, models.ErrPlanRetired):
		return http.StatusConflict, "plan_retired", l.T("errors.plan_retired"), true
	case errors.Is(err, models.ErrAlreadyOnPlan):
		return http.StatusConflict, "already_on_plan", l.T("errors.already_on_plan"), true
	case errors.Is(err, models.ErrNotCustomer):
		return http.StatusConflict, "not_customer", l.T("errors.not_customer"), true
	case errors.Is(err, models.ErrCustomerDisabled):
		return http.StatusConflict, "customer_disabled", l.T("errors.customer_disabled"), true
	case errors.Is(err, models.ErrAlreadyDeleted):
		return http.StatusConflict, "already_deleted", l.T("errors.already_deleted"), true
	case errors.Is(err, models.ErrInvalidMode):
		return http.StatusUnprocessableEntity, "invalid_input", l.T("errors.invalid_mode"), true
	case errors.Is(err, models.ErrChannelBusy):
		return http.StatusConflict, "channel_busy", l.T("errors.channel_busy"), true
	case errors.Is(err, provision.ErrChannelStopped):
		return http.StatusConflict, "channel_stopped", l.T("errors.channel_stopped"), true
	case errors.Is(err, provision.ErrNotLinked):
		return http.StatusConflict, "not_linked", l.T("errors.not_linked"), true
	case errors.Is(err, provision.ErrChannelRunning):
		return http.StatusConflict, "channel_running", l.T("errors.channel_running"), true
	case errors.Is(err, models.ErrEmailTaken):
		return http.StatusConflict, "email_taken", l.T("errors.email_taken"), true
	case errors.Is(err, provision.ErrNotConfigured):
		return http.StatusServiceUnavailable, "not_configured", l.T("errors.not_configured"), true
	case errors.As(err, &project):
		// The words anyone may read: no WHAPI, no project id. Admins get
		// adminWords' instead.
		return http.StatusServiceUnavailable, "unavailable", l.T("errors.adding_unavailable"), true
	case errors.Is(err, provision.ErrPartnerShort):
		return http.StatusBadGateway, "partner_balance", l.T("errors.partner_balance"), true
	case errors.Is(err, provision.ErrOutcomeUnknown):
		return http.StatusBadGateway, "pending", l.T("errors.pending"), true
	case errors.Is(err, provision.ErrUnconfirmed):
		return http.StatusBadGateway, "unconfirmed", l.T("errors.unconfirmed"), true
	case errors.Is(err, provision.ErrUnavailable):
		return http.StatusBadGateway, "unavailable", l.T("errors.unavailable"), true
	case errors.Is(err, provision.ErrRefused):
		return http.StatusBadGateway, "upstream_refused", l.T("errors.upstream_refused"), true
	}
	return http.StatusInternalServerError, "internal", l.T("errors.internal"), false
}

// retryLaterText says, in l's language, what was asked too often and when
// to try again. The limits provision names by their code have the
// catalog's words; a limit known only by its English words (What, Again)
// keeps them in English and, in another language, says when to try again.
func retryLaterText(l *i18n.Localizer, rl *provision.RetryLaterError) string {
	wait := waitText(l, rl.After)
	switch {
	case rl.Code == provision.CodeCreateBudget:
		return l.T("errors.retry.add_channel", "Wait", wait)
	case rl.Code == provision.CodePairingLimit:
		return l.T("errors.retry.pairing_code", "Wait", wait)
	case rl.What == "" && rl.Again == "":
		return l.T("errors.retry.new_channels", "Wait", wait)
	case l.Tag() == i18n.Default:
		return rl.Error()
	}
	return l.T("errors.retry.later", "Wait", wait)
}

// keyMismatchWords is the answer to a key mismatch (an error wrapping
// models.ErrDecrypt) that reached the error handler: an admin is told
// what happened and what to do (adminWords), anyone else domainError's
// words, in the reader's language. Never "WHAPI could not be reached".
func keyMismatchWords(c echo.Context, err error) (status int, code, message string) {
	l := loc(c)
	if u := currentUser(c); u != nil && u.IsAdmin() {
		status, code, message, _ = adminWordsIn(l, err)
	} else {
		status, code, message, _ = domainErrorIn(l, err)
		message = sentence(l, message)
	}
	return status, code, message
}

// sentence makes a message (lower case, no full stop) a sentence of a
// page in l's language.
func sentence(l *i18n.Localizer, msg string) string {
	return l.T("errors.sentence", "Message", upperFirst(msg))
}

// adminWordsIn is what an admin is told, in l's language, of an error
// whose words for customers must not name WHAPI or its settings
// (domainError's); ok is false for any other error.
func adminWordsIn(l *i18n.Localizer, err error) (status int, code, message string, ok bool) {
	if errors.Is(err, models.ErrDecrypt) {
		return http.StatusServiceUnavailable, "key_mismatch", l.T("errors.admin.key_mismatch"), true
	}
	var rl *provision.RetryLaterError
	if errors.As(err, &rl) && rl.Detail != "" {
		status, code, message, _ = domainErrorIn(l, err)
		return status, code, l.T("errors.admin.detail", "Detail", rl.Detail, "Message", message), true
	}
	var project *provision.ProjectError
	if !errors.As(err, &project) {
		return 0, "", "", false
	}
	if project.Unchecked {
		return http.StatusServiceUnavailable, "project_unchecked", l.T("errors.admin.project_unchecked", "Project", project.ProjectID), true
	}
	return http.StatusConflict, "project_unknown", l.T("errors.admin.project_unknown", "Project", project.ProjectID), true
}
