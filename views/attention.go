package views

// AttentionRow is one row of the Attention list, in words.
type AttentionRow struct {
	// Kind is the rule's key (disconnected, stuck, ending, job_failed);
	// What says it in words.
	Kind, What string
	// Subject is the channel's name and its owner, or the job's words.
	Subject, Owner string
	Since          string // "2 Jan 2026 15:04 UTC · 12 min ago"
	Detail         string // the job's last error
	// Href is the channel's (or the Jobs page's) address; LinkAction,
	// for a disconnected channel, where "Fresh connect link" posts.
	Href, LinkAction string
}

// AttentionView is what /admin/attention shows.
type AttentionView struct {
	Rows []AttentionRow
	// AlertAfter is the disconnect alert's delay in words ("5 minutes").
	AlertAfter string
	// LinkMinutes is how long a fresh connect link lasts ("30").
	LinkMinutes string
}
