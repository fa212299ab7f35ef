package views

// PartnerEntryForm is the dashboard's form of an entry of the partner's
// estimated balance: a purchase or a correction, with its note.
type PartnerEntryForm struct {
	Kind, Days, Note string // as typed ("purchase" when new)
	Errors           map[string]string
	// Confirm, when set, shows the question instead of the form: the entry
	// asks for confirmation, and nothing was recorded.
	Confirm *PartnerConfirm
}

// PartnerConfirm is the question an entry or a reversal asks before it is
// recorded, in words.
type PartnerConfirm struct {
	Numbers string // "This takes the partner balance from 930 to −4,070 days."
	Why     string // "That is below zero." ("" for none)
	Ask     string // "Record it anyway?"
	Button  string // "Record it anyway"
}

// PartnerEntryRow is one recorded entry of a list, in words.
type PartnerEntryRow struct {
	ID       int64
	When     string // "2 Jan 2026 15:04 UTC"
	Kind     string // "Purchase", "Correction", "Reversal"
	Days     string // "+5,000", "−5,000"
	Note     string
	Actor    string
	Relation string // "reversed by #15", "reverses #12" or ""
	Reversed bool   // a later entry reversed it
	// ReverseHref is the page that reverses it ("" when it cannot be).
	ReverseHref string
}

// PartnerEntryList is a list of recorded entries: the dashboard's latest,
// or a page of them all.
type PartnerEntryList struct {
	Rows []PartnerEntryRow
	// All links every entry ("" when the rows are all there are).
	All, AllText string
	Pager        PagerView
}

// PartnerEntriesView is the page of every recorded entry.
type PartnerEntriesView struct {
	Estimate string // "930 days"
	List     PartnerEntryList
}

// PartnerReverseView is the page that reverses an entry: the entry, what
// the reversal does to the estimate, its note, and the question when it
// takes the estimate below zero, or why it cannot be reversed.
type PartnerReverseView struct {
	Entry   PartnerEntryRow
	Numbers string // "Reversing it takes the partner balance from 930 to −70 days."
	Action  string // where the form posts
	Back    string // where the page came from, and where Cancel goes
	Note    string // as typed
	Error   string // what is wrong with the note
	Confirm *PartnerConfirm
	// Refusal says why it cannot be reversed ("" when it can).
	Refusal string
}
