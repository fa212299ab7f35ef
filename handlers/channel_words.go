package handlers

import (
	"strconv"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// The words and badges of channel states come from the lifecycle
// (provision/lifecycle.go); these only put them in a views.Badge.

// stateBadge is a state in the admin's words.
func stateBadge(st models.ChannelStatus) views.Badge {
	label, tone := provision.StateLabel(st)
	return views.Badge{Text: label, Key: provision.LabelID(label), Tone: tone}
}

// badgeOf is a channel's state in the admin's words.
func badgeOf(v provision.ChannelView) views.Badge {
	return views.Badge{Text: v.Label, Key: v.LabelID, Tone: v.Tone}
}

// phaseBadge is where a channel stands in its owner's words.
func phaseBadge(p provision.Phase) views.Badge {
	label, tone := p.Words()
	return views.Badge{Text: label, Key: p.WordsID(), Tone: tone}
}

// channelNamed names a channel in a sentence of the reader's language:
// "Channel “Shop” (#3)", its name isolated from the sentence's direction.
func channelNamed(lz *i18n.Localizer, ch *models.Channel) string {
	return lz.T("channels.label", "Name", i18n.Isolate(ch.Name), "ID", strconv.FormatInt(ch.ID, 10))
}

// dateTimeOf is a moment in the reader's words ("" for none).
func dateTimeOf(lz *i18n.Localizer, t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return lz.DateTime(*t)
}

// daysLeftWords says how long until till, in whole days, in the reader's
// words: "3 days left", "less than a day left" or "expired".
func daysLeftWords(lz *i18n.Localizer, till *time.Time, now time.Time) string {
	if till == nil {
		return ""
	}
	switch left := till.Sub(now); {
	case left <= 0:
		return lz.T("channels.expired")
	case left < 24*time.Hour:
		return lz.T("channels.less_than_a_day")
	}
	return lz.N("channels.days_left", provision.DaysLeft(till, now))
}

// modeLabel is WHAPI's mode of a channel in the reader's words.
func modeLabel(lz *i18n.Localizer, mode string) string {
	label := provision.ModeLabel(mode)
	if id := provision.LabelID(label); label != "" && i18n.Has(id) {
		return lz.T(id)
	}
	return label
}
