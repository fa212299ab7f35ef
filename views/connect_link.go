package views

// ConnectLinkView is the connect page opened by a connect link, without an
// account: one channel's QR and pairing code, how long the link lasts, and
// nothing else of the account.
type ConnectLinkView struct {
	ChannelName string
	Status      ConnectStatus
	Pairing     Pairing
	ShowPairing bool
	// ValidUntil is when the link ends ("7 Dec 2026, 15:30 UTC") and
	// ValidFor how long that is from now ("30 minutes").
	ValidUntil string
	ValidFor   string
}

// ShareLinks is the "Share connect link" card of a channel: the form that
// makes a link, the link just made (shown once), and the live links.
type ShareLinks struct {
	// Action is where the form posts (a new link) and RevokeBase the prefix
	// of a link's revoke address (RevokeBase + id).
	Action     string
	RevokeBase string
	CSRF       string
	// Made is the link just made, shown once with its expiry.
	Made        string
	MadeExpires string
	Error       string
	Live        []LiveLink
}

// LiveLink is one link that still opens the page.
type LiveLink struct {
	ID      int64
	Expires string
}

// ConnectLinkValidities are the lifetimes the share form offers, in
// minutes, with their labels (a plural message of the catalog and its
// count).
var ConnectLinkValidities = []struct {
	Minutes int
	LabelID string
	Count   int64
}{{30, "auth.minutes", 30}, {120, "connect.share.hours", 2}, {1440, "connect.share.hours", 24}, {10080, "connect.share.days", 7}}
