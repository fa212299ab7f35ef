package views

// OutboxRow is one mail of the Outbox page, in words.
type OutboxRow struct {
	ID        int64
	Href      string
	State     Badge
	Kind      string // "Invitation"
	To        string
	Subject   string
	Created   string
	Attempts  string
	LastError string
	// RetryAction is where "Retry" posts ("" unless the mail failed).
	RetryAction string
}

// OutboxView is what /admin/outbox shows.
type OutboxView struct {
	Rows  []OutboxRow
	Pager PagerView
	// NotConfigured: no SMTP server is configured; mails wait queued.
	NotConfigured bool
}

// MailView is one mail on its own page: as it is (or was) sent.
type MailView struct {
	Row       OutboxRow
	MessageID string
	Sent      string
	Reply     string
	Text      string
	// HTMLHref is where the HTML part is served alone (under its own
	// policy: its inline styles, nothing else), shown in a sandboxed
	// iframe: no script runs, no form posts, no link leaves it.
	HTMLHref      string
	NotConfigured bool
}
