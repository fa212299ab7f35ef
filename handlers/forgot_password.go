package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/views"
)

// Forgot password (issue 16, point 3): a link on the login page leads to a
// form asking for the e-mail address; the answer is the same whether or
// not the address has an account, and so is the work done for it (the
// throttle's claim, then one write transaction that finds the account or
// not: provision.RequestPasswordReset). The mailed link opens the
// set-password page (set_password.go), which tells a reset from an
// invitation.
//
// Requests are throttled like sign-ins, in the database, so every instance
// counts together (throttle.go, models/login_attempts.go): every request,
// answered or not, counts against the address asked for (under the SHA-256
// of the normalised e-mail, whether or not it exists) and against the
// client's address. The refusal says when to try again and nothing about
// the account.
const (
	resetWindow     = time.Hour
	maxResetAccount = 3  // per address asked for, per hour
	maxResetAddress = 10 // per client, per hour
)

// The throttle's scopes of the reset form (login_attempts.kind, migration 0028).
const (
	scopeResetAccount throttleScope = "reset_account"
	scopeResetAddress throttleScope = "reset_address"
)

// resetAccountKey counts the requests for one address.
func resetAccountKey(email string) throttleKey {
	sum := sha256.Sum256([]byte(email))
	return throttleKey{scope: scopeResetAccount, key: hex.EncodeToString(sum[:]), max: maxResetAccount, window: resetWindow}
}

// resetAddressKey counts one client's requests.
func resetAddressKey(ip string) throttleKey {
	return throttleKey{scope: scopeResetAddress, key: ipKey(ip), max: maxResetAddress, window: resetWindow}
}

func (h *Handler) forgotPasswordPage(c echo.Context) views.Page {
	p := h.page(c, loc(c).T("password.forgot_title"))
	p.User = nil
	return p
}

func resetMinutes() int { return int(models.ResetValidity / time.Minute) }

// showForgotPasswordPage is GET /forgot-password: the form.
func (h *Handler) showForgotPasswordPage(c echo.Context) error {
	return h.render(c, http.StatusOK, views.ForgotPasswordPage(h.forgotPasswordPage(c), views.ForgotPasswordView{}))
}

// showResetSentPage is GET /forgot-password/sent: the answer to every
// request that was taken.
func (h *Handler) showResetSentPage(c echo.Context) error {
	return h.render(c, http.StatusOK, views.ForgotPasswordPage(h.forgotPasswordPage(c), views.ForgotPasswordView{Sent: true, Minutes: resetMinutes()}))
}

// requestPasswordReset is POST /forgot-password: mails a reset link to the
// address's account, if it has one, and answers the same either way.
func (h *Handler) requestPasswordReset(c echo.Context) error {
	ctx := c.Request().Context()
	email := parseLoginForm(c).Email
	v := views.ForgotPasswordView{Email: email}
	if _, err := models.NormalizeEmail(email); err != nil {
		v.Error = loc(c).T("password.email_needed")
		return h.render(c, http.StatusUnprocessableEntity, views.ForgotPasswordPage(h.forgotPasswordPage(c), v))
	}
	attempt, refused, err := h.throttle.begin(ctx, resetAccountKey(email), resetAddressKey(c.RealIP()))
	if err != nil {
		return err
	}
	if refused != nil {
		h.log.WarnContext(ctx, "password reset throttled", "ip", c.RealIP(), "limit", string(refused.key.scope),
			"wait", refused.wait.Round(time.Second).String())
		v.Error = loc(c).T("password.too_many", "Wait", retryAfter(c, refused.wait))
		return h.render(c, http.StatusTooManyRequests, views.ForgotPasswordPage(h.forgotPasswordPage(c), v))
	}
	if err := h.svc.RequestPasswordReset(ctx, email, requestOrigin(c)); err != nil {
		if uerr := attempt.undo(); uerr != nil {
			h.log.ErrorContext(ctx, "password reset throttle: taking back an attempt failed", "err", uerr)
		}
		return err
	}
	return redirect(c, "/forgot-password/sent")
}
