package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
)

// settingsJSON is the WHAPI settings as the API shows them: no token.
type settingsJSON struct {
	Configured   bool   `json:"configured"`
	TokenHint    string `json:"token_hint"`
	ProjectID    string `json:"project_id"`
	Verified     bool   `json:"verified"`
	VerifyStatus string `json:"verify_status"`
	ProjectKnown *bool  `json:"project_known"`
	// ProjectStatus is known, unknown or unchecked; channels are created
	// only in a known project.
	ProjectStatus string `json:"project_status"`
	// Projects are WHAPI's projects as the last answered check listed
	// them, at ProjectsListedAt: the ids project_id may be set to.
	Projects            []projectJSON `json:"projects"`
	ProjectsListedAt    *string       `json:"projects_listed_at"`
	ChangedBy           string        `json:"changed_by,omitempty"`
	ChangedAt           *string       `json:"changed_at,omitempty"`
	LowBalanceThreshold int64         `json:"low_balance_threshold"`
	TopupWindowDays     int64         `json:"topup_window_days"`
	// CreateShareExtra: each customer's share of new channels in 30
	// minutes is their plan's channel limit plus this.
	CreateShareExtra int64 `json:"create_share_extra"`
}

// projectJSON is one of WHAPI's projects as the API shows it.
type projectJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Default bool   `json:"default"`
}

func toSettingsJSON(st *models.Settings) settingsJSON {
	out := settingsJSON{
		Configured: st.Configured(), TokenHint: st.TokenHint, ProjectID: st.ProjectID,
		Verified: st.VerifyStatus == models.VerifyVerified, VerifyStatus: string(st.VerifyStatus),
		ProjectKnown: st.ProjectKnown, ProjectStatus: string(st.ProjectStatus()), Projects: []projectJSON{},
		ProjectsListedAt: apiTimePtr(st.ProjectsListedAt), ChangedBy: st.TokenChangedBy, LowBalanceThreshold: st.LowBalanceThreshold,
		TopupWindowDays: st.TopupWindowDays, ChangedAt: apiTimePtr(st.TokenChangedAt), CreateShareExtra: st.CreateShareExtra,
	}
	for _, p := range st.Projects {
		out.Projects = append(out.Projects, projectJSON{ID: p.ID, Name: p.Name, Default: p.Default})
	}
	return out
}

func (h *Handler) getWHAPISettingsAPI(c echo.Context) error {
	st, err := h.store.Settings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSettingsJSON(st))
}

// settingsPut is the body of PUT /api/settings/whapi.
type settingsPut struct {
	PartnerToken        *string `json:"partner_token"`
	ProjectID           *string `json:"project_id"`
	LowBalanceThreshold *int64  `json:"low_balance_threshold"`
	TopupWindowDays     *int64  `json:"topup_window_days"`
	CreateShareExtra    *int64  `json:"create_share_extra"`
	// ReplaceRefused saves a partner_token that WHAPI refuses all the
	// same (marked refused) instead of answering 409 token_refused.
	ReplaceRefused bool `json:"replace_refused"`
}

func (h *Handler) putWHAPISettingsAPI(c echo.Context) error {
	var body settingsPut
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	in := provision.SettingsInput{LowBalanceThreshold: body.LowBalanceThreshold, TopupWindowDays: body.TopupWindowDays,
		ReplaceRefused: body.ReplaceRefused, CreateShareExtra: body.CreateShareExtra}
	if body.PartnerToken != nil {
		in.PartnerToken = *body.PartnerToken
	}
	if body.ProjectID != nil {
		in.ProjectID = *body.ProjectID
	}
	res, err := h.svc.SaveWHAPISettings(c.Request().Context(), actor(c), in)
	var fe provision.FieldErrors
	var refused *provision.TokenRefusedError
	switch {
	case errors.As(err, &fe):
		return &APIError{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Message: loc(c).T("api.settings_invalid"), Fields: fe}
	case errors.As(err, &refused):
		msg := loc(c).T("api.token_refused", "Status", strconv.Itoa(refused.Status))
		if refused.Kept {
			msg = loc(c).T("api.token_refused_kept", "Status", strconv.Itoa(refused.Status))
		}
		return &APIError{Status: http.StatusConflict, Code: "token_refused", WHAPIStatus: refused.Status, Message: msg}
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSettingsJSON(res.Settings))
}
