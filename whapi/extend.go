package whapi

import (
	"errors"
	"net/http"
	"regexp"
	"time"
)

// ExtendCoolDown is how long WHAPI refuses a second extend of the same
// channel: its changelog announces five minutes. It is the wait of an
// ExtendTooSoonError whose answer names none (no Retry-After).
const ExtendCoolDown = 5 * time.Minute

// ExtendTooSoonError is WHAPI's refusal of an extend because the same
// channel was extended moments ago (the cool-down WHAPI's changelog
// announces). Nothing was moved; try again after RetryAfter. It unwraps to
// ErrTooSoon and to the answer's *APIError (so also to the sentinel of its
// status).
type ExtendTooSoonError struct {
	// RetryAfter is how long to wait: the answer's Retry-After, else
	// ExtendCoolDown.
	RetryAfter time.Duration
	// Answer is WHAPI's answer.
	Answer *APIError
}

// Error says the extend came too soon, with the answer's text.
func (e *ExtendTooSoonError) Error() string {
	return "whapi: extend channel: extended too recently, retry after " + e.RetryAfter.String() + " (" + e.Answer.Error() + ")"
}

// Unwrap returns ErrTooSoon and the answer.
func (e *ExtendTooSoonError) Unwrap() []error { return []error{ErrTooSoon, e.Answer} }

// balanceShortError is an extend's refusal for lack of partner days: it
// unwraps to ErrBalanceShort and to the answer.
type balanceShortError struct{ answer *APIError }

func (e *balanceShortError) Error() string {
	return "whapi: extend channel: partner balance too small (" + e.answer.Error() + ")"
}

func (e *balanceShortError) Unwrap() []error { return []error{ErrBalanceShort, e.answer} }

// The texts by which an extend's refusal is recognised. WHAPI documents
// neither the status nor the text of these refusals (reference.md §2.5 and
// §9.5; the cool-down is only announced in its changelog), so they are
// matched loosely, in any case.
var (
	// balanceText: the partner's balance is short ("Not enough days on the
	// balance", "insufficient balance", "no days left", …).
	balanceText = regexp.MustCompile(`(?i)balance|insufficient|not enough days|no (more )?days|out of days|payment required`)
	// tooSoonText: come back later ("extended recently", "too many
	// requests", "wait 5 minutes", "cooldown", …).
	tooSoonText = regexp.MustCompile(`(?i)too (soon|often|frequent|many)|recent|already( been)? extended|cool[- ]?down|wait|later|retry|minute|rate[- ]?limit|throttl`)
)

// classifyExtend refines an extend's refusal. The status decides first,
// then WHAPI's text:
//
//   - 429 is the cool-down (a rate limit is never a short balance): wait
//     for its Retry-After, else ExtendCoolDown.
//   - 402 (Payment Required) is a short balance.
//   - Any other 4xx but 401 and 404, and a 503, whose text says the
//     balance is short, is a short balance. This keeps the reading
//     whapi/README.md documents for the refusal the simulator gives ("400
//     Not enough days on the balance").
//   - Any other 4xx but 401 and 404 is the cool-down when it is a 409 (the
//     request conflicts with the channel's state: a second extend within
//     the window is exactly that), when it carries a Retry-After, or when
//     its text says to come back later.
//
// Anything else (a 400 with another text, a 503 without one, a 5xx, a 2xx
// whose body says it failed) is returned as it is: a plain refusal or an
// unknown outcome, never a short balance. Decision (the safe reading): only
// what recognisably says "not enough partner days" raises the partner's
// balance warning, and the cool-down is read widely, since taking a refusal
// for it only makes whapidesk wait a few minutes before trying again.
func classifyExtend(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status < 400 {
		return err
	}
	st := ae.Status
	client := st < 500 && st != http.StatusUnauthorized && st != http.StatusNotFound
	switch {
	case st == http.StatusTooManyRequests:
		return tooSoon(ae)
	case st == http.StatusPaymentRequired,
		(client || st == http.StatusServiceUnavailable) && balanceText.MatchString(ae.Message):
		return &balanceShortError{answer: ae}
	case client && (st == http.StatusConflict || ae.RetryAfter > 0 || tooSoonText.MatchString(ae.Message)):
		return tooSoon(ae)
	}
	return err
}

// tooSoon is the cool-down refusal of answer ae.
func tooSoon(ae *APIError) *ExtendTooSoonError {
	after := ae.RetryAfter
	if after <= 0 {
		after = ExtendCoolDown
	}
	return &ExtendTooSoonError{RetryAfter: after, Answer: ae}
}
