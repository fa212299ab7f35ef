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

	// Form state after a refused submission.
	ProjectIDInput string
	ThresholdInput string
	WindowInput    string
	Errors         map[string]string
}

func verifyBadge(status string) (class, text string) {
	switch status {
	case "verified":
		return "badge badge-ok", "Verified"
	case "refused":
		return "badge badge-bad", "Refused by WHAPI"
	case "unreachable":
		return "badge badge-warn", "Not verified: WHAPI unreachable"
	}
	return "badge badge-muted", "Not verified"
}

func tokenPlaceholder(configured bool) string {
	if configured {
		return "Leave empty to keep the current token"
	}
	return "Bearer eyJ…"
}
