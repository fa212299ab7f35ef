package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"whapidesk/models"
	"whapidesk/whapi"
)

// FieldErrors maps a form field to what is wrong with it. A workflow that
// returns FieldErrors has changed nothing.
type FieldErrors map[string]string

func (fe FieldErrors) Error() string {
	parts := make([]string, 0, len(fe))
	for k, v := range fe {
		parts = append(parts, k+": "+v)
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// SettingsInput is what an admin submits on the WHAPI Settings page or PUT
// /api/settings/whapi. An empty PartnerToken keeps the current token; an
// empty ProjectID keeps the current project id.
type SettingsInput struct {
	PartnerToken        string
	ProjectID           string
	LowBalanceThreshold *int64
	TopupWindowDays     *int64
}

// Check is what WHAPI said when whapidesk checked the saved token.
type Check struct {
	Status       models.VerifyStatus
	ProjectKnown *bool // nil when WHAPI could not tell (token refused, unreachable)
	Projects     int   // how many projects WHAPI listed
	// Recorded is false when the settings changed while WHAPI was asked, so
	// this answer was about settings no longer current and was not stored.
	Recorded bool
}

// SettingsResult is the outcome of saving the settings.
type SettingsResult struct {
	Settings *models.Settings
	Changed  bool
	Check    *Check // nil when no token is configured
}

// SaveWHAPISettings validates and saves the WHAPI settings, then checks the
// token against WHAPI (GET /projects) and records what WHAPI said, its list
// of projects included. The token is saved even when WHAPI cannot be
// reached (then marked not verified).
func (s *Service) SaveWHAPISettings(ctx context.Context, actor models.Actor, in SettingsInput) (*SettingsResult, error) {
	return s.saveSettings(ctx, actor, in, "")
}

// saveSettings is SaveWHAPISettings; note, when set, is added to the
// audit event's words for a new project id.
func (s *Service) saveSettings(ctx context.Context, actor models.Actor, in SettingsInput, note string) (*SettingsResult, error) {
	cur, err := s.store.Settings(ctx)
	if err != nil {
		return nil, err
	}
	ch, fe := settingsChange(in, cur.Configured())
	if len(fe) > 0 {
		return nil, fe
	}
	ch.ProjectNote = note
	st, changed, err := s.store.UpdateSettings(ctx, actor, ch)
	if err != nil {
		return nil, err
	}
	res := &SettingsResult{Settings: st, Changed: changed}
	if !st.Configured() {
		return res, nil
	}
	if res.Changed || st.VerifyStatus == models.VerifyUnverified {
		res.Check, err = s.verify(ctx, actor, st)
		if err != nil {
			return nil, err
		}
		if res.Settings, err = s.store.Settings(ctx); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// ValidateSettings reports every problem of in, assuming a token is
// configured already (a form that failed early still shows them all).
func ValidateSettings(in SettingsInput) FieldErrors {
	_, fe := settingsChange(in, true)
	return fe
}

// settingsChange validates the input and turns it into a store change.
func settingsChange(in SettingsInput, configured bool) (models.SettingsChange, FieldErrors) {
	var ch models.SettingsChange
	fe := FieldErrors{}
	if strings.TrimSpace(in.PartnerToken) == "" {
		if !configured {
			fe["partner_token"] = ErrTokenEmpty.Error()
		}
	} else if tok, err := NormalizePartnerToken(in.PartnerToken); err != nil {
		fe["partner_token"] = err.Error()
	} else {
		ch.PartnerToken = &tok
		ch.Hint = TokenHint(tok)
	}
	if strings.TrimSpace(in.ProjectID) != "" {
		if p, err := NormalizeProjectID(in.ProjectID); err != nil {
			fe["project_id"] = err.Error()
		} else {
			ch.ProjectID = &p
		}
	}
	if in.LowBalanceThreshold != nil {
		if v := *in.LowBalanceThreshold; v < 0 || v > 1_000_000 {
			fe["low_balance_threshold"] = "enter a number of days from 0 to 1,000,000"
		} else {
			ch.LowBalanceThreshold = in.LowBalanceThreshold
		}
	}
	if in.TopupWindowDays != nil {
		if v := *in.TopupWindowDays; v < 0 || v > 365 {
			fe["topup_window_days"] = "enter a number of days from 0 to 365"
		} else {
			ch.TopupWindowDays = in.TopupWindowDays
		}
	}
	return ch, fe
}

// ErrNotListed is the picker's refusal of a project id that is not among
// the projects WHAPI listed at the last answered check.
var ErrNotListed = errors.New("this is not one of the projects WHAPI listed: use “Test connection” to list them again")

// PickProject makes id — one of the projects WHAPI listed at the last
// check it answered (Settings.Projects) — the project new channels are
// created in, audited with the project's name, and checks it with WHAPI
// again as any change of the settings is. Any other id is refused with
// FieldErrors{"project_id": …} and changes nothing.
func (s *Service) PickProject(ctx context.Context, actor models.Actor, id string) (*SettingsResult, error) {
	st, err := s.settings(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range st.Projects {
		if p.ID == id {
			return s.saveSettings(ctx, actor, SettingsInput{ProjectID: id}, "picked from WHAPI's projects: “"+p.Name+"”")
		}
	}
	return nil, FieldErrors{"project_id": ErrNotListed.Error()}
}

// projectReady is the one rule for creating a channel: PUT /channels is
// sent only with a project id that WHAPI listed. The configured project is
//   - known (the last check WHAPI answered listed it, and neither the token
//     nor the project id changed since): go on, without asking again;
//   - unknown (WHAPI answered and did not list it): refused at once;
//   - unchecked (not asked since a change, or WHAPI did not answer the last
//     check): WHAPI is asked now (GET /projects, recorded as any check, by
//     the system; no transaction is open), and the answer decides. If WHAPI
//     cannot tell — it does not answer, or refuses the token — the create
//     is refused as well. That is our reading where WHAPI's docs are
//     silent: they say a create in a project WHAPI does not have is 404,
//     but not what a create does while the list cannot be read, so nothing
//     is sent with an id WHAPI has not listed.
//
// It returns the settings to create with (their project id is the one
// found known; WHAPI's alias "default" becomes the id of the project WHAPI
// listed as its default), or *ProjectError; nothing is reserved either way.
func (s *Service) projectReady(ctx context.Context, st *models.Settings) (*models.Settings, error) {
	switch st.ProjectStatus() {
	case models.ProjectKnown:
		return listedID(st), nil
	case models.ProjectUnknown:
		return nil, &ProjectError{ProjectID: st.ProjectID}
	}
	if _, err := s.verify(ctx, models.SystemActor, st); err != nil {
		return nil, err
	}
	// Decide on the settings as they are now: another admin may have
	// changed them while WHAPI was asked (then this check was not recorded).
	now, err := s.settings(ctx)
	if err != nil {
		return nil, err
	}
	switch now.ProjectStatus() {
	case models.ProjectKnown:
		return listedID(now), nil
	case models.ProjectUnknown:
		return nil, &ProjectError{ProjectID: now.ProjectID}
	}
	return nil, &ProjectError{ProjectID: now.ProjectID, Unchecked: true}
}

// listedID is st with WHAPI's alias "default" replaced by the id of the
// project WHAPI listed as its default, so that PUT /channels names a
// listed id; st as it is otherwise (or when no list was kept).
func listedID(st *models.Settings) *models.Settings {
	if st.ProjectID != "default" {
		return st
	}
	for _, p := range st.Projects {
		if p.Default {
			cp := *st
			cp.ProjectID = p.ID
			return &cp
		}
	}
	return st
}

// ClearPartnerToken removes the partner token (nothing happens, and nothing
// is audited, when none is saved).
func (s *Service) ClearPartnerToken(ctx context.Context, actor models.Actor) (*models.Settings, error) {
	st, err := s.store.Settings(ctx)
	if err != nil || !st.Configured() {
		return st, err
	}
	st, _, err = s.store.UpdateSettings(ctx, actor, models.SettingsChange{ClearToken: true})
	return st, err
}

// TestConnection checks the configured token against WHAPI again.
func (s *Service) TestConnection(ctx context.Context, actor models.Actor) (*Check, *models.Settings, error) {
	st, err := s.settings(ctx)
	if err != nil {
		return nil, st, err
	}
	chk, err := s.verify(ctx, actor, st)
	if err != nil {
		return nil, nil, err
	}
	st, err = s.store.Settings(ctx)
	return chk, st, err
}

// verify asks WHAPI for the partner's projects with the stored token. No
// transaction is open while WHAPI is called.
func (s *Service) verify(ctx context.Context, actor models.Actor, st *models.Settings) (*Check, error) {
	chk := &Check{}
	var projects []models.Project
	list, err := s.whapi.Projects(ctx)
	if errors.Is(err, models.ErrDecrypt) {
		// Not WHAPI's answer: the token could not be read to ask it.
		// Nothing is recorded.
		s.log.ErrorContext(ctx, "the saved partner token cannot be read with this server's secret key: "+
			"paste the partner token again on WHAPI Settings", "err", err)
		return nil, ErrKeyMismatch
	}
	switch {
	case err == nil:
		chk.Status = models.VerifyVerified
		known := false
		projects = make([]models.Project, 0, len(list.Projects))
		for _, p := range list.Projects {
			if p.ID == st.ProjectID || (st.ProjectID == "default" && p.IsDefault) {
				known = true
			}
			projects = append(projects, models.Project{ID: p.ID, Name: projectName(p.Name), Default: p.IsDefault})
		}
		chk.ProjectKnown = &known
		chk.Projects = len(list.Projects)
	case errors.Is(err, whapi.ErrUnauthorized):
		chk.Status = models.VerifyRefused
	default:
		// Timeouts, network errors, 5xx, 429 and anything else: WHAPI did
		// not say yes or no, so the token stays saved but not verified.
		s.log.WarnContext(ctx, "whapi token check failed", "err", err)
		chk.Status = models.VerifyUnreachable
	}
	recorded, err := s.store.RecordVerification(ctx, actor, st.PartnerTokenEnc, st.ProjectID, chk.Status, chk.ProjectKnown, projects)
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	chk.Recorded = recorded
	return chk, nil
}

// maxProjectName bounds a project's name as the settings keep it: WHAPI's
// free text, shown to admins only.
const maxProjectName = 100

// projectName is WHAPI's name of a project as kept: on one line, at most
// maxProjectName characters.
func projectName(name string) string {
	name = strings.Join(strings.FieldsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if r := []rune(name); len(r) > maxProjectName {
		name = string(r[:maxProjectName-1]) + "…"
	}
	return name
}
