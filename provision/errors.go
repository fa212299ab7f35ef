package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/models"
)

// Errors of the channel workflows. The models errors ErrPlanLimit,
// ErrNoActivePlan, ErrInsufficientBalance and ErrNotFound pass through as
// they are.
var (
	// ErrNotConfigured: no partner token is saved, so WHAPI cannot be
	// called. It is models.ErrNoPartnerToken (what the token source says),
	// so every path that meets a missing token answers with one error.
	ErrNotConfigured = models.ErrNoPartnerToken
	// ErrOutcomeUnknown: WHAPI did not answer in time, or answered in a way
	// that does not say what it did (a 5xx, a failure under a 2xx status);
	// whether the change happened will be settled by Reconcile. No day is
	// lost meanwhile.
	ErrOutcomeUnknown = errors.New("WHAPI did not confirm the change in time; it will be checked and settled automatically")
	// ErrUnavailable: WHAPI could not be asked what a change needs to know
	// first; nothing was changed.
	ErrUnavailable = errors.New("WHAPI could not be reached; nothing was changed")
	// ErrRefused: WHAPI refused the change; nothing changed.
	ErrRefused = errors.New("WHAPI refused the change")
	// ErrPartnerShort: WHAPI refused an extend for lack of partner days.
	ErrPartnerShort = errors.New("the partner's WHAPI balance has too few days: buy days at WHAPI, then try again")
	// ErrUnconfirmed: WHAPI did not say whether it did a change that
	// leaves nothing to settle (a restart, a reconnect), and asking it
	// again did not tell either: look at the line again in a moment.
	ErrUnconfirmed = errors.New("WHAPI did not confirm the change; look at the line again in a moment")
	// ErrChannelStopped: the channel's line is stopped, so it cannot be
	// restarted or stopped: start it first.
	ErrChannelStopped = errors.New("the channel is stopped: start it first")
	// ErrChannelRunning: the channel's line runs, so there is nothing to
	// start.
	ErrChannelRunning = errors.New("the channel is running already")
)

// ErrKeyMismatch: the saved partner token does not open with this
// server's secret key — the key was changed (or rotated while the app
// ran) since the token was saved. It wraps models.ErrDecrypt. Nothing is
// sent to WHAPI: without the token there is nothing to send, and WHAPI is
// not the one at fault, so this is never told as "WHAPI could not be
// reached". Saving the partner token again seals it with this key.
var ErrKeyMismatch error = keyMismatchError{}

type keyMismatchError struct{}

func (keyMismatchError) Error() string {
	return "The saved WHAPI token cannot be read with this server's secret key (was the key changed or rotated " +
		"while the app was running?). Paste the partner token again on WHAPI Settings."
}

func (keyMismatchError) Unwrap() error { return models.ErrDecrypt }

// openPartnerToken is ErrKeyMismatch when the saved partner token of st
// does not open with the store's key, nil when it does (or none is saved).
func (s *Service) openPartnerToken(st *models.Settings) error {
	if !st.Configured() {
		return nil
	}
	if _, err := s.store.Cipher().Open(st.PartnerTokenEnc); err != nil {
		return ErrKeyMismatch
	}
	return nil
}

// ProjectError: no channel is created because the configured project id
// is not one WHAPI listed (see Service.projectReady). Nothing was changed
// and nothing was sent to WHAPI's PUT /channels.
type ProjectError struct {
	ProjectID string
	// Unchecked: WHAPI could not be asked (it did not answer, or refused
	// the token); otherwise WHAPI answered and did not list the project.
	Unchecked bool
}

func (e *ProjectError) Error() string {
	if e.Unchecked {
		return "WHAPI could not be asked whether the project id " + e.ProjectID + " is one of your WHAPI projects"
	}
	return "the project id " + e.ProjectID + " is not one of your WHAPI projects"
}

// ExtendTooSoonError says WHAPI takes no extend of the channel before
// Until: the channel was extended moments ago (WHAPI's extend cool-down).
// Nothing was moved; the partner's balance is not in question.
type ExtendTooSoonError struct {
	// Until is when the channel may be extended again.
	Until time.Time
	// After is how long that was from when the extend was refused.
	After time.Duration
	// loc is the language of the ctx it was refused in (nil: English).
	loc *i18n.Localizer
}

// Error says the refusal in the language of the request that met it.
func (e *ExtendTooSoonError) Error() string {
	l := orEnglish(e.loc)
	return l.T("prov.retry.extend_too_soon", "Wait", humanDuration(l, e.After))
}

// tooSoon is the refusal of an extend before until, at now, in ctx's
// language.
func tooSoon(ctx context.Context, until, now time.Time) *ExtendTooSoonError {
	return &ExtendTooSoonError{Until: until, After: until.Sub(now), loc: i18n.From(ctx)}
}

// RetryLaterError says something was asked too often: whapidesk limits
// an action (What), or WHAPI's create budget is spent (Code
// "create_budget").
type RetryLaterError struct {
	After time.Duration
	// What was asked too often, in words ("" for new channels).
	What string
	// Code names the limit for programs (the API's error code); "" is
	// "rate_limited".
	Code string
	// Again, when set, says what may be done again, in anyone's words
	// (never WHAPI's name): "you can add a channel again" makes the error
	// "you can add a channel again in 12 minutes".
	Again string
	// Detail says which limit was reached, for admins only (it may name
	// WHAPI and counts).
	Detail string
	// loc is the language of the ctx it was refused in (nil: English);
	// What and Again are in it.
	loc *i18n.Localizer
}

// Error says the refusal in the language of the request that met it.
func (e *RetryLaterError) Error() string {
	l := orEnglish(e.loc)
	wait := humanDuration(l, e.After)
	if e.Again != "" {
		if e.What != "" {
			return l.T("prov.retry.what_again", "What", e.What, "Again", e.Again, "Wait", wait)
		}
		return l.T("prov.retry.again", "Again", e.Again, "Wait", wait)
	}
	what := e.What
	if what == "" {
		what = l.T("prov.retry.new_channels")
	}
	return l.T("prov.retry.what", "What", what, "Wait", wait)
}

// orEnglish is l, or English when nil.
func orEnglish(l *i18n.Localizer) *i18n.Localizer {
	if l == nil {
		return i18n.For(i18n.Default)
	}
	return l
}

// humanDuration is HumanDuration in l's language.
func humanDuration(l *i18n.Localizer, d time.Duration) string {
	m := max(int64((d+time.Minute-1)/time.Minute), 1)
	return l.N("prov.retry.minutes", m, "Count", plainDigits(l, m))
}

// Codes of RetryLaterError.
const (
	// CodeCreateBudget: no channel is created now, so that WHAPI's create
	// budget is not overspent (the customer's share of it or the whole of
	// it is used, or WHAPI said it is spent).
	CodeCreateBudget = "create_budget"
	// CodePairingLimit: the channel's (or the customer's) pairing codes in
	// the window are used.
	CodePairingLimit = "pairing_limit"
)

// HumanDuration says a wait in whole minutes (at least one).
func HumanDuration(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}
