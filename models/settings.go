package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// DefaultProjectID is the WHAPI project new channels go to unless an admin
// changes it (the client's fixed project id).
const DefaultProjectID = "HPN0H0hFDL1GFg154PI"

// VerifyStatus is what WHAPI said of the partner token the last time it was checked.
type VerifyStatus string

// Verification outcomes.
const (
	VerifyUnverified  VerifyStatus = "unverified"  // saved, not checked yet
	VerifyVerified    VerifyStatus = "verified"    // WHAPI accepted it
	VerifyRefused     VerifyStatus = "refused"     // WHAPI answered 401/403
	VerifyUnreachable VerifyStatus = "unreachable" // WHAPI could not be reached: not verified
)

// Project is one of the partner's WHAPI projects as WHAPI listed it: what
// the settings keep of GET /projects (never the channels WHAPI may list
// with it).
type Project struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Default bool   `json:"default"`
}

// ProjectListed reports whether id is one of projects: listed by its id,
// or "default" (WHAPI's alias) when one of them is WHAPI's default.
func ProjectListed(projects []Project, id string) bool {
	for _, p := range projects {
		if p.ID == id || (id == "default" && p.Default) {
			return true
		}
	}
	return false
}

// ProjectStatus is what the last check said of the configured project id.
type ProjectStatus string

// Project statuses.
const (
	// ProjectKnown: WHAPI listed it at the last check, and neither the token
	// nor the project id changed since.
	ProjectKnown ProjectStatus = "known"
	// ProjectUnknown: WHAPI answered the last check and did not list it.
	ProjectUnknown ProjectStatus = "unknown"
	// ProjectUnchecked: not asked since the token or the project id
	// changed, or WHAPI did not answer (refused the token, unreachable).
	ProjectUnchecked ProjectStatus = "unchecked"
)

// ErrNoPartnerToken is returned when no partner token is saved, so WHAPI
// cannot be called. provision.ErrNotConfigured is the same error.
var ErrNoPartnerToken = errors.New("WHAPI is not configured yet: an admin must save the partner token")

// Settings is the single row of WHAPI settings. The partner token itself is
// never part of it: only its sealed form stays in the database, and
// PartnerToken opens it when a WHAPI call needs it.
type Settings struct {
	ID              int64        `gorm:"primaryKey"`
	PartnerTokenEnc string       `gorm:"column:partner_token_enc"`
	TokenHint       string       `gorm:"column:token_hint"`
	TokenChangedBy  string       `gorm:"column:token_changed_by"`
	TokenChangedAt  *time.Time   `gorm:"column:token_changed_at"`
	ProjectID       string       `gorm:"column:project_id"`
	VerifyStatus    VerifyStatus `gorm:"column:verify_status"`
	VerifiedAt      *time.Time   `gorm:"column:verified_at"`
	ProjectKnown    *bool        `gorm:"column:project_known"`
	// Projects are WHAPI's projects as the last answered check listed
	// them, at ProjectsListedAt (nil: none listed with this token yet).
	Projects            []Project  `gorm:"column:whapi_projects;serializer:json"`
	ProjectsListedAt    *time.Time `gorm:"column:projects_listed_at"`
	LowBalanceThreshold int64      `gorm:"column:low_balance_threshold"`
	TopupWindowDays     int64      `gorm:"column:topup_window_days"`
	// CreateShareExtra is added to a customer's plan channel limit to make
	// their share of WHAPI's create budget in its window (models/budget.go).
	CreateShareExtra int64      `gorm:"column:create_share_extra"`
	PartnerShortAt   *time.Time `gorm:"column:partner_short_at"`
	InstallID        string     `gorm:"column:install_id"`
	UpdatedAt        time.Time  `gorm:"column:updated_at"`
}

// TableName implements gorm's Tabler.
func (Settings) TableName() string { return "settings" }

// Configured reports whether a partner token is saved.
func (st *Settings) Configured() bool { return st.PartnerTokenEnc != "" }

// ProjectStatus is what the last check said of the configured project id.
func (st *Settings) ProjectStatus() ProjectStatus {
	switch {
	case st.ProjectKnown == nil:
		return ProjectUnchecked
	case *st.ProjectKnown:
		return ProjectKnown
	}
	return ProjectUnknown
}

// Settings returns the settings row.
func (s *Store) Settings(ctx context.Context) (*Settings, error) {
	var st Settings
	if err := s.db.WithContext(ctx).First(&st, 1).Error; err != nil {
		return nil, fmt.Errorf("store: settings: %w", notFound(err))
	}
	return &st, nil
}

// PartnerToken returns the stored partner token exactly as saved (e.g.
// "Bearer eyJ…"). It satisfies whapi.TokenSource: the WHAPI client reads the
// token at call time, so a replaced token takes effect at once.
func (s *Store) PartnerToken(ctx context.Context) (string, error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return "", err
	}
	if !st.Configured() {
		return "", ErrNoPartnerToken
	}
	return s.cipher.Open(st.PartnerTokenEnc)
}

// SettingsChange is one change of the WHAPI settings. Nil fields stay as they are.
type SettingsChange struct {
	// PartnerToken, when set, replaces the token; it must already be
	// normalised ("Bearer <token>") and Hint its masked form.
	PartnerToken *string
	Hint         string
	// Check, with PartnerToken, is what WHAPI said of that token when it
	// was checked before this save: stored in the same update as the token,
	// so the status on the row always belongs to the token stored with it
	// (nil: the new token is stored "unverified").
	Check      *TokenCheck
	ClearToken bool
	ProjectID  *string
	// ProjectNote, when set, is added to the audit event's words for a
	// new project id (e.g. that it was picked from WHAPI's list).
	ProjectNote         string
	LowBalanceThreshold *int64
	TopupWindowDays     *int64
	CreateShareExtra    *int64
}

// TokenCheck is what WHAPI said of a partner token (GET /projects).
type TokenCheck struct {
	Status VerifyStatus
	// Projects is WHAPI's list when it answered (Status verified); nil
	// when it did not list them (refused, unreachable).
	Projects []Project
}

// UpdateSettings applies a change and its audit events in one transaction.
// Replacing the token resets the verification to "unverified", or sets
// the change's Check; clearing it resets it.
// It returns the settings as they are now and whether anything changed.
func (s *Store) UpdateSettings(ctx context.Context, actor Actor, ch SettingsChange) (*Settings, bool, error) {
	now := s.now()
	updates := map[string]any{"updated_at": now}
	var what []string
	switch {
	case ch.ClearToken:
		updates["partner_token_enc"] = ""
		updates["token_hint"] = ""
		updates["token_changed_by"] = actor.Email
		updates["token_changed_at"] = now
		updates["verify_status"] = VerifyUnverified
		updates["verified_at"] = nil
		updates["project_known"] = nil
		updates["whapi_projects"] = "[]"
		updates["projects_listed_at"] = nil
		what = append(what, "partner token removed")
	case ch.PartnerToken != nil:
		sealed, err := s.cipher.Seal(*ch.PartnerToken)
		if err != nil {
			return nil, false, err
		}
		updates["partner_token_enc"] = sealed
		updates["token_hint"] = ch.Hint
		updates["token_changed_by"] = actor.Email
		updates["token_changed_at"] = now
		updates["verify_status"] = VerifyUnverified
		updates["verified_at"] = nil
		updates["project_known"] = nil
		updates["whapi_projects"] = "[]"
		updates["projects_listed_at"] = nil
		what = append(what, "partner token replaced (now "+ch.Hint+")")
	}
	var st Settings
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.First(&st, 1).Error; err != nil {
			return err
		}
		if ch.ProjectID != nil && *ch.ProjectID != st.ProjectID {
			updates["project_id"] = *ch.ProjectID
			updates["project_known"] = nil
			w := fmt.Sprintf("project id %s → %s", st.ProjectID, *ch.ProjectID)
			if ch.ProjectNote != "" {
				w += " (" + ch.ProjectNote + ")"
			}
			what = append(what, w)
		}
		if ch.LowBalanceThreshold != nil && *ch.LowBalanceThreshold != st.LowBalanceThreshold {
			updates["low_balance_threshold"] = *ch.LowBalanceThreshold
			what = append(what, fmt.Sprintf("low-balance threshold %d → %d days", st.LowBalanceThreshold, *ch.LowBalanceThreshold))
		}
		if ch.TopupWindowDays != nil && *ch.TopupWindowDays != st.TopupWindowDays {
			updates["topup_window_days"] = *ch.TopupWindowDays
			what = append(what, fmt.Sprintf("top-up window %d → %d days", st.TopupWindowDays, *ch.TopupWindowDays))
		}
		if ch.CreateShareExtra != nil && *ch.CreateShareExtra != st.CreateShareExtra {
			updates["create_share_extra"] = *ch.CreateShareExtra
			what = append(what, fmt.Sprintf("new channels per customer in 30 minutes: plan limit + %d → + %d", st.CreateShareExtra, *ch.CreateShareExtra))
		}
		var checked string
		if ch.PartnerToken != nil && !ch.ClearToken && ch.Check != nil {
			// The project known or not is decided here, against the project
			// id this update leaves, whatever was saved while WHAPI was asked.
			projectID := st.ProjectID
			if ch.ProjectID != nil {
				projectID = *ch.ProjectID
			}
			var known *bool
			updates["verify_status"] = ch.Check.Status
			updates["verified_at"] = now
			if ch.Check.Projects != nil {
				list, err := json.Marshal(ch.Check.Projects)
				if err != nil {
					return err
				}
				k := ProjectListed(ch.Check.Projects, projectID)
				known = &k
				updates["whapi_projects"] = string(list)
				updates["projects_listed_at"] = now
			}
			updates["project_known"] = known
			checked = verifyDetail(ch.Check.Status, known)
		}
		if len(what) == 0 {
			return nil
		}
		if err := tx.Model(&Settings{}).Where("id = 1").Updates(updates).Error; err != nil {
			return err
		}
		if err := s.audit(tx, actor, "settings.whapi.update", "whapi settings", joinWhat(what)); err != nil {
			return err
		}
		if checked != "" {
			if err := s.audit(tx, actor, "settings.whapi.verify", "whapi settings", checked); err != nil {
				return err
			}
		}
		st = Settings{} // read afresh: scanning a NULL leaves a set pointer as it was
		return tx.First(&st, 1).Error
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: update settings: %w", err)
	}
	return &st, len(what) > 0, nil
}

func joinWhat(what []string) string {
	out := ""
	for i, w := range what {
		if i > 0 {
			out += "; "
		}
		out += w
	}
	return out
}

// RecordVerification stores what WHAPI said of the token sealed as
// sealedToken and of projectID — only if both are still the ones
// configured, so a check that finishes after another admin changed them
// changes nothing (it reports false then). projects is WHAPI's list when
// it answered (it replaces the kept one); nil keeps the list of the last
// check that WHAPI answered.
func (s *Store) RecordVerification(ctx context.Context, actor Actor, sealedToken, projectID string, status VerifyStatus, projectKnown *bool, projects []Project) (bool, error) {
	now := s.now()
	var applied bool
	updates := map[string]any{"verify_status": status, "verified_at": now, "project_known": projectKnown}
	if projects != nil {
		list, err := json.Marshal(projects)
		if err != nil {
			return false, fmt.Errorf("store: record verification: %w", err)
		}
		updates["whapi_projects"] = string(list)
		updates["projects_listed_at"] = now
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Settings{}).
			Where("id = 1 AND partner_token_enc = ? AND partner_token_enc <> '' AND project_id = ?", sealedToken, projectID).
			Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		applied = res.RowsAffected == 1
		if !applied {
			return nil
		}
		return s.audit(tx, actor, "settings.whapi.verify", "whapi settings", verifyDetail(status, projectKnown))
	})
	if err != nil {
		return false, fmt.Errorf("store: record verification: %w", err)
	}
	return applied, nil
}

// verifyDetail is the audit event's words for what WHAPI said of the token.
func verifyDetail(status VerifyStatus, projectKnown *bool) string {
	detail := "WHAPI check: " + string(status)
	if projectKnown != nil {
		if *projectKnown {
			detail += "; project id known to WHAPI"
		} else {
			detail += "; project id NOT known to WHAPI"
		}
	}
	return detail
}

// SetPartnerShort records (at != nil) or clears (nil) that WHAPI refused an
// extend for lack of partner days; the dashboard warns while it is set.
func (s *Store) SetPartnerShort(ctx context.Context, at *time.Time) error {
	return s.db.WithContext(ctx).Model(&Settings{}).Where("id = 1").Update("partner_short_at", at).Error
}
