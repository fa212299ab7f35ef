package models

import (
	"fmt"
	"regexp"
	"strings"
)

// StateSets are the channel-state sets the store's SQL is built from. They
// are declared once, in the channel lifecycle (provision/lifecycle.go,
// provision.States), and handed to Open; models spells no set itself.
type StateSets struct {
	// Slot: states that always hold a plan slot.
	Slot []ChannelStatus
	// SlotReviving: states that hold a slot only while an extend of the
	// channel is not settled (it may have made the channel live again);
	// bringing one back needs a free slot.
	SlotReviving []ChannelStatus
	// AtWhapi: WHAPI holds the channel and no change of it is in flight;
	// sync reads these, extend and delete reach them.
	AtWhapi []ChannelStatus
	// Gone: deleted or never made; lists leave them out unless asked.
	Gone []ChannelStatus
	// Extendable: states an extend may start from.
	Extendable []ChannelStatus
	// LocalDeletion: states whose delete only removes the row here (WHAPI
	// never had the channel).
	LocalDeletion []ChannelStatus
	// Stoppable: the running states, which WHAPI may hold stopped
	// (Channel.Stopped); the flag means nothing in any other.
	Stoppable []ChannelStatus
}

// stateSQL is SQL built once from the state sets.
type stateSQL struct {
	// slotHeld is true for a channel c that holds a plan slot.
	slotHeld string
	// slotsUsed counts the slots a customer's channels hold, all but
	// channel ? (0 for none). Arguments: user id, channel id.
	slotsUsed string
}

var statusWord = regexp.MustCompile(`^[a-z_]+$`)

// sqlList renders states as a SQL list literal: ('a', 'b'). The states are
// our own constants, checked to be plain words, so quoting them is safe.
func sqlList(states []ChannelStatus) (string, error) {
	if len(states) == 0 {
		return "", fmt.Errorf("store: an empty channel state set")
	}
	q := make([]string, len(states))
	for i, st := range states {
		if !statusWord.MatchString(string(st)) {
			return "", fmt.Errorf("store: channel state %q is not a plain word", st)
		}
		q[i] = "'" + string(st) + "'"
	}
	return "(" + strings.Join(q, ", ") + ")", nil
}

// build checks the sets and builds the SQL the store uses from them.
func (ss StateSets) build() (stateSQL, error) {
	for name, set := range map[string][]ChannelStatus{"Slot": ss.Slot, "SlotReviving": ss.SlotReviving, "AtWhapi": ss.AtWhapi,
		"Gone": ss.Gone, "Extendable": ss.Extendable, "LocalDeletion": ss.LocalDeletion, "Stoppable": ss.Stoppable} {
		if len(set) == 0 {
			return stateSQL{}, fmt.Errorf("store: channel state set %s is empty (pass provision.States())", name)
		}
	}
	slot, err := sqlList(ss.Slot)
	if err != nil {
		return stateSQL{}, err
	}
	reviving, err := sqlList(ss.SlotReviving)
	if err != nil {
		return stateSQL{}, err
	}
	held := `(c.status IN ` + slot + ` OR (c.status IN ` + reviving + ` AND EXISTS (
		SELECT 1 FROM operations o WHERE o.channel_id = c.id AND o.kind = 'extend' AND o.state IN ('reserved', 'sent'))))`
	return stateSQL{slotHeld: held,
		slotsUsed: `SELECT COUNT(*) FROM channels c WHERE c.user_id = ? AND c.id <> ? AND ` + held}, nil
}

// revives reports whether bringing a channel in state st back
// with days needs a free plan slot.
func (ss StateSets) revives(st ChannelStatus) bool { return inSet(ss.SlotReviving, st) }

func inSet(set []ChannelStatus, st ChannelStatus) bool {
	for _, x := range set {
		if x == st {
			return true
		}
	}
	return false
}
