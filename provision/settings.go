package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"whapidesk/internal/i18n"
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
	// CreateShareExtra: a customer's share of new channels in each
	// CreateWindow is their plan's channel limit plus this.
	CreateShareExtra *int64
	// ReplaceRefused is the admin's explicit "save it anyway": a new
	// PartnerToken that WHAPI refuses is saved all the same (marked
	// refused) instead of *TokenRefusedError. It needs a PartnerToken.
	ReplaceRefused bool
}

// ErrReplaceNeedsToken is the refusal of "save it anyway" without a token:
// there is nothing to save anyway (a page never keeps the token it was
// sent, so the admin pastes it again).
var ErrReplaceNeedsToken = errors.New("paste the token to save it anyway")

// TokenRefusedError is SaveWHAPISettings' answer when WHAPI refused (401 or
// 403) the new partner token it was asked with before the save, and the
// admin did not ask to save it anyway: nothing was saved — neither the
// token nor the other settings of the same submit — and the current token,
// if one is saved, stays in use with its status.
type TokenRefusedError struct {
	// Status is WHAPI's HTTP status: 401 or 403.
	Status int
	// Kept is true when a token is saved, and stays in use.
	Kept bool
}

func (e *TokenRefusedError) Error() string {
	return fmt.Sprintf("WHAPI refused this token (%d)", e.Status)
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

// SaveWHAPISettings validates and saves the WHAPI settings and records what
// WHAPI said of the token, its list of projects included.
//
// A new token is checked before it replaces the current one: WHAPI is
// asked with it (GET /projects, read-only, no transaction open), and
//   - accepted: it is saved with the other settings, verified;
//   - refused (401/403): nothing of this submit is saved and the answer is
//     *TokenRefusedError — one Save is one change, so a refusal does not
//     leave half of it applied — unless in.ReplaceRefused, when it is
//     saved marked refused. This holds when no token is saved yet too:
//     a token WHAPI refuses is saved only when the admin says so;
//   - not answered (unreachable, timeout, 5xx, 429): saved, not verified,
//     as before this check existed.
//
// The token and what WHAPI said of it are stored in one update
// (models.SettingsChange.Check), so of two admins saving at once the last
// save wins as a whole and the status on the row is always that of the
// token stored with it. Without a new token, the saved token is checked
// after the save when anything changed or it was never checked.
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
	ch, fe := settingsChange(ctx, in, cur.Configured())
	if len(fe) > 0 {
		return nil, fe
	}
	ch.ProjectNote = note
	var asked *Check
	if ch.PartnerToken != nil {
		var status int
		ch.Check, asked, status = s.checkToken(ctx, *ch.PartnerToken)
		if ch.Check.Status == models.VerifyRefused && !in.ReplaceRefused {
			s.log.WarnContext(ctx, "whapi refused the new partner token: nothing saved", "status", status,
				"actor", actor.Email, "current_token_kept", cur.Configured())
			return nil, &TokenRefusedError{Status: status, Kept: cur.Configured()}
		}
		if ch.Check.Status == models.VerifyRefused {
			s.log.WarnContext(ctx, "whapi refused the new partner token: saved anyway, as the admin asked", "status", status, "actor", actor.Email)
		}
	}
	st, changed, err := s.store.UpdateSettings(ctx, actor, ch)
	if err != nil {
		return nil, err
	}
	res := &SettingsResult{Settings: st, Changed: changed}
	if asked != nil {
		// Stored with the token in the same update: whether the project is
		// known was decided there, against the project id saved.
		asked.ProjectKnown, asked.Recorded = st.ProjectKnown, true
		res.Check = asked
		return res, nil
	}
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

// ValidateSettings is ValidateSettings in the language ctx
// carries.
func ValidateSettings(ctx context.Context, in SettingsInput) FieldErrors {
	_, fe := settingsChange(ctx, in, true)
	return fe
}

// settingsChange validates the input and turns it into a store change;
// its FieldErrors are in ctx's language.
func settingsChange(ctx context.Context, in SettingsInput, configured bool) (models.SettingsChange, FieldErrors) {
	var ch models.SettingsChange
	fe := FieldErrors{}
	if strings.TrimSpace(in.PartnerToken) == "" {
		switch {
		case in.ReplaceRefused:
			fe["partner_token"] = fieldMsg(ctx, ErrReplaceNeedsToken)
		case !configured:
			fe["partner_token"] = fieldMsg(ctx, ErrTokenEmpty)
		}
	} else if tok, err := NormalizePartnerToken(in.PartnerToken); err != nil {
		fe["partner_token"] = fieldMsg(ctx, err)
	} else {
		ch.PartnerToken = &tok
		ch.Hint = TokenHint(tok)
	}
	if strings.TrimSpace(in.ProjectID) != "" {
		if p, err := NormalizeProjectID(in.ProjectID); err != nil {
			fe["project_id"] = fieldMsg(ctx, err)
		} else {
			ch.ProjectID = &p
		}
	}
	if in.LowBalanceThreshold != nil {
		if v := *in.LowBalanceThreshold; v < 0 || v > 1_000_000 {
			fe["low_balance_threshold"] = i18n.T(ctx, "prov.settings.low_balance_threshold", "Max", number(ctx, 1_000_000))
		} else {
			ch.LowBalanceThreshold = in.LowBalanceThreshold
		}
	}
	if in.TopupWindowDays != nil {
		if v := *in.TopupWindowDays; v < 0 || v > 365 {
			fe["topup_window_days"] = i18n.T(ctx, "prov.settings.topup_window_days", "Max", number(ctx, 365))
		} else {
			ch.TopupWindowDays = in.TopupWindowDays
		}
	}
	if in.CreateShareExtra != nil {
		if v := *in.CreateShareExtra; v < 0 || v > MaxCreateShareExtra {
			fe["create_share_extra"] = i18n.T(ctx, "prov.settings.create_share_extra", "Max", plainNumber(ctx, MaxCreateShareExtra))
		} else {
			ch.CreateShareExtra = in.CreateShareExtra
		}
	}
	return ch, fe
}

// MaxCreateShareExtra bounds the create_share_extra setting (the schema
// holds the same bound).
const MaxCreateShareExtra = 1000

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
	return nil, FieldErrors{"project_id": fieldMsg(ctx, ErrNotListed)}
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
	chk, st, _, err := s.testConnection(ctx, actor, false)
	return chk, st, err
}

// TestConnectionReport is the WHAPI Settings page's "Test connection":
// TestConnection, then the Doctor's read-only checks, with one
// GET /projects between them — the answer that checks the token is the
// one the doctor's token, manager, project and clock lines are read from.
// The report is there whatever the error (not configured, the key does
// not open the token).
func (s *Service) TestConnectionReport(ctx context.Context, actor models.Actor) (*Check, *models.Settings, DoctorReport, error) {
	return s.testConnection(ctx, actor, true)
}

func (s *Service) testConnection(ctx context.Context, actor models.Actor, report bool) (*Check, *models.Settings, DoctorReport, error) {
	var probe *managerProbe
	doctor := func() DoctorReport {
		if !report {
			return DoctorReport{}
		}
		return s.doctor(ctx, probe)
	}
	st, err := s.settings(ctx)
	if err != nil {
		return nil, st, doctor(), err
	}
	p := s.probeManager(ctx)
	probe = &p
	chk, err := s.verifyWith(ctx, actor, st, p.list, p.err)
	if err != nil {
		return nil, nil, doctor(), err
	}
	st, err = s.store.Settings(ctx)
	return chk, st, doctor(), err
}

// checkToken asks WHAPI for the partner's projects with token, a new
// token not saved yet (no transaction is open). It returns what to store
// with the token, the check as SaveWHAPISettings reports it (ProjectKnown
// is decided when it is stored), and WHAPI's status when it refused the
// token.
func (s *Service) checkToken(ctx context.Context, token string) (*models.TokenCheck, *Check, int) {
	list, err := s.whapi.ProjectsWithToken(ctx, token)
	tc := tokenCheck(list, err)
	if tc.Status == models.VerifyUnreachable {
		s.log.WarnContext(ctx, "whapi check of the new partner token failed: saving it not verified", "err", err)
	}
	status := 0
	var ae *whapi.APIError
	if tc.Status == models.VerifyRefused && errors.As(err, &ae) {
		status = ae.Status
	}
	return tc, &Check{Status: tc.Status, Projects: len(tc.Projects)}, status
}

// tokenCheck is what WHAPI's answer to GET /projects says of the token it
// was asked with.
func tokenCheck(list *whapi.ProjectList, err error) *models.TokenCheck {
	switch {
	case err == nil:
		projects := make([]models.Project, 0, len(list.Projects))
		for _, p := range list.Projects {
			projects = append(projects, models.Project{ID: p.ID, Name: projectName(p.Name), Default: p.IsDefault})
		}
		return &models.TokenCheck{Status: models.VerifyVerified, Projects: projects}
	case errors.Is(err, whapi.ErrUnauthorized):
		// 401 or 403: WHAPI's docs do not tell them apart for the partner
		// token, so both are a refusal of the token.
		return &models.TokenCheck{Status: models.VerifyRefused}
	}
	// Timeouts, network errors, 5xx, 429, other 4xx and anything else:
	// WHAPI did not say yes or no to the token, so it is not verified.
	return &models.TokenCheck{Status: models.VerifyUnreachable}
}

// verify asks WHAPI for the partner's projects with the stored token. No
// transaction is open while WHAPI is called.
func (s *Service) verify(ctx context.Context, actor models.Actor, st *models.Settings) (*Check, error) {
	list, err := s.whapi.Projects(ctx)
	return s.verifyWith(ctx, actor, st, list, err)
}

// verifyWith records what WHAPI's answer to GET /projects (list, err)
// says of the saved token; see verify.
func (s *Service) verifyWith(ctx context.Context, actor models.Actor, st *models.Settings, list *whapi.ProjectList, err error) (*Check, error) {
	if errors.Is(err, models.ErrDecrypt) {
		// Not WHAPI's answer: the token could not be read to ask it.
		// Nothing is recorded.
		s.log.ErrorContext(ctx, "the saved partner token cannot be read with this server's secret key: "+
			"paste the partner token again on WHAPI Settings", "err", err)
		return nil, ErrKeyMismatch
	}
	tc := tokenCheck(list, err)
	chk := &Check{Status: tc.Status, Projects: len(tc.Projects)}
	if tc.Projects != nil {
		known := models.ProjectListed(tc.Projects, st.ProjectID)
		chk.ProjectKnown = &known
	}
	if tc.Status == models.VerifyUnreachable {
		// The token stays saved but not verified.
		s.log.WarnContext(ctx, "whapi token check failed", "err", err)
	}
	recorded, err := s.store.RecordVerification(ctx, actor, st.PartnerTokenEnc, st.ProjectID, chk.Status, chk.ProjectKnown, tc.Projects)
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
