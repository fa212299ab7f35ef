package views

import (
	"strconv"

	"github.com/a-h/templ"
)

// ChannelListFilter is the channel list's filters as the admin set them.
type ChannelListFilter struct {
	Status   string // "" = every current channel, "all" = deleted ones too, or one status
	Expiring bool   // running channels whose active till comes within 7 days
	Owner    string // a user id, or a part of the owner's email
}

// ChannelListRow is one channel of the admin's list.
type ChannelListRow struct {
	ID            int64
	Name          string
	Phone         string
	OwnerID       int64
	OwnerEmail    string
	State         Badge
	Mode          string // in words: "Trial", "Live" or ""
	Linked        bool
	LinkedPhone   string
	ActiveTill    string
	TillNote      string // "3 days left", "expired"
	TillSoon      bool   // within 7 days or past
	DaysAllocated int64
	LastSynced    string
	OwnerBalance  string // "30 days"
	OwnerMode     string // "auto" or "manual"

	CanExtend, CanDelete, CanSync bool
	// CanRestart, CanStop and CanStart open the line's confirmation pages.
	CanRestart, CanStop, CanStart bool
	// CanTestMessage opens its test message page.
	CanTestMessage bool
	// CanConnect opens the customer's connect page as the admin sees it
	// (and its connect links).
	CanConnect bool
	// ExtendHref is the list with this channel's extend form open.
	ExtendHref string
}

// ChannelList is the /admin/channels page.
type ChannelList struct {
	Filter        ChannelListFilter
	StatusOptions []SelectOption
	Rows          []ChannelListRow
	// Pager says "1–50 of 20,000 channels" (or "of more than 1,000
	// channels" when counting stopped there) and links the pages before
	// and after.
	Pager PagerView
	// Back is the list's query (filters and page) that row forms carry, so
	// that the answer shows the same list.
	Back string
	// BackParam is "?back=…" for links to pages that return to the list.
	BackParam string
	CSVHref   string
	// Filtered reports that a filter is set.
	Filtered bool
	// SelfHref is the list's address (filters and page), with no form open.
	SelfHref string

	// ExtendID is the channel whose extend form is open (0: none), with
	// what was typed and the errors next to the fields after a refusal.
	ExtendID      int64
	ExtendDays    string
	ExtendComment string
	ExtendErrors  map[string]string
}

func ownerHref(id int64) templ.SafeURL {
	return templ.SafeURL("/admin/users/" + strconv.FormatInt(id, 10))
}

func channelPath(id int64, action string) string {
	return "/admin/channels/" + strconv.FormatInt(id, 10) + "/" + action
}

func channelFieldID(id int64, name string) string {
	return "ch" + strconv.FormatInt(id, 10) + "-" + name
}

// focusComment reports whether the extend form's focus belongs on the
// comment: only when it alone was refused.
func focusComment(errs map[string]string) bool {
	return errs["comment"] != "" && errs["days"] == ""
}

func modeWords(mode string) string {
	if mode == "auto" {
		return "automatic allocation"
	}
	return "manual allocation"
}

// ChannelDelete is the confirmation page of a channel's deletion.
type ChannelDelete struct {
	ID           int64
	Name         string
	State        Badge
	OwnerID      int64
	OwnerEmail   string
	OwnerBalance string // "30 days"
	ActiveTill   string
	Unused       string // "10 unused days" a delete returns, "" when none
	// CanDelete is what the channel's lifecycle says of deleting it now.
	CanDelete bool
	Back      string
	BackHref  string
}

// confirm is the channel's delete page: what it asks, and why it cannot
// be done now, if it cannot.
func (d ChannelDelete) confirm() Confirm {
	c := Confirm{Title: "Delete channel “" + d.Name + "”?", Action: channelPath(d.ID, "delete"), Button: "Delete the channel",
		Back: d.Back, Cancel: "Cancel", CancelHref: d.BackHref}
	if !d.CanDelete {
		c.Busy, c.BusyBack = "This channel is being changed right now. Try again in a moment.", "Back to the channels"
	}
	return c
}

// ChannelLine is the confirmation page of a restart, stop or start of a
// channel's line, from the channel list or from a customer's page.
type ChannelLine struct {
	Action     string // "restart", "stop" or "start"
	ID         int64
	Name       string
	State      Badge
	OwnerID    int64
	OwnerEmail string
	ActiveTill string
	DaysLeft   string // "3 days left"
	Linked     bool
	// Busy says why it cannot be done now ("" when it can).
	Busy string
	// FormAction is where the form posts; Back the list query it carries
	// ("" from a customer's page); CancelHref where Cancel leads.
	FormAction string
	Back       string
	CancelHref string
}

// lineWords are each action's question, button and whether the button is a
// plain one (a stop is the red one: the line goes quiet until started).
var lineWords = map[string]struct {
	title, button string
	safe          bool
}{
	"restart": {"Restart channel", "Restart the channel", true},
	"stop":    {"Stop channel", "Stop the channel", false},
	"start":   {"Start channel", "Start the channel", true},
}

// LineTitle is the confirmation page's title of a line action.
func LineTitle(action string) string { return lineWords[action].title }

func (d ChannelLine) confirm() Confirm {
	w := lineWords[d.Action]
	c := Confirm{Title: w.title + " “" + d.Name + "”?", Action: d.FormAction, Button: w.button, Safe: w.safe,
		Back: d.Back, Cancel: "Cancel", CancelHref: d.CancelHref}
	if d.Busy != "" {
		c.Busy, c.BusyBack = d.Busy, "Back"
	}
	return c
}
