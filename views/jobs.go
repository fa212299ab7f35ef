package views

// JobTab is one state tab of the Jobs page.
type JobTab struct {
	Key, Label, Href string
	Count            int64
	Current          bool
}

// JobRow is one background job, in words.
type JobRow struct {
	ID       int64
	What     string // "Auto top-up"
	State    Badge
	Attempts string // "1 of 5"
	Created  string
	Due      string // when it runs (next), "" once finished
	LastRun  string // the last attempt's start
	Finished string
	Error    string // the last attempt's error
	// RetryAction is where "Retry now" posts ("" when it cannot be
	// retried); CancelHref the page that asks before cancelling ("" when
	// it cannot be cancelled). Group is the tab to come back to.
	RetryAction, CancelHref, Group string
}

// JobsView is what /admin/jobs shows.
type JobsView struct {
	Tabs  []JobTab
	Group string // the current tab's label
	Total int64  // the jobs of the current tab
	Rows  []JobRow
	// Older links the next older jobs, Newest back to the first of the
	// tab ("" for none).
	Older, Newest string
	// NotRunning: this process runs no job queue.
	NotRunning bool
}

// JobCancel is the confirmation before a job is cancelled.
type JobCancel struct {
	ID       int64
	Label    string // "Auto top-up #12"
	Running  bool
	Periodic bool // its schedule inserts the next one anyway
	Back     string
	BackHref string
}

func jobHref(id int64, suffix string) string { return "/admin/jobs/" + fmtInt(id) + suffix }
