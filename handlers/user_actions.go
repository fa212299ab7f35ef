package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/views"
)

// What an admin does on a customer's page (/admin/users/:id): their plan,
// their days, their account and their channels. Each action returns to
// the page with a flash, or shows it again with the form's errors.

// fixFields is the flash of a form on the page that was refused.
var fixFields = &views.Flash{Kind: "error", Text: "Nothing was changed: correct the fields marked below."}

// Plan ------------------------------------------------------------------

func (h *Handler) activateUserPlan(c echo.Context) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	planID, ok := parsePlanChoice(c)
	if !ok {
		h.setFlash(c, "error", "Choose a plan.")
		return h.backToUser(c, u.ID)
	}
	sub, err := h.svc.ActivatePlan(c.Request().Context(), actor(c), u.ID, planID)
	if err != nil {
		if err := h.flashProblem(c, err); err != nil {
			return err
		}
		return h.backToUser(c, u.ID)
	}
	h.setFlash(c, "success", fmt.Sprintf("Plan %s activated until %s: %s credited.", sub.Plan.Name,
		formatTime(&sub.CurrentPeriodEnd), countOf(sub.Plan.PeriodCredit(), "day", "days")))
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
	h.setFlash(c, "success", fmt.Sprintf("Plan %s renewed until %s: %s credited.", sub.Plan.Name,
		formatTime(&sub.CurrentPeriodEnd), countOf(sub.Plan.PeriodCredit(), "day", "days")))
	return h.backToUser(c, u.ID)
}

func (h *Handler) showCancelUserPlanPage(c echo.Context) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	sub, err := h.store.ActiveSubscription(c.Request().Context(), u.ID)
	if errors.Is(err, models.ErrNotFound) {
		h.setFlash(c, "info", "There is no active plan to cancel.")
		return h.backToUser(c, u.ID)
	}
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.CancelSubscriptionPage(h.usersPage(c, "Cancel plan"), views.UserConfirm{
		UserID: u.ID, Email: u.Email, Name: sub.Plan.Name, Action: userPath(u.ID) + "/subscription/cancel", Confirm: "Cancel the plan"}))
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
	h.setFlash(c, "success", "The plan is cancelled: no new channels can be added. Existing channels keep their days.")
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
		return h.renderUserPage(c, http.StatusUnprocessableEntity, u, fixFields, func(v *views.UserPageView) { v.Credit = form.view() })
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
	text := countOf(n, "day", "days") + " credited."
	if moved := u.DayBalance + n - after.DayBalance; moved > 0 {
		text += " Automatic allocation gave " + countOf(moved, "day", "days") + " to channels."
	}
	h.setFlash(c, "success", text+" Balance: "+countOf(after.DayBalance, "day.", "days."))
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
	return h.render(c, http.StatusOK, views.DisableUserPage(h.usersPage(c, "Disable account"), views.UserConfirm{
		UserID: u.ID, Email: u.Email, Action: userPath(u.ID) + "/disable", Confirm: "Disable the account"}))
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
		h.setFlash(c, "error", "You cannot disable your own account.")
		return h.backToUser(c, u.ID)
	}
	if err := h.store.SetDisabled(c.Request().Context(), actor(c), u.ID, disabled); err != nil {
		return err
	}
	if disabled {
		h.setFlash(c, "success", u.Email+" is disabled and signed out everywhere; their API keys are revoked.")
	} else {
		h.setFlash(c, "success", u.Email+" is enabled: they can sign in again. Their old API keys stay revoked: give them new ones if they use the API.")
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
		return h.renderUserPage(c, http.StatusUnprocessableEntity, u, fixFields, func(v *views.UserPageView) { v.Password = views.PasswordForm{Errors: errs} })
	}
	if err := h.store.SetPassword(c.Request().Context(), actor(c), u.ID, form.New); err != nil {
		if errors.Is(err, models.ErrInvalidPassword) {
			h.setFlash(c, "error", "The password was changed meanwhile by someone else. Nothing was set; try again.")
			return h.backToUser(c, u.ID)
		}
		return err
	}
	h.setFlash(c, "success", "A new password is set for "+u.Email+". They are signed out everywhere; tell them the new password in a safe way.")
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
	}
	if len(form.Errors) > 0 {
		return h.renderUserPage(c, http.StatusUnprocessableEntity, u, fixFields, func(v *views.UserPageView) {
			for i := range v.Channels {
				if v.Channels[i].ID == ch.ID {
					v.Channels[i].Extend = form.view()
				}
			}
		})
	}
	if text := extendTooSoonText(ch, err); text != "" {
		h.setFlash(c, "warning", text)
		return h.backToUser(c, u.ID)
	}
	if err != nil {
		if err := h.flashProblem(c, err); err != nil {
			return err
		}
		return h.backToUser(c, u.ID)
	}
	text := fmt.Sprintf("Channel %s extended by %s.", ch.Name, countOf(in.Days, "day", "days"))
	if till := formatTime(updated.ActiveTill); till != "" {
		text = fmt.Sprintf("Channel %s extended by %s: active till %s.", ch.Name, countOf(in.Days, "day", "days"), till)
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
		h.setFlash(c, "info", "This channel is being changed or is gone already: it cannot be deleted now.")
		return h.backToUser(c, u.ID)
	}
	var unused string
	if v.UnusedDays > 0 {
		unused = countOf(v.UnusedDays, "unused day", "unused days")
	}
	return h.render(c, http.StatusOK, views.DeleteUserChannelPage(h.usersPage(c, "Delete channel"), views.UserConfirm{
		UserID: u.ID, Email: u.Email, Name: ch.Name, Unused: unused, Action: userPath(u.ID) + "/channels/" + strconv.FormatInt(ch.ID, 10) + "/delete",
		Confirm: "Delete the channel"}))
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
	text := "Channel " + ch.Name + " deleted."
	if n > 0 {
		text = fmt.Sprintf("Channel %s deleted: %s returned to the balance.", ch.Name, countOf(n, "unused day", "unused days"))
	}
	h.setFlash(c, "success", text)
	return h.backToUser(c, u.ID)
}
