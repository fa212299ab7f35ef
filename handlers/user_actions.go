package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// What an admin does on a customer's page (/admin/users/:id): their plan,
// their days, their account and their channels. Each action returns to
// the page with a flash, or shows it again with the form's errors.

// fixFields is the flash of a form on the page that was refused: the
// errors themselves are next to their fields.
func fixFields(c echo.Context) *views.Flash {
	return &views.Flash{Kind: "error", Text: loc(c).T("users.fix_fields")}
}

// Plan ------------------------------------------------------------------

// showActivatePlanPage asks before a plan is activated for a customer
// (GET /admin/users/:id/subscription?plan_id=N, the plan form's answer):
// the plan, the days it credits, the plan it ends. Its form posts to
// activateUserPlan.
func (h *Handler) showActivatePlanPage(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	lz := loc(c)
	planID, ok := parsePlanChoice(c)
	var pl *models.Plan
	if ok {
		pl, err = h.store.PlanByID(ctx, planID)
		if errors.Is(err, models.ErrNotFound) {
			ok = false
		} else if err != nil {
			return err
		}
	}
	if !ok {
		h.setFlash(c, "error", lz.T("users.choose_plan"))
		return h.backToUser(c, u.ID)
	}
	v := views.ActivatePlanView{UserID: u.ID, Email: u.Email, PlanName: pl.Name, MaxChannels: pl.MaxChannels,
		DaysPerPeriod: lz.N("common.days", pl.DaysPerPeriod), Period: lz.N("common.days", pl.PeriodDays),
		Credit: lz.N("common.days", pl.PeriodCredit()),
		Action: userPath(u.ID) + "/subscription?plan_id=" + strconv.FormatInt(pl.ID, 10)}
	if cur, err := h.store.ActiveSubscription(ctx, u.ID); err == nil {
		v.Replaces = cur.Plan.Name
	} else if !errors.Is(err, models.ErrNotFound) {
		return err
	}
	return h.render(c, http.StatusOK, views.ActivatePlanPage(h.usersPage(c, lz.T("users.activate.page")), v))
}

// activateUserPlan activates the plan chosen (on the confirmation page, or
// by a form post of its own, which activates as it always did).
func (h *Handler) activateUserPlan(c echo.Context) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	lz := loc(c)
	planID, ok := parsePlanChoice(c)
	if !ok {
		h.setFlash(c, "error", lz.T("users.choose_plan"))
		return h.backToUser(c, u.ID)
	}
	sub, err := h.svc.ActivatePlan(c.Request().Context(), actor(c), u.ID, planID)
	if err != nil {
		if err := h.flashProblem(c, err); err != nil {
			return err
		}
		return h.backToUser(c, u.ID)
	}
	h.setFlash(c, "success", lz.T("users.activated", "Name", i18n.Isolate(sub.Plan.Name),
		"Till", lz.DateTime(sub.CurrentPeriodEnd), "Days", lz.N("common.days", sub.Plan.PeriodCredit())))
	return h.backToUser(c, u.ID)
}

func (h *Handler) renewUserPlan(c echo.Context) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	sub, err := h.svc.RenewSubscription(c.Request().Context(), actor(c), u.ID)
	if err != nil {
		if err := h.flashProblem(c, err); err != nil {
			return err
		}
		return h.backToUser(c, u.ID)
	}
	lz := loc(c)
	h.setFlash(c, "success", lz.T("users.renewed", "Name", i18n.Isolate(sub.Plan.Name),
		"Till", lz.DateTime(sub.CurrentPeriodEnd), "Days", lz.N("common.days", sub.Plan.PeriodCredit())))
	return h.backToUser(c, u.ID)
}

func (h *Handler) showCancelUserPlanPage(c echo.Context) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	sub, err := h.store.ActiveSubscription(c.Request().Context(), u.ID)
	if errors.Is(err, models.ErrNotFound) {
		h.setFlash(c, "info", loc(c).T("users.no_plan_to_cancel"))
		return h.backToUser(c, u.ID)
	}
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.CancelSubscriptionPage(h.usersPage(c, loc(c).T("users.cancel.page")), views.UserConfirm{
		UserID: u.ID, Email: u.Email, Name: sub.Plan.Name, Action: userPath(u.ID) + "/subscription/cancel", Confirm: loc(c).T("users.cancel.button")}))
}

func (h *Handler) cancelUserPlan(c echo.Context) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	if err := h.store.CancelSubscription(c.Request().Context(), actor(c), u.ID); err != nil {
		if err := h.flashProblem(c, err); err != nil {
			return err
		}
		return h.backToUser(c, u.ID)
	}
	h.setFlash(c, "success", loc(c).T("users.cancelled"))
	return h.backToUser(c, u.ID)
}

// Days ------------------------------------------------------------------

func (h *Handler) creditUserDays(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	form := parseCreditForm(c)
	n := form.Days
	if len(form.Errors) == 0 {
		err = h.svc.CreditDays(ctx, actor(c), u.ID, n, form.Comment)
		errors.As(err, &form.Errors)
	}
	if len(form.Errors) > 0 {
		return h.renderUserPage(c, http.StatusUnprocessableEntity, u, fixFields(c), func(v *views.UserPageView) { v.Credit = form.view() })
	}
	if err != nil {
		if err := h.flashProblem(c, err); err != nil {
			return err
		}
		return h.backToUser(c, u.ID)
	}
	after, err := h.store.UserByID(ctx, u.ID)
	if err != nil {
		return err
	}
	lz := loc(c)
	text := lz.T("users.credited", "Days", lz.N("common.days", n))
	if moved := u.DayBalance + n - after.DayBalance; moved > 0 {
		text += " " + lz.T("users.credited_auto", "Days", lz.N("common.days", moved))
	}
	h.setFlash(c, "success", text+" "+lz.T("users.credited_balance", "Days", lz.N("common.days", after.DayBalance)))
	return h.backToUser(c, u.ID)
}

// Account ---------------------------------------------------------------

func (h *Handler) showDisableUserPage(c echo.Context) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	if u.Disabled {
		return h.backToUser(c, u.ID)
	}
	return h.render(c, http.StatusOK, views.DisableUserPage(h.usersPage(c, loc(c).T("users.disable.page")), views.UserConfirm{
		UserID: u.ID, Email: u.Email, Action: userPath(u.ID) + "/disable", Confirm: loc(c).T("users.disable.button")}))
}

func (h *Handler) disableUser(c echo.Context) error {
	return h.setUserDisabled(c, true)
}

func (h *Handler) enableUser(c echo.Context) error {
	return h.setUserDisabled(c, false)
}

func (h *Handler) setUserDisabled(c echo.Context, disabled bool) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	if me := currentUser(c); disabled && me != nil && me.ID == u.ID {
		h.setFlash(c, "error", loc(c).T("users.disable.own"))
		return h.backToUser(c, u.ID)
	}
	if err := h.store.SetDisabled(c.Request().Context(), actor(c), u.ID, disabled); err != nil {
		return err
	}
	if disabled {
		h.setFlash(c, "success", loc(c).T("users.disabled_flash", "Email", i18n.Isolate(u.Email)))
	} else {
		h.setFlash(c, "success", loc(c).T("users.enabled_flash", "Email", i18n.Isolate(u.Email)))
	}
	return h.backToUser(c, u.ID)
}

// setUserPassword gives a user a new password chosen by an admin (there
// is no email reset): every session of theirs ends. An admin changes their
// own password at /account/password, with the current one.
func (h *Handler) setUserPassword(c echo.Context) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	if me := currentUser(c); me != nil && me.ID == u.ID {
		return redirect(c, "/account/password")
	}
	form := parsePasswordForm(c)
	if errs := form.newErrors(map[string]string{}, u.Email); len(errs) > 0 {
		return h.renderUserPage(c, http.StatusUnprocessableEntity, u, fixFields(c), func(v *views.UserPageView) { v.Password = views.PasswordForm{Errors: errs} })
	}
	if err := h.store.SetPassword(c.Request().Context(), actor(c), u.ID, form.New); err != nil {
		if errors.Is(err, models.ErrInvalidPassword) {
			h.setFlash(c, "error", loc(c).T("users.password_raced"))
			return h.backToUser(c, u.ID)
		}
		return err
	}
	h.setFlash(c, "success", loc(c).T("users.password_set", "Email", i18n.Isolate(u.Email)))
	return h.backToUser(c, u.ID)
}

// Channels --------------------------------------------------------------

func (h *Handler) extendUserChannel(c echo.Context) error {
	u, ch, err := h.channelOfPath(c)
	if err != nil {
		return err
	}
	form := parseExtendForm(c)
	in := form.input(ch.ID)
	var updated *models.Channel
	if len(form.Errors) == 0 {
		updated, err = h.svc.Extend(c.Request().Context(), actor(c), in)
		errors.As(err, &form.Errors)
		if errors.Is(err, models.ErrInsufficientBalance) {
			// Said next to the days field, which keeps what was typed.
			after, uerr := h.store.UserByID(c.Request().Context(), u.ID)
			if uerr != nil {
				return uerr
			}
			form.Errors = provision.FieldErrors{"days": shortBalanceText(loc(c), after, in.Days)}
		}
	}
	if len(form.Errors) > 0 {
		return h.renderUserPage(c, http.StatusUnprocessableEntity, u, fixFields(c), func(v *views.UserPageView) {
			for i := range v.Channels {
				if v.Channels[i].ID == ch.ID {
					v.Channels[i].Extend = form.view()
				}
			}
		})
	}
	lz := loc(c)
	if text := extendTooSoonText(lz, ch, err); text != "" {
		h.setFlash(c, "warning", text)
		return h.backToUser(c, u.ID)
	}
	if err != nil {
		if err := h.flashProblem(c, err); err != nil {
			return err
		}
		return h.backToUser(c, u.ID)
	}
	text := lz.T("users.extended", "Name", i18n.Isolate(ch.Name), "Days", lz.N("common.days", in.Days))
	if till := dateTimeOf(lz, updated.ActiveTill); till != "" {
		text = lz.T("users.extended_till", "Name", i18n.Isolate(ch.Name), "Days", lz.N("common.days", in.Days), "Till", till)
	}
	h.setFlash(c, "success", text)
	return h.backToUser(c, u.ID)
}

func (h *Handler) showDeleteUserChannelPage(c echo.Context) error {
	u, ch, err := h.channelOfPath(c)
	if err != nil {
		return err
	}
	v := h.svc.View(ch)
	if !v.Can.Delete {
		h.setFlash(c, "info", loc(c).T("users.delete.busy"))
		return h.backToUser(c, u.ID)
	}
	var unused string
	if v.UnusedDays > 0 {
		unused = loc(c).N("channels.unused_days", v.UnusedDays)
	}
	return h.render(c, http.StatusOK, views.DeleteUserChannelPage(h.usersPage(c, loc(c).T("channels.delete_page")), views.UserConfirm{
		UserID: u.ID, Email: u.Email, Name: ch.Name, Unused: unused, Action: userPath(u.ID) + "/channels/" + strconv.FormatInt(ch.ID, 10) + "/delete",
		Confirm: loc(c).T("channels.delete_button")}))
}

func (h *Handler) deleteUserChannel(c echo.Context) error {
	u, ch, err := h.channelOfPath(c)
	if err != nil {
		return err
	}
	n, err := h.svc.Delete(c.Request().Context(), actor(c), ch.ID)
	if err != nil {
		if err := h.flashProblem(c, err); err != nil {
			return err
		}
		return h.backToUser(c, u.ID)
	}
	lz := loc(c)
	text := lz.T("users.ch_deleted", "Name", i18n.Isolate(ch.Name))
	if n > 0 {
		text = lz.T("users.ch_deleted_returned", "Name", i18n.Isolate(ch.Name), "Days", lz.N("channels.unused_days", n))
	}
	h.setFlash(c, "success", text)
	return h.backToUser(c, u.ID)
}

// Language ----------------------------------------------------------------

// setUserLanguage sets the language a customer's pages and mails speak
// ("" for the one their browser asks for). A tag the catalog does not
// hold is refused next to the field.
func (h *Handler) setUserLanguage(c echo.Context) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	lz := loc(c)
	tag := c.FormValue("language")
	lang, known := i18n.Lookup(tag)
	if tag != "" && !known {
		return h.renderUserPage(c, http.StatusUnprocessableEntity, u, fixFields(c), func(v *views.UserPageView) {
			v.Language = views.LanguageForm{Value: tag, Error: lz.T("users.language.unknown")}
		})
	}
	if err := h.store.SetUserLanguage(c.Request().Context(), actor(c), u.ID, tag); err != nil {
		return err
	}
	if tag == "" {
		h.setFlash(c, "success", lz.T("users.language.set_browser", "Email", i18n.Isolate(u.Email)))
	} else {
		h.setFlash(c, "success", lz.T("users.language.set", "Email", i18n.Isolate(u.Email), "Language", lang.Name))
	}
	return h.backToUser(c, u.ID)
}
