package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
// token against WHAPI (GET /projects) and records what WHAPI said. The token
// is saved even when WHAPI cannot be reached (then marked not verified).
func (s *Service) SaveWHAPISettings(ctx context.Context, actor models.Actor, in SettingsInput) (*SettingsResult, error) {
	cur, err := s.store.Settings(ctx)
	if err != nil {
		return nil, err
	}
	ch, fe := settingsChange(in, cur.Configured())
	if len(fe) > 0 {
		return nil, fe
	}
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
	list, err := s.whapi.Projects(ctx)
	switch {
	case err == nil:
		chk.Status = models.VerifyVerified
		known := false
		for _, p := range list.Projects {
			if p.ID == st.ProjectID || (st.ProjectID == "default" && p.IsDefault) {
				known = true
			}
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
	recorded, err := s.store.RecordVerification(ctx, actor, st.PartnerTokenEnc, st.ProjectID, chk.Status, chk.ProjectKnown)
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	chk.Recorded = recorded
	return chk, nil
}
