package views

import (
	"context"
	"strconv"

	"github.com/a-h/templ"

	"whapidesk/internal/i18n"
)

// ModeToggle is the auto/manual switch of one customer. Back is where a
// plain form post returns to.
type ModeToggle struct {
	UserID int64
	Email  string
	Auto   bool
	Back   string
}

// UserFilter is the state of the customers list's search form.
type UserFilter struct {
	Q, Plan, Mode, Status, Role string
}

// UserListRow is one user in the customers list.
type UserListRow struct {
	ID         int64
	Email      string
	Name       string
	IsCustomer bool
	Plan       string // "" = no plan
	Channels   string // "2 of 3"
	Balance    int64
	Disabled   bool
	Toggle     ModeToggle
}

// NewUserForm is the state of the "New customer" form. The password is
// never sent back.
type NewUserForm struct {
	Email, Name, Role string
	Errors            map[string]string
}

// UsersView is what /admin/users shows.
type UsersView struct {
	Filter      UserFilter
	Filtered    bool // a filter or search is set
	PlanOptions []SelectOption
	Rows        []UserListRow
	Pager       PagerView
	Form        NewUserForm
}

// SubscriptionView is a customer's plan as their page shows it.
type SubscriptionView struct {
	Exists      bool // ever had a subscription
	Active      bool
	Status      Badge // "Active", "cancelled", "expired"
	PlanName    string
	PlanSummary string // "30 days × 3 channels every 30 days"
	PeriodStart string
	PeriodEnd   string
	Credit      string // what a renewal credits: "90 days"
}

// CreditForm is the state of the "Credit days" form.
type CreditForm struct {
	Days, Comment string
	Errors        map[string]string
}

// UserChannel is one of a customer's channels on their page.
type UserChannel struct {
	ID            int64
	Name          string
	Phone         string
	State         Badge
	Linked        bool
	ActiveTill    string
	DaysLeft      string
	DaysAllocated int64
	CanExtend     bool
	CanDelete     bool
	// CanRestart, CanStop and CanStart open the line's confirmation pages.
	CanRestart, CanStop, CanStart bool
	// CanTestMessage opens its test message page.
	CanTestMessage bool
	Extend         CreditForm
}

// LedgerRow is one move of a customer's days.
type LedgerRow struct {
	When, Kind, Delta, Channel, Comment, Actor string
	Credit                                     bool
}

// UserPageView is what /admin/users/{id} shows.
type UserPageView struct {
	// Invited: the account has no password yet (an invitation was sent);
	// the page offers to resend it.
	Invited      bool
	ID           int64
	Email        string
	Name         string
	Role         string
	IsCustomer   bool
	Disabled     bool
	IsSelf       bool
	Created      string
	Toggle       ModeToggle
	Sub          SubscriptionView
	PlanOptions  []SelectOption // active plans the customer can move to
	LiveChannels string         // "1 of 3"
	Balance      int64
	BalanceDays  string // the balance in words: "60 days"
	Credit       CreditForm
	Password     PasswordForm // the admin's "set a new password" form
	Channels     []UserChannel
	Ledger       []LedgerRow
	// Mails is the user's mail choices, which the admin can set.
	Mails MailPrefsView
	// Language is the customer's language setting ("" = as their browser
	// asks), with what is wrong with a refused choice.
	Language LanguageForm
}

// LanguageForm is the state of the customer's language form.
type LanguageForm struct {
	Value, Error string
}

// ActivatePlanView is the confirmation page of activating a plan for a
// customer: the plan, and the days it will credit.
type ActivatePlanView struct {
	UserID        int64
	Email         string
	PlanName      string
	MaxChannels   int64
	DaysPerPeriod string // "30 days"
	Period        string // "30 days"
	Credit        string // what activating credits: "90 days"
	// Replaces is the name of the active plan it ends ("" when none).
	Replaces string
	// Action is where the confirming form posts (the plan chosen in it).
	Action string
}

// UserConfirm is what a confirmation page about a user shows.
type UserConfirm struct {
	UserID  int64
	Email   string
	Name    string // of the plan or channel concerned
	Unused  string // "10 unused days" a delete returns, "" when none
	Action  string // where the form posts
	Confirm string // the button's label
}

func adminUserHref(id int64, suffix string) string {
	return "/admin/users/" + strconv.FormatInt(id, 10) + suffix
}

func userChannelHref(uid, cid int64, suffix string) string {
	return adminUserHref(uid, "/channels/"+strconv.FormatInt(cid, 10)+suffix)
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }

func modeToggleID(id int64) string { return "mode-toggle-" + fmtInt(id) }

func modeValue(auto bool) string {
	if auto {
		return "auto"
	}
	return "manual"
}

// hxUserForm are the HTMX attributes of a form on the user page: the
// answer replaces the page's body and the flash.
func hxUserForm(action string) templ.Attributes {
	return templ.Attributes{
		"hx-post": action, "hx-target": "#customer", "hx-select": "#customer", "hx-swap": "outerHTML",
		"hx-select-oob": "#flash", "hx-disabled-elt": "find button[type=submit]",
	}
}

// confirm is the confirmation page of an action on a customer.
func (v UserConfirm) confirm(ctx context.Context, title string) Confirm {
	return Confirm{Title: title, Action: v.Action, Button: v.Confirm, Cancel: t(ctx, "users.keep_it"), CancelHref: adminUserHref(v.UserID, "")}
}

// roleOptions are the roles a new account may have (English labels; the
// form shows roleChoices).
var roleOptions = []SelectOption{{Value: "customer", Label: "Customer"}, {Value: "admin", Label: "Admin"}}

// roleChoices are roleOptions in the reader's words.
func roleChoices(ctx context.Context) []SelectOption {
	opts := make([]SelectOption, len(roleOptions))
	for i, o := range roleOptions {
		opts[i] = SelectOption{Value: o.Value, Label: t(ctx, "users."+o.Value)}
	}
	return opts
}

// languageOptions are the languages an admin may set for a customer: none
// (their browser decides), then each language in its own name.
func languageOptions(ctx context.Context) []SelectOption {
	opts := []SelectOption{{Value: "", Label: t(ctx, "users.language.browser")}}
	for _, l := range i18n.Languages {
		opts = append(opts, SelectOption{Value: l.Tag, Label: l.Name})
	}
	return opts
}

// role is the role chosen on the form: customer unless admin.
func (f NewUserForm) role() string {
	if f.Role == "admin" {
		return "admin"
	}
	return "customer"
}

// UserStatusOptions are the customers list's status filter choices (their
// labels are catalog ids).
var UserStatusOptions = []SelectOption{{Value: "", Label: "users.filter.any"}, {Value: "active", Label: "users.active"}, {Value: "disabled", Label: "users.disabled"}}
