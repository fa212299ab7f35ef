package views

import (
	"context"
	"strconv"

	"whapidesk/internal/i18n"
)

// CustomerDashboard is what /app shows a customer: their plan, their
// channels and the form to add one. It holds our ids only.
type CustomerDashboard struct {
	HasPlan      bool
	PlanName     string
	MaxChannels  int64
	LiveChannels int64
	Usage        string // "2 of 3 channels"
	PeriodEnd    string // "14 Feb 2026"
	Balance      int64  // days not yet given to a channel
	BalanceDays  string // the same in words: "90 days"
	AutoMode     bool

	Banners  []CustomerBanner
	Channels []CustomerChannel
	// Disconnects are the customer's lines disconnected longer than the
	// alert's delay: a banner each, gone once the line is linked again.
	Disconnects []DisconnectBanner

	// Picture is the days left per channel, a bar each.
	Picture DaysLeftPicture

	// CreateBlocked says why no channel can be added now ("" = it can).
	CreateBlocked string
	Form          CreateChannelForm
}

// CreateChannelForm is the "Add a channel" form after a refused submission.
type CreateChannelForm struct {
	Name   string
	Phone  string
	Errors map[string]string
}

// CustomerBanner warns about a channel that expires soon or has expired.
type CustomerBanner struct {
	Kind      string // warning or error
	ChannelID int64
	Text      string
}

// CustomerChannel is one of the customer's channels on the dashboard.
type CustomerChannel struct {
	ID          int64
	Name        string
	Phone       string // the number given when it was made
	State       Badge  // where it stands, in the customer's words
	Connected   bool   // a phone is linked
	LinkedPhone string // "+15551234567" when connected
	DaysLeft    string // "6 days left", "Expired on 2 Jan 2026", "No days yet"
	Until       string // "until 14 Jan 2026"
	Trial       bool
	// LinkLine says since when it is connected or not ("Disconnected 12
	// min ago"; "" when unknown), Uptime its uptime over 7 and 30 days.
	LinkLine, Uptime string
	// CanConnect and CanDelete are what the channel's lifecycle allows now.
	CanConnect, CanDelete bool
	// Preparing: the channel is being made; its card refreshes itself
	// until it is not.
	Preparing bool
}

func custChannelHref(id int64, suffix string) string {
	return "/app/channels/" + strconv.FormatInt(id, 10) + suffix
}

func custChannelAnchor(id int64) string { return "channel-" + strconv.FormatInt(id, 10) }

// CustomerDelete is the confirmation page of deleting a channel.
type CustomerDelete struct {
	ID   int64
	Name string
	// Unused is the paid days not used yet, which return to the balance
	// ("10 days"; "" when none), and BalanceAfter the balance then.
	Unused       string
	BalanceAfter string
	CanDelete    bool
}

// confirm is the delete page of the channel: what it asks, and why it
// cannot be done now, if it cannot.
func (d CustomerDelete) confirm(ctx context.Context) Confirm {
	c := Confirm{Title: t(ctx, "app.delete_title", "Name", i18n.Isolate(d.Name)), Action: custChannelHref(d.ID, "/delete"),
		Button: t(ctx, "app.delete_button"), Cancel: t(ctx, "app.keep"), CancelHref: "/app"}
	if !d.CanDelete {
		c.Busy, c.BusyBack = t(ctx, "app.busy"), t(ctx, "app.busy_back")
	}
	return c
}

// DisconnectBanner is a line of the customer's that has been disconnected
// longer than the alert's delay.
type DisconnectBanner struct {
	ChannelID int64
	Name      string
	Since     string // "2 Jan 2026 15:04 UTC"
}
