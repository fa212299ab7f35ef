package provision

import (
	"context"
	"strings"
	"time"

	"whapidesk/models"
)

// This file owns the channel lifecycle: each state once — whether it holds
// a plan slot, whether WHAPI holds it, whether it is gone — which actions
// it allows and on what conditions, and the words for it. Everything else
// asks it: models builds its status SQL from States(), handlers, templates
// and JSON answers render View, and the workflows check Permit before they
// reserve anything.

// Action is something a person or a background job may do to a channel.
type Action string

// Actions on a channel.
const (
	// ActConnect opens the connect page, where a phone is linked by QR or
	// pairing code once WHAPI holds the channel (until then it says the
	// line is being prepared).
	ActConnect Action = "connect"
	// ActExtend adds days from the owner's balance (admins; the auto top-up).
	ActExtend Action = "extend"
	// ActDelete deletes the channel; its unused paid days go back.
	ActDelete Action = "delete"
	// ActSync reads WHAPI's view of the channel again (admins; Reconcile).
	ActSync Action = "sync"
	// ActRestart restarts a running channel's line at WHAPI (admins): it
	// reconnects to WhatsApp within seconds; its phone stays linked.
	ActRestart Action = "restart"
	// ActStop stops a running channel's line at WHAPI (admins): nothing
	// reaches it until it is started again. It keeps its plan slot and its
	// phone, and its days run on at WHAPI.
	ActStop Action = "stop"
	// ActStart starts a stopped channel's line again (admins).
	ActStart Action = "start"
	// ActTestMessage sends the fixed test text from a running channel's
	// linked phone to a number its owner or an admin types
	// (SendTestMessage); a channel without a linked phone is refused with
	// ErrNotLinked.
	ActTestMessage Action = "test-message"
)

// Actions lists every action, in the order pages show them.
var Actions = []Action{ActConnect, ActExtend, ActRestart, ActStop, ActStart, ActDelete, ActSync, ActTestMessage}

// Phase is where a channel stands, in its owner's words: the customer's
// dashboard, the connect page and the JSON connect state all say it so.
type Phase string

// Phases of a channel.
const (
	PhasePreparing Phase = "preparing" // being created, or its line is starting
	PhaseWaiting   Phase = "waiting"   // running, no phone linked yet
	PhaseConnected Phase = "connected" // a phone is linked
	PhaseExpired   Phase = "expired"   // its days ran out
	PhaseStopped   Phase = "stopped"   // its line is stopped (paused) until started again
	PhaseReconnect Phase = "reconnect" // its line reports an error: the phone must be linked again
	PhaseDeleting  Phase = "deleting"  // a delete is not confirmed yet
	PhaseDeleted   Phase = "deleted"
	PhaseFailed    Phase = "failed" // it could not be made
)

// phaseWords are the owner's words for each phase and its badge's tone.
var phaseWords = map[Phase]struct{ label, tone string }{
	PhasePreparing: {"Preparing", "muted"},
	PhaseWaiting:   {"Waiting for your phone", "warn"},
	PhaseConnected: {"Connected", "ok"},
	PhaseExpired:   {"Expired", "bad"},
	PhaseStopped:   {"Paused", "warn"},
	PhaseReconnect: {"Needs reconnecting", "bad"},
	PhaseDeleting:  {"Being deleted", "muted"},
	PhaseDeleted:   {"Deleted", "muted"},
	PhaseFailed:    {"Could not be prepared", "bad"},
}

// Words are the owner's words for a phase (in English: WordsID is its
// catalog id) and its badge's tone.
func (p Phase) Words() (label, tone string) {
	w, ok := phaseWords[p]
	if !ok {
		return string(p), "muted"
	}
	return w.label, w.tone
}

// WordsID is the catalog id of the owner's words for a phase
// (internal/i18n, lifecycle.*): every page shows them in its reader's
// language.
func (p Phase) WordsID() string {
	label, _ := p.Words()
	return LabelID(label)
}

// LabelID is the catalog id of one of the lifecycle's words ("Free
// trial" → "lifecycle.free_trial"); the English catalog holds the word
// itself, so Label and the English page agree.
func LabelID(label string) string {
	var b strings.Builder
	b.WriteString("lifecycle.")
	for _, r := range strings.ToLower(label) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// ConnectStep is the connect page's and the JSON connect state's word for
// a phase: "qr" while a code waits to be scanned; any phase that neither
// waits, links, ran out of days, is stopped nor needs reconnecting is
// "failed" (nothing can be linked).
func (p Phase) ConnectStep() string {
	switch p {
	case PhaseWaiting:
		return "qr"
	case PhasePreparing, PhaseConnected, PhaseExpired, PhaseStopped, PhaseReconnect, PhaseFailed:
		return string(p)
	}
	return string(PhaseFailed)
}

// modeWords are the admin's words for WHAPI's channel modes.
var modeWords = map[string]string{"trial": "Trial", "live": "Live"}

// ModeLabel is the admin's word for a channel's WHAPI mode ("" for none; a
// mode WHAPI adds later is shown as it comes, capitalised).
func ModeLabel(mode string) string {
	if w, ok := modeWords[mode]; ok || mode == "" {
		return w
	}
	return strings.ToUpper(mode[:1]) + mode[1:]
}

// Live reports whether the line runs (waiting for a phone, or connected).
func (p Phase) Live() bool { return p == PhaseWaiting || p == PhaseConnected }

// slotRule says when a state holds one of the plan's channel slots.
type slotRule int

const (
	slotNever slotRule = iota
	slotAlways
	// slotWhileReviving: only while an extend of it is not settled — the
	// extend may have made it live again (models adds the operation test).
	slotWhileReviving
)

// stateRule is everything whapidesk knows of one channel state.
type stateRule struct {
	slot slotRule
	// atWhapi: WHAPI holds the channel under the id we saved and no change
	// of it is in flight, so sync reads it and extend and delete reach it
	// (with the partner token).
	atWhapi bool
	// gone: deleted, or never made. Lists leave it out unless asked, and
	// its owner no longer sees it.
	gone bool
	// history: kept as a record only; the dashboard does not count it.
	history bool
	// onTrial: it runs on WHAPI's free trial, not on paid days yet.
	onTrial bool
	// allows are the actions open in this state. Any other is refused: a
	// connect with ErrNoQR (there is nothing to scan), an action with its
	// error in refuse when it has one, anything else with
	// models.ErrChannelBusy.
	allows []Action
	refuse map[Action]error
	// phase is the owner's word (PhaseWaiting becomes PhaseConnected once a
	// phone is linked, and PhaseExpired once its days have run out).
	phase Phase
	// label and tone are the admin's word for it and its badge's tone
	// (ok, warn, bad, muted).
	label, tone string
	// whenStopped is what changes while WHAPI holds a channel in this state
	// stopped (models.Channel.Stopped); nil for a state that cannot be
	// stopped, where the flag means nothing. Only the running states have
	// it.
	whenStopped *stopRule
}

// stopRule is what a stop changes of a running state: the actions open and
// the words, nothing else. A stopped channel is a flag on its running
// state, not a state of its own: it keeps its plan slot (the state's slot
// rule), WHAPI still holds it and its days run on there (activeTill does
// not move; it expires as any running channel does), and the top-up and
// the expiring lists treat it as running — so the state sets models builds
// its SQL from need nothing of it. Starting it again is ActStart.
type stopRule struct {
	allows      []Action
	refuse      map[Action]error
	phase       Phase
	label, tone string
}

// runningStopped is the rule of a running channel (trial or active) that
// is stopped: it may be started, extended (its days run on), deleted and
// synced; not connected, restarted or stopped again.
var runningStopped = &stopRule{
	allows: []Action{ActExtend, ActStart, ActDelete, ActSync},
	refuse: map[Action]error{ActStop: ErrChannelStopped, ActRestart: ErrChannelStopped, ActTestMessage: ErrChannelStopped},
	phase:  PhaseStopped, label: "Stopped", tone: "bad",
}

// runningRefuses are a running channel's refusals: it is not stopped.
var runningRefuses = map[Action]error{ActStart: ErrChannelRunning}

var lifecycle = map[models.ChannelStatus]stateRule{
	models.ChannelPending: {slot: slotAlways, allows: []Action{ActConnect},
		phase: PhasePreparing, label: "Being created", tone: "muted"},
	models.ChannelTrial: {slot: slotAlways, atWhapi: true, onTrial: true,
		allows: []Action{ActConnect, ActExtend, ActRestart, ActStop, ActDelete, ActSync, ActTestMessage}, refuse: runningRefuses,
		phase: PhaseWaiting, label: "Free trial", tone: "warn", whenStopped: runningStopped},
	models.ChannelActive: {slot: slotAlways, atWhapi: true,
		allows: []Action{ActConnect, ActExtend, ActRestart, ActStop, ActDelete, ActSync, ActTestMessage}, refuse: runningRefuses,
		phase: PhaseWaiting, label: "Active", tone: "ok", whenStopped: runningStopped},
	models.ChannelExpired: {slot: slotWhileReviving, atWhapi: true, allows: []Action{ActExtend, ActDelete, ActSync},
		phase: PhaseExpired, label: "Expired", tone: "bad"},
	models.ChannelDeleting: {slot: slotAlways,
		phase: PhaseDeleting, label: "Being deleted", tone: "muted"},
	models.ChannelDeleted: {gone: true, history: true, refuse: map[Action]error{ActDelete: models.ErrAlreadyDeleted},
		phase: PhaseDeleted, label: "Deleted", tone: "muted"},
	// A failed channel never reached WHAPI: deleting it only removes it here.
	models.ChannelFailed: {gone: true, allows: []Action{ActDelete},
		phase: PhaseFailed, label: "Creation failed", tone: "bad"},
}

// ChannelStates lists every state, in the order filters show them.
var ChannelStates = []models.ChannelStatus{models.ChannelPending, models.ChannelTrial, models.ChannelActive,
	models.ChannelExpired, models.ChannelDeleting, models.ChannelFailed, models.ChannelDeleted}

// ruleOf is the rule of a state, as the SQL sets see it.
func ruleOf(st models.ChannelStatus) stateRule { return lifecycle[st] }

// ruleFor is the rule of a channel: its state's, changed by a stop when
// WHAPI holds it stopped.
func ruleFor(ch *models.Channel) stateRule {
	r := lifecycle[ch.Status]
	if w := r.whenStopped; w != nil && ch.Stopped {
		r.allows, r.refuse, r.phase, r.label, r.tone = w.allows, w.refuse, w.phase, w.label, w.tone
	}
	return r
}

// IsStopped reports whether a channel is a running one that WHAPI holds
// stopped.
func IsStopped(ch *models.Channel) bool { return ch.Stopped && ruleOf(ch.Status).whenStopped != nil }

func (r stateRule) allowsAction(a Action) bool {
	for _, x := range r.allows {
		if x == a {
			return true
		}
	}
	return false
}

// statesWhere lists the states whose rule satisfies keep.
func statesWhere(keep func(stateRule) bool) []models.ChannelStatus {
	var out []models.ChannelStatus
	for _, st := range ChannelStates {
		if keep(lifecycle[st]) {
			out = append(out, st)
		}
	}
	return out
}

// States are the state sets models builds its SQL from (slot counts, the
// lists that leave gone channels out, the channels sync and the top-up
// read); main hands them to models.Open.
func States() models.StateSets {
	return models.StateSets{
		Slot:          statesWhere(func(r stateRule) bool { return r.slot == slotAlways }),
		SlotReviving:  statesWhere(func(r stateRule) bool { return r.slot == slotWhileReviving }),
		AtWhapi:       statesWhere(func(r stateRule) bool { return r.atWhapi }),
		Gone:          statesWhere(func(r stateRule) bool { return r.gone }),
		Extendable:    statesWhere(func(r stateRule) bool { return r.allowsAction(ActExtend) }),
		LocalDeletion: statesWhere(func(r stateRule) bool { return r.allowsAction(ActDelete) && !r.atWhapi }),
		Stoppable:     statesWhere(func(r stateRule) bool { return r.whenStopped != nil }),
	}
}

// HoldsSlot reports whether a channel in state st holds a plan slot
// whatever else is true of it (an expired one holds one only while it is
// being revived; models counts that from its operations).
func HoldsSlot(st models.ChannelStatus) bool { return ruleOf(st).slot == slotAlways }

// CountedStates are the states the dashboard counts (all but history).
func CountedStates() []models.ChannelStatus {
	return statesWhere(func(r stateRule) bool { return !r.history })
}

// StateLabel is the admin's word for a state and its badge's tone.
func StateLabel(st models.ChannelStatus) (label, tone string) {
	r, ok := lifecycle[st]
	if !ok {
		return string(st), "muted"
	}
	return r.label, r.tone
}

// IsGone reports whether a channel is deleted or was never made: its owner
// no longer sees it.
func IsGone(ch *models.Channel) bool { return ruleOf(ch.Status).gone }

// Permit says whether action a may be done to ch now, as far as its state
// and the saved settings tell: nil, or the error every surface answers
// with. An action that reaches WHAPI's partner API needs the channel's
// WHAPI id and a saved partner token (ErrNotConfigured). An extend waits
// until WHAPI takes one again (*ExtendTooSoonError while its cool-down
// after a refused extend runs: Channel.ExtendAfter). Plan slots, balances
// and unsettled operations are checked when the change is reserved, in the
// same transaction.
func (s *Service) Permit(ctx context.Context, ch *models.Channel, a Action) error {
	if err := CheckState(ch, a); err != nil {
		return err
	}
	if now := s.now(); a == ActExtend && ch.ExtendAfter != nil && now.Before(*ch.ExtendAfter) {
		return tooSoon(ctx, *ch.ExtendAfter, now)
	}
	if a == ActConnect || a == ActTestMessage || !ruleOf(ch.Status).atWhapi {
		return nil // the gate uses the channel's token; a local delete calls no one
	}
	_, err := s.settings(ctx)
	return err
}

// Configured is nil when a partner token is saved and opens with this
// server's key, else ErrNotConfigured or ErrKeyMismatch: the one check of
// it, for pages (and the start-up) that say so before anything is tried.
func (s *Service) Configured(ctx context.Context) error {
	_, err := s.settings(ctx)
	return err
}

// settings reads the settings, and fails with ErrNotConfigured when no
// partner token is saved, and with ErrKeyMismatch when the saved one does
// not open with this server's key: every workflow and job that reaches
// WHAPI's partner API starts here.
func (s *Service) settings(ctx context.Context) (*models.Settings, error) {
	st, err := s.store.Settings(ctx)
	if err != nil {
		return nil, err
	}
	if !st.Configured() {
		return st, ErrNotConfigured
	}
	if err := s.openPartnerToken(st); err != nil {
		return st, err
	}
	return st, nil
}

// CheckState is Permit without the settings: what the channel's state (and
// its stop) allows. Pages use it to offer an action; the workflows use
// Permit.
func CheckState(ch *models.Channel, a Action) error {
	r := ruleFor(ch)
	switch {
	case r.allowsAction(a) && (!r.atWhapi || ch.RemoteID() != ""):
		if a == ActTestMessage && !ch.Linked {
			return ErrNotLinked
		}
		return nil
	case a == ActConnect:
		return ErrNoQR
	case r.refuse[a] != nil:
		return r.refuse[a]
	}
	return models.ErrChannelBusy
}

// Allowed says which actions a channel's state opens now.
type Allowed struct{ Connect, Extend, Restart, Stop, Start, Delete, Sync, TestMessage bool }

// ChannelView is one channel as every surface shows it: its state in the
// admin's and the owner's words, what may be done to it, and its days.
type ChannelView struct {
	*models.Channel
	Phase Phase
	Label string // the admin's word for the state, in English
	// LabelID is Label's catalog id (pages show it in their language).
	LabelID string
	Tone    string // ok, warn, bad or muted
	Can     Allowed
	// AtWhapi: WHAPI holds it and no change of it is in flight, so its
	// days and line are WHAPI's to report.
	AtWhapi bool
	// Trial: it runs on WHAPI's free trial.
	Trial bool
	// Stopped: it is a running channel whose line WHAPI holds stopped
	// (Phase is PhaseStopped, unless its days are over).
	Stopped bool
	// DaysLeft is the whole days until activeTill (0 when none or past);
	// HasDays is false when it has no activeTill at all.
	DaysLeft int64
	HasDays  bool
	// UnusedDays is what deleting it now gives back to the owner.
	UnusedDays int64
}

// View is ch as every surface shows it, at the service's now.
func (s *Service) View(ch *models.Channel) ChannelView { return ViewAt(ch, s.now()) }

// ViewAt is View at a given time.
func ViewAt(ch *models.Channel, now time.Time) ChannelView {
	r := ruleFor(ch)
	can := func(a Action) bool { return CheckState(ch, a) == nil }
	v := ChannelView{Channel: ch, Phase: r.phase, Label: r.label, LabelID: LabelID(r.label), Tone: r.tone, UnusedDays: UnusedDays(ch, now),
		AtWhapi: r.atWhapi, Trial: r.onTrial, Stopped: IsStopped(ch),
		Can: Allowed{Connect: can(ActConnect), Extend: can(ActExtend), Restart: can(ActRestart), Stop: can(ActStop),
			Start: can(ActStart), Delete: can(ActDelete), Sync: can(ActSync), TestMessage: can(ActTestMessage)}}
	v.HasDays, v.DaysLeft = ch.ActiveTill != nil, DaysLeft(ch.ActiveTill, now)
	if ruleOf(ch.Status).whenStopped == nil {
		return v // not a running state
	}
	switch {
	case ch.ActiveTill != nil && !ch.ActiveTill.After(now):
		// Its days are over though WHAPI has not said so yet: there is
		// nothing to link, restart, stop or start until it is extended.
		v.Phase = PhaseExpired
		v.Can.Connect, v.Can.Restart, v.Can.Stop, v.Can.Start, v.Can.TestMessage = false, false, false, false, false
	case v.Phase == PhaseWaiting && ch.Linked:
		v.Phase = PhaseConnected
	}
	return v
}

// DaysLeft is the whole days from now until till (0 when there is no till
// or it has passed): every page's "N days left".
func DaysLeft(till *time.Time, now time.Time) int64 {
	if till == nil {
		return 0
	}
	return wholeDays(now, *till)
}

// wholeDays is the whole days from from to till, 0 when till is not after
// from: "days left" and the days a delete gives back are both counted so.
func wholeDays(from, till time.Time) int64 {
	if !till.After(from) {
		return 0
	}
	return int64(till.Sub(from) / day)
}

// UnusedDays is what deleting the channel now gives back: the whole paid
// days left, floor((activeTill − max(now, trial end)) / 1 day), never more
// than whapidesk allocated to it (whapi/README.md's decision).
func UnusedDays(ch *models.Channel, now time.Time) int64 {
	if ch.ActiveTill == nil || ch.DaysAllocated <= 0 {
		return 0
	}
	from := now
	if ch.TrialEndsAt != nil && ch.TrialEndsAt.After(from) {
		from = *ch.TrialEndsAt
	}
	return min(wholeDays(from, *ch.ActiveTill), ch.DaysAllocated)
}
