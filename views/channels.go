package views

import (
	"context"
	"strconv"

	"whapidesk/internal/i18n"

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

func modeWords(ctx context.Context, mode string) string {
	if mode == "auto" {
		return t(ctx, "channels.mode_auto")
	}
	return t(ctx, "channels.mode_manual")
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
func (d ChannelDelete) confirm(ctx context.Context) Confirm {
	c := Confirm{Title: t(ctx, "channels.delete_title", "Name", i18n.Isolate(d.Name)), Action: channelPath(d.ID, "delete"),
		Button: t(ctx, "channels.delete_button"), Back: d.Back, Cancel: t(ctx, "common.cancel"), CancelHref: d.BackHref}
	if !d.CanDelete {
		c.Busy, c.BusyBack = t(ctx, "channels.delete_busy"), t(ctx, "channels.back_to_list")
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

// lineWords are each action's question, button (catalog ids) and whether
// the button is a plain one (a stop is the red one: the line goes quiet
// until started).
var lineWords = map[string]struct {
	title, question, button string
	safe                    bool
}{
	"restart": {"lines.restart_title", "lines.restart_question", "lines.restart_button", true},
	"stop":    {"lines.stop_title", "lines.stop_question", "lines.stop_button", false},
	"start":   {"lines.start_title", "lines.start_question", "lines.start_button", true},
}

// LineTitle is the confirmation page's title of a line action.
func LineTitle(ctx context.Context, action string) string { return t(ctx, lineWords[action].title) }

func (d ChannelLine) confirm(ctx context.Context) Confirm {
	w := lineWords[d.Action]
	c := Confirm{Title: t(ctx, w.question, "Name", i18n.Isolate(d.Name)), Action: d.FormAction, Button: t(ctx, w.button), Safe: w.safe,
		Back: d.Back, Cancel: t(ctx, "common.cancel"), CancelHref: d.CancelHref}
	if d.Busy != "" {
		c.Busy, c.BusyBack = d.Busy, t(ctx, "common.back")
	}
	return c
}
