package handlers

import (
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
