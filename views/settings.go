package views

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
func (pr WHAPIProject) pickLabel() string {
	name := pr.Name
	if name == "" {
		name = pr.ID
	}
	return "Use the project “" + name + "”"
}

func verifyBadge(status string) Badge {
	switch status {
	case "verified":
		return Badge{Text: "Verified", Tone: "ok"}
	case "refused":
		return Badge{Text: "Refused by WHAPI", Tone: "bad"}
	case "unreachable":
		return Badge{Text: "Not verified: WHAPI unreachable", Tone: "warn"}
	}
	return Badge{Text: "Not verified", Tone: "muted"}
}

// tokenError is what the page says next to the token field: what WHAPI
// said of a new token, or what is wrong with the text; and what to do.
func (s WHAPISettings) tokenError() (msg, more string) {
	if s.TokenRefused != "" {
		return s.TokenRefused, " For safety the text you pasted was not kept: to use this token all the same, paste it again and choose “Save it anyway”."
	}
	return s.Errors["partner_token"], " For safety the text you pasted was not kept: paste it again."
}

func tokenPlaceholder(configured bool) string {
	if configured {
		return "Leave empty to keep the current token"
	}
	return "Bearer eyJ…"
}

// tokenHint says how the token field is used.
func tokenHint(configured bool) string {
	h := `Paste the token from the WHAPI partner panel, with or without "Bearer " in front; spaces and line breaks around it are removed.`
	if configured {
		h += " Leave empty to keep the current token."
	}
	return h + " It is stored encrypted and never shown again."
}
