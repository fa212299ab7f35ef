package views

// AuditRow is one event of the audit log.
type AuditRow struct {
	When, Who, Action, Target, Detail, IP string
}

// AuditView is what /admin/audit shows.
type AuditView struct {
	Rows  []AuditRow
	Pager PagerView
}
