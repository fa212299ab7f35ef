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
		ProjectStatus:       string(st.ProjectStatus()),
		ProjectUnknown:      st.ProjectStatus() == models.ProjectUnknown,
		ProjectUnchecked:    st.ProjectStatus() == models.ProjectUnchecked,
		Projects:            projectsView(st),
		ProjectsListedAt:    formatTime(st.ProjectsListedAt),
		ProjectIDInput:      st.ProjectID,
		ThresholdInput:      strconv.FormatInt(st.LowBalanceThreshold, 10),
		WindowInput:         strconv.FormatInt(st.TopupWindowDays, 10),
		ShareExtraInput:     strconv.FormatInt(st.CreateShareExtra, 10),
	}
}

// projectsView is WHAPI's list of projects from the last check, the
// configured one marked.
func projectsView(st *models.Settings) []views.WHAPIProject {
	out := make([]views.WHAPIProject, 0, len(st.Projects))
	for _, p := range st.Projects {
		out = append(out, views.WHAPIProject{ID: p.ID, Name: p.Name, Default: p.Default, Current: p.ID == st.ProjectID})
	}
	return out
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
				projectID + ", so channels cannot be created there: pick one of your WHAPI projects below."
		}
		return "success", verified + ": WHAPI accepted the token and knows project " + projectID + "."
	case models.VerifyRefused:
		if saved {
			// Only an admin's "save it anyway" saves a token WHAPI refuses.
			return "error", "Saved anyway, as you asked: WHAPI refused this token (401/403), so channels cannot be created, " +
				"extended or deleted until a token WHAPI accepts is saved."
		}
		return "error", but + "WHAPI refused this token (401/403). Check that you copied the whole partner token, then save it again."
	default:
		return "warning", but + "WHAPI could not be reached, so the token is not verified. Use “Test connection” later."
	}
}

// tokenRefusedWords says that WHAPI refused a new token (with WHAPI's
// status) and that the current token, if one is saved, stays in use.
func tokenRefusedWords(e *provision.TokenRefusedError) string {
	if e.Kept {
		return e.Error() + ": the current token stays in use"
	}
	return e.Error() + ": it was not saved"
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
	v := settingsView(st)
	v.KeyMismatch = h.keyMismatch(c)
	return h.render(c, http.StatusOK, views.WHAPISettingsPage(h.settingsPage(c), v))
}

// keyMismatch is provision.ErrKeyMismatch's words when the saved token
// does not open with this server's secret key, else "".
func (h *Handler) keyMismatch(c echo.Context) string {
	if err := h.svc.Configured(c.Request().Context()); errors.Is(err, provision.ErrKeyMismatch) {
		return err.Error()
	}
	return ""
}

func (h *Handler) saveWHAPISettings(c echo.Context) error {
	ctx := c.Request().Context()
	form := parseSettingsForm(c)
	var res *provision.SettingsResult
	var err error
	fe := form.Errors
	var refused *provision.TokenRefusedError
	if len(fe) == 0 {
		res, err = h.svc.SaveWHAPISettings(ctx, actor(c), form.In)
		if !errors.As(err, &fe) {
			errors.As(err, &refused)
		}
	}
	if len(fe) > 0 || refused != nil {
		// The form again, as typed but for the token, which a page never
		// shows: the admin pastes it again (also to save it anyway).
		st, err := h.store.Settings(ctx)
		if err != nil {
			return err
		}
		v := settingsView(st)
		v.Errors = fe
		v.ProjectIDInput, v.ThresholdInput, v.WindowInput = form.ProjectID, form.Threshold, form.WindowDays
		v.ShareExtraInput = form.ShareExtra
		p := h.settingsPage(c)
		p.Flash = &views.Flash{Kind: "error", Text: "Nothing was saved: correct the fields marked below."}
		if refused != nil {
			v.TokenRefused = tokenRefusedWords(refused)
			p.Flash.Text = "Nothing was saved: WHAPI refused the new token."
		}
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

// testWHAPIConnection is "Test connection": the saved token is checked
// with WHAPI again and recorded (the page's status and WHAPI's list of
// projects are refreshed), then the doctor's read-only checks run — on the
// same answer of WHAPI's, one GET /projects in all — and the page shows
// their lines (handlers/doctor.go). The answer is the page
// itself, not a redirect: the lines are this test's and are not kept.
func (h *Handler) testWHAPIConnection(c echo.Context) error {
	ctx := c.Request().Context()
	p := h.settingsPage(c)
	chk, st, rep, err := h.svc.TestConnectionReport(ctx, actor(c))
	switch {
	case errors.Is(err, provision.ErrNotConfigured):
		p.Flash = &views.Flash{Kind: "warning", Text: "No partner token is saved yet. " + saveTokenFirst}
	case errors.Is(err, provision.ErrKeyMismatch):
		p.Flash = &views.Flash{Kind: "error", Text: err.Error()}
	case err != nil:
		return err
	default:
		kind, text := checkMessage(chk, st.ProjectID, false)
		p.Flash = &views.Flash{Kind: kind, Text: text}
	}
	if st, err = h.store.Settings(ctx); err != nil {
		return err
	}
	v := settingsView(st)
	v.KeyMismatch = h.keyMismatch(c)
	v.Doctor = doctorView(rep)
	return h.render(c, http.StatusOK, views.WHAPISettingsPage(p, v))
}

// pickWHAPIProject makes one of the projects WHAPI listed the project new
// channels are created in (one click on the settings page), and checks it
// with WHAPI again.
func (h *Handler) pickWHAPIProject(c echo.Context) error {
	ctx := c.Request().Context()
	form := parseProjectPickForm(c)
	res, err := h.svc.PickProject(ctx, actor(c), form.ProjectID)
	var fe provision.FieldErrors
	switch {
	case errors.Is(err, provision.ErrNotConfigured):
		h.setFlash(c, "warning", "No partner token is saved yet. "+saveTokenFirst)
	case errors.As(err, &fe):
		st, err := h.store.Settings(ctx)
		if err != nil {
			return err
		}
		v := settingsView(st)
		v.PickError = upperFirst(fe["project_id"])
		p := h.settingsPage(c)
		p.Flash = &views.Flash{Kind: "error", Text: "No project was picked: see the list of projects below."}
		return h.render(c, http.StatusUnprocessableEntity, views.WHAPISettingsPage(p, v))
	case err != nil:
		return err
	case res.Check != nil && !res.Check.Recorded:
		h.setFlash(c, "warning", "Picked. Another change to the settings was made while WHAPI was being asked; the status below is the current one.")
	case res.Check != nil:
		kind, text := pickMessage(res.Check, res.Settings)
		h.setFlash(c, kind, text)
	default:
		h.setFlash(c, "info", "Nothing changed: this project is already the one new channels go to.")
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/settings/whapi")
}

// pickMessage says what happened when an admin picked a project and WHAPI
// was asked about it again.
func pickMessage(chk *provision.Check, st *models.Settings) (kind, text string) {
	project := "project " + st.ProjectID
	for _, p := range st.Projects {
		if p.ID == st.ProjectID && p.Name != "" {
			project = "the project “" + p.Name + "” (" + p.ID + ")"
		}
	}
	switch {
	case chk.Status == models.VerifyVerified && chk.ProjectKnown != nil && *chk.ProjectKnown:
		return "success", "New channels are now created in " + project + ": WHAPI confirmed it."
	case chk.Status == models.VerifyVerified:
		return "warning", upperFirst(project) + " was picked, but WHAPI no longer lists it: pick another one below."
	case chk.Status == models.VerifyRefused:
		return "error", upperFirst(project) + " was picked, but WHAPI refused the partner token (401/403), so channels cannot be created: replace the token."
	}
	return "warning", upperFirst(project) + " was picked, but WHAPI could not be reached to confirm it; it is checked again before the next channel is created."
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
