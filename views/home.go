package views

import (
	"strconv"
)

// StatusCount is how many channels have one status.
type StatusCount struct {
	Status string // the status's own name (for the list's filter and test ids)
	State  Badge
	Count  int64
	Href   string
}

// ExpiringChannel is a channel of the dashboard's "expiring soon" list.
type ExpiringChannel struct {
	ID         int64
	Name       string
	OwnerID    int64
	OwnerEmail string
	State      Badge
	ActiveTill string
	TillNote   string
}

// ActivityItem is one audit event of the dashboard.
type ActivityItem struct {
	When   string
	Actor  string
	Action string // in the reader's words
	// ActionKey is the action as recorded ("channel.create"), for tools.
	ActionKey string
	Target    string
	Detail    string
}

// AdminHome is what the admin dashboard shows.
type AdminHome struct {
	TokenConfigured bool
	VerifyStatus    string
	Hint            string
	ProjectID       string
	ProjectStatus   string // known, unknown or unchecked (see models.ProjectStatus)
	// TokenRefused: WHAPI refused the saved token at the last check.
	TokenRefused bool
	// ProjectUnknown: WHAPI's last answer did not list ProjectID.
	ProjectUnknown bool

	// AttentionCount is how many items the Attention list holds, and
	// AttentionWords the same in words ("3 items").
	AttentionCount int
	AttentionWords string

	// Channels by status.
	StatusCounts []StatusCount
	LiveChannels int64 // channels that take a plan slot

	// Customers' days, over all customers.
	DaysCredited, DaysAllocated, DaysReturned, DaysCorrected, DaysInBalances int64

	// The partner's estimated WHAPI balance.
	PartnerBought, PartnerExtended, PartnerReturned, PartnerCorrections int64
	PartnerEstimate                                                     string // "95 days"
	LowBalanceThreshold                                                 string // "50 days"
	PartnerLow                                                          bool
	PartnerShortAt                                                      string // when WHAPI last refused an extend for lack of days

	// The form of a partner entry (after a refused submission, or its
	// confirmation step), and the latest recorded entries.
	PartnerForm    PartnerEntryForm
	PartnerEntries PartnerEntryList

	Expiring      []ExpiringChannel
	ExpiringTotal int64
	ExpiringMore  bool // more than ExpiringTotal expire (counting stopped there)

	Activity []ActivityItem

	// Plots are the dashboard's pictures (views/plots.go): days moved per
	// week, channels by state per week, paid time ending per day.
	Plots []Plot
}

// Href is where the dashboard links a channel to: the channel list,
// filtered to its owner.
func (e ExpiringChannel) Href() string {
	return "/admin/channels?owner=" + strconv.FormatInt(e.OwnerID, 10) + "#channel-" + strconv.FormatInt(e.ID, 10)
}
