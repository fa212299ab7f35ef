package views

import (
	"context"
	"strings"
)

// WHAPISettings is what the WHAPI Settings page shows. It never holds the
// token: only its masked hint.
type WHAPISettings struct {
	Configured          bool
	Hint                string // "…a1b2"
	ChangedBy           string
	ChangedAt           string
	ProjectID           string
	LowBalanceThreshold int64
	VerifyStatus        string // verified, refused, unreachable, unverified
	VerifiedAt          string
	ProjectKnown        *bool
	// ProjectStatus is what the last check said of ProjectID: known,
	// unknown or unchecked.
	ProjectStatus string
	// ProjectUnknown: WHAPI's last answer did not list ProjectID;
	// ProjectUnchecked: WHAPI has not been asked since it changed.
	ProjectUnknown, ProjectUnchecked bool
	// Projects are WHAPI's projects as the last answered check listed
	// them, at ProjectsListedAt; the picker offers them.
	Projects         []WHAPIProject
	ProjectsListedAt string
	// PickError says why a pick was refused (shown beside the picker).
	PickError string
	// KeyMismatch, when not "", says that the saved token cannot be read
	// with this server's secret key (provision.ErrKeyMismatch's words),
	// next to the token's status.
	KeyMismatch string
	// Doctor is what the last "Test connection" found (nil: none ran).
	Doctor *DoctorView

	// TokenRefused, after WHAPI refused a new token, says so next to the
	// token field (with WHAPI's status), and the form offers to save it
	// anyway: nothing of that submit was saved.
	TokenRefused string

	// Form state after a refused submission.
	ProjectIDInput string
	ThresholdInput string
	WindowInput    string
	// ShareExtraInput is create_share_extra as typed.
	ShareExtraInput string
	Errors          map[string]string
}

// WHAPIProject is one of the partner's WHAPI projects in the picker.
type WHAPIProject struct {
	ID, Name string
	Default  bool // WHAPI's default (main) project
	Current  bool // the configured project id
}

// pickLabel is the accessible name of a project's "Use this project" button.
func (pr WHAPIProject) pickLabel(ctx context.Context) string {
	name := pr.Name
	if name == "" {
		name = pr.ID
	}
	return t(ctx, "settings.projects.use_named", "Name", name)
}

func verifyBadge(status string) Badge {
	switch status {
	case "verified":
		return Badge{Key: "settings.verify.verified", Tone: "ok"}
	case "refused":
		return Badge{Key: "settings.verify.refused", Tone: "bad"}
	case "unreachable":
		return Badge{Key: "settings.verify.unreachable", Tone: "warn"}
	}
	return Badge{Key: "settings.verify.unverified", Tone: "muted"}
}

// tokenError is what the page says next to the token field: what WHAPI
// said of a new token, or what is wrong with the text; and what to do
// (the token is never written back: the admin pastes it again).
func (s WHAPISettings) tokenError(ctx context.Context) (msg, more string) {
	if s.TokenRefused != "" {
		return s.TokenRefused, " " + t(ctx, "settings.token_not_kept_anyway")
	}
	return s.Errors["partner_token"], " " + t(ctx, "settings.token_not_kept")
}

func tokenPlaceholder(ctx context.Context, configured bool) string {
	if configured {
		return t(ctx, "settings.token_keep")
	}
	return "Bearer eyJ…"
}

// tokenHint says how the token field is used.
func tokenHint(ctx context.Context, configured bool) string {
	if configured {
		return t(ctx, "settings.token_hint_configured")
	}
	return t(ctx, "settings.token_hint")
}

// splitAt is message id in ctx's language cut where its placeholder name
// goes ("{{.Name}}"): the text before and after it, so that a template
// puts the value between them in its own element (<bdi>, dir="ltr").
// Other placeholders are filled from args.
func splitAt(ctx context.Context, id, name string, args ...any) (before, after string) {
	const mark = "\x00"
	s := t(ctx, id, append([]any{name, mark}, args...)...)
	before, after, _ = strings.Cut(s, mark)
	return before, after
}
