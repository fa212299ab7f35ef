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

// settingsView turns the settings row into what the page shows, in l's
// words: the masked hint, never the token.
func settingsView(l *i18n.Localizer, st *models.Settings) views.WHAPISettings {
	return views.WHAPISettings{
		Configured:          st.Configured(),
		Hint:                st.TokenHint,
		ChangedBy:           st.TokenChangedBy,
		ChangedAt:           dateTimeOf(l, st.TokenChangedAt),
		ProjectID:           st.ProjectID,
		LowBalanceThreshold: st.LowBalanceThreshold,
		VerifyStatus:        string(st.VerifyStatus),
		VerifiedAt:          dateTimeOf(l, st.VerifiedAt),
		ProjectKnown:        st.ProjectKnown,
		ProjectStatus:       string(st.ProjectStatus()),
		ProjectUnknown:      st.ProjectStatus() == models.ProjectUnknown,
		ProjectUnchecked:    st.ProjectStatus() == models.ProjectUnchecked,
		Projects:            projectsView(st),
		ProjectsListedAt:    dateTimeOf(l, st.ProjectsListedAt),
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

// checkMessage says in plain words (l's) what happened when the token
// was checked, after a save (saved) or a "Test connection".
func checkMessage(l *i18n.Localizer, chk *provision.Check, projectID string, saved bool) (kind, text string) {
	mode := "tested"
	if saved {
		mode = "saved"
	}
	id := l.IsolateRTL(projectID)
	switch chk.Status {
	case models.VerifyVerified:
		if chk.ProjectKnown != nil && !*chk.ProjectKnown {
			return "warning", l.T("settings.check_msg."+mode+".project_unknown", "Id", id)
		}
		return "success", l.T("settings.check_msg."+mode+".verified", "Id", id)
	case models.VerifyRefused:
		// Saved: only an admin's "save it anyway" saves a token WHAPI refuses.
		return "error", l.T("settings.check_msg." + mode + ".refused")
	default:
		return "warning", l.T("settings.check_msg." + mode + ".unreachable")
	}
}

// tokenRefusedWords says that WHAPI refused a new token (with WHAPI's
// status) and that the current token, if one is saved, stays in use.
func tokenRefusedWords(l *i18n.Localizer, e *provision.TokenRefusedError) string {
	why := l.T("settings.refused_why", "Status", strconv.Itoa(e.Status))
	if e.Kept {
		return l.T("settings.refused_kept", "Why", why)
	}
	return l.T("settings.refused_not_saved", "Why", why)
}

func (h *Handler) settingsPage(c echo.Context) views.Page {
	p := h.page(c, loc(c).T("settings.title"))
	p.Active = "settings"
	return p
}

func (h *Handler) showWHAPISettingsPage(c echo.Context) error {
	st, err := h.store.Settings(c.Request().Context())
	if err != nil {
		return err
	}
	v := settingsView(loc(c), st)
	v.KeyMismatch = h.keyMismatch(c)
	return h.render(c, http.StatusOK, views.WHAPISettingsPage(h.settingsPage(c), v))
}

// keyMismatch is provision.ErrKeyMismatch's words when the saved token
// does not open with this server's secret key, else "".
func (h *Handler) keyMismatch(c echo.Context) string {
	if err := h.svc.Configured(c.Request().Context()); errors.Is(err, provision.ErrKeyMismatch) {
		return loc(c).T("errors.admin.key_mismatch")
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
		l := loc(c)
		v := settingsView(l, st)
		v.Errors = fe
		v.ProjectIDInput, v.ThresholdInput, v.WindowInput = form.ProjectID, form.Threshold, form.WindowDays
		v.ShareExtraInput = form.ShareExtra
		p := h.settingsPage(c)
		p.Flash = &views.Flash{Kind: "error", Text: l.T("settings.flash.fix_fields")}
		if refused != nil {
			v.TokenRefused = tokenRefusedWords(l, refused)
			p.Flash.Text = l.T("settings.flash.token_refused")
		}
		return h.render(c, http.StatusUnprocessableEntity, views.WHAPISettingsPage(p, v))
	}
	if err != nil {
		return err
	}
	l := loc(c)
	switch {
	case res.Check != nil && !res.Check.Recorded:
		h.setFlash(c, "warning", l.T("settings.flash.saved_raced"))
	case res.Check != nil:
		kind, text := checkMessage(l, res.Check, res.Settings.ProjectID, true)
		h.setFlash(c, kind, text)
	case res.Changed:
		h.setFlash(c, "success", l.T("settings.flash.saved"))
	default:
		h.setFlash(c, "info", l.T("settings.flash.unchanged"))
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
	l := loc(c)
	switch {
	case errors.Is(err, provision.ErrNotConfigured):
		p.Flash = &views.Flash{Kind: "warning", Text: l.T("settings.flash.no_token")}
	case errors.Is(err, provision.ErrKeyMismatch):
		p.Flash = &views.Flash{Kind: "error", Text: l.T("errors.admin.key_mismatch")}
	case err != nil:
		return err
	default:
		kind, text := checkMessage(l, chk, st.ProjectID, false)
		p.Flash = &views.Flash{Kind: kind, Text: text}
	}
	if st, err = h.store.Settings(ctx); err != nil {
		return err
	}
	v := settingsView(l, st)
	v.KeyMismatch = h.keyMismatch(c)
	v.Doctor = doctorView(l, rep)
	return h.render(c, http.StatusOK, views.WHAPISettingsPage(p, v))
}

// pickWHAPIProject makes one of the projects WHAPI listed the project new
// channels are created in (one click on the settings page), and checks it
// with WHAPI again.
func (h *Handler) pickWHAPIProject(c echo.Context) error {
	ctx := c.Request().Context()
	form := parseProjectPickForm(c)
	res, err := h.svc.PickProject(ctx, actor(c), form.ProjectID)
	l := loc(c)
	var fe provision.FieldErrors
	switch {
	case errors.Is(err, provision.ErrNotConfigured):
		h.setFlash(c, "warning", l.T("settings.flash.no_token"))
	case errors.As(err, &fe):
		st, err := h.store.Settings(ctx)
		if err != nil {
			return err
		}
		v := settingsView(l, st)
		v.PickError = upperFirst(fe["project_id"])
		p := h.settingsPage(c)
		p.Flash = &views.Flash{Kind: "error", Text: l.T("settings.flash.pick_refused")}
		return h.render(c, http.StatusUnprocessableEntity, views.WHAPISettingsPage(p, v))
	case err != nil:
		return err
	case res.Check != nil && !res.Check.Recorded:
		h.setFlash(c, "warning", l.T("settings.flash.picked_raced"))
	case res.Check != nil:
		kind, text := pickMessage(l, res.Check, res.Settings)
		h.setFlash(c, kind, text)
	default:
		h.setFlash(c, "info", l.T("settings.flash.pick_unchanged"))
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/settings/whapi")
}

// pickMessage says (in l's words) what happened when an admin picked a
// project and WHAPI was asked about it again.
func pickMessage(l *i18n.Localizer, chk *provision.Check, st *models.Settings) (kind, text string) {
	project := l.T("settings.pick.project_id", "Id", l.IsolateRTL(st.ProjectID))
	for _, p := range st.Projects {
		if p.ID == st.ProjectID && p.Name != "" {
			project = l.T("settings.pick.project_named", "Name", l.IsolateRTL(p.Name), "Id", l.IsolateRTL(p.ID))
		}
	}
	switch {
	case chk.Status == models.VerifyVerified && chk.ProjectKnown != nil && *chk.ProjectKnown:
		return "success", l.T("settings.pick.confirmed", "Project", project)
	case chk.Status == models.VerifyVerified:
		return "warning", upperFirst(l.T("settings.pick.not_listed", "Project", project))
	case chk.Status == models.VerifyRefused:
		return "error", upperFirst(l.T("settings.pick.refused", "Project", project))
	}
	return "warning", upperFirst(l.T("settings.pick.unreachable", "Project", project))
}

func (h *Handler) showRemoveTokenPage(c echo.Context) error {
	st, err := h.store.Settings(c.Request().Context())
	if err != nil {
		return err
	}
	if !st.Configured() {
		return redirect(c, "/admin/settings/whapi")
	}
	return h.render(c, http.StatusOK, views.RemoveTokenPage(h.settingsPage(c), settingsView(loc(c), st)))
}

func (h *Handler) removeWHAPIToken(c echo.Context) error {
	if _, err := h.svc.ClearPartnerToken(c.Request().Context(), actor(c)); err != nil {
		return err
	}
	h.setFlash(c, "success", loc(c).T("settings.flash.removed"))
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/settings/whapi")
}
