package views

// AuditRow is one event of the audit log: Action in the reader's words
// (ActionKey as recorded, "channel.created"), Target and Detail as
// recorded.
type AuditRow struct {
	When, Who, Action, ActionKey, Target, Detail, IP string
}

// AuditView is what /admin/audit shows.
type AuditView struct {
	Rows  []AuditRow
	Pager PagerView
}
