package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// settingsView turns the settings row into what the page shows: the masked
// hint, never the token.
func settingsView(st *models.Settings) views.WHAPISettings {
	return views.WHAPISettings{
		Configured:          st.Configured(),
		Hint:                st.TokenHint,
		ChangedBy:           st.TokenChangedBy,
		ChangedAt:           formatTime(st.TokenChangedAt),
		ProjectID:           st.ProjectID,
		LowBalanceThreshold: st.LowBalanceThreshold,
		VerifyStatus:        string(st.VerifyStatus),
		VerifiedAt:          formatTime(st.VerifiedAt),
		ProjectKnown:        st.ProjectKnown,
		ProjectIDInput:      st.ProjectID,
		ThresholdInput:      strconv.FormatInt(st.LowBalanceThreshold, 10),
		WindowInput:         strconv.FormatInt(st.TopupWindowDays, 10),
	}
}

// checkMessage says in plain words what happened when the token was
// checked, after a save (saved) or a "Test connection".
func checkMessage(chk *provision.Check, projectID string, saved bool) (kind, text string) {
	verified, but := "Verified", "The token is saved, but "
	if saved {
		verified, but = "Saved and verified", "Saved, but "
	}
	switch chk.Status {
	case models.VerifyVerified:
		if chk.ProjectKnown != nil && !*chk.ProjectKnown {
			return "warning", verified + ": WHAPI accepted the token. But WHAPI does not know the project id " +
				projectID + ", so channels cannot be created there: check the project id."
		}
		return "success", verified + ": WHAPI accepted the token and knows project " + projectID + "."
	case models.VerifyRefused:
		return "error", but + "WHAPI refused this token (401/403). Check that you copied the whole partner token, then save it again."
	default:
		return "warning", but + "WHAPI could not be reached, so the token is not verified. Use “Test connection” later."
	}
}

func (h *Handler) settingsPage(c echo.Context) views.Page {
	p := h.page(c, "WHAPI Settings")
	p.Active = "settings"
	return p
}

func (h *Handler) showWHAPISettingsPage(c echo.Context) error {
	st, err := h.store.Settings(c.Request().Context())
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.WHAPISettingsPage(h.settingsPage(c), settingsView(st)))
}

func (h *Handler) saveWHAPISettings(c echo.Context) error {
	ctx := c.Request().Context()
	form := parseSettingsForm(c)
	var res *provision.SettingsResult
	var err error
	fe := form.Errors
	if len(fe) == 0 {
		res, err = h.svc.SaveWHAPISettings(ctx, actor(c), form.In)
		errors.As(err, &fe)
	}
	if len(fe) > 0 {
		st, err := h.store.Settings(ctx)
		if err != nil {
			return err
		}
		v := settingsView(st)
		v.Errors = fe
		v.ProjectIDInput, v.ThresholdInput, v.WindowInput = form.ProjectID, form.Threshold, form.WindowDays
		p := h.settingsPage(c)
		p.Flash = &views.Flash{Kind: "error", Text: "Nothing was saved: correct the fields marked below."}
		return h.render(c, http.StatusUnprocessableEntity, views.WHAPISettingsPage(p, v))
	}
	if err != nil {
		return err
	}
	switch {
	case res.Check != nil && !res.Check.Recorded:
		h.setFlash(c, "warning", "Saved. Another change to the settings was made while WHAPI was being asked; the status below is the current one.")
	case res.Check != nil:
		kind, text := checkMessage(res.Check, res.Settings.ProjectID, true)
		h.setFlash(c, kind, text)
	case res.Changed:
		h.setFlash(c, "success", "Saved.")
	default:
		h.setFlash(c, "info", "Nothing changed.")
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/settings/whapi")
}

func (h *Handler) testWHAPIConnection(c echo.Context) error {
	chk, st, err := h.svc.TestConnection(c.Request().Context(), actor(c))
	switch {
	case errors.Is(err, provision.ErrNotConfigured):
		h.setFlash(c, "warning", "No partner token is saved yet. "+saveTokenFirst)
	case err != nil:
		return err
	default:
		kind, text := checkMessage(chk, st.ProjectID, false)
		h.setFlash(c, kind, text)
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/settings/whapi")
}

func (h *Handler) showRemoveTokenPage(c echo.Context) error {
	st, err := h.store.Settings(c.Request().Context())
	if err != nil {
		return err
	}
	if !st.Configured() {
		return redirect(c, "/admin/settings/whapi")
	}
	return h.render(c, http.StatusOK, views.RemoveTokenPage(h.settingsPage(c), settingsView(st)))
}

func (h *Handler) removeWHAPIToken(c echo.Context) error {
	if _, err := h.svc.ClearPartnerToken(c.Request().Context(), actor(c)); err != nil {
		return err
	}
	h.setFlash(c, "success", "The partner token was removed.")
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/settings/whapi")
}
