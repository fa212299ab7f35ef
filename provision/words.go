package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"whapidesk/internal/i18n"
	"whapidesk/models"
)

// Provision's own words (issue 17): a form error or a refusal a workflow
// returns is said in the language of the ctx it was given — a handler
// passes the request's, which carries its reader's localizer; a job's
// carries none, so it speaks English. The words are the catalog's prov
// table (internal/i18n/locales/prov.*.toml). The error values a caller
// matches with errors.Is are unchanged; only the text a FieldErrors holds
// is looked up.

// textError is cleanText's refusal of a one-line text: what is the field
// ("name", "comment", "note"), problem one of "required", "invalid",
// "too_long", "one_line". Its Error is the English message.
type textError struct {
	what, problem string
	max           int
}

func (e *textError) Error() string { return e.in(context.Background()) }

// in is the refusal in ctx's language.
func (e *textError) in(ctx context.Context) string {
	return i18n.T(ctx, "prov.text."+e.what+"."+e.problem, "Max", plainNumber(ctx, int64(e.max)))
}

// The refusals of a phone number, of a test message's number and of a
// partner token, each a rule's message (fieldMsg says them in the reader's
// language).
var (
	errPhoneChars      = errors.New("a phone number has only digits (7 to 15), optionally with + and spaces")
	errPhoneLength     = errors.New("a phone number has 7 to 15 digits, with the country code")
	errTestNumberEmpty = errors.New("enter the WhatsApp number to send to, with the country code")
	errTestNumberChars = errors.New("a phone number has only digits, the country code first, e.g. +44 7700 900123")
	errTestNumberZero  = errors.New("start with the country code, not 0, e.g. +44 7700 900123")
	errTestNumberLen   = errors.New("a WhatsApp number has 10 to 15 digits with the country code")
)

// ruleWords are the catalog's ids of the rules' errors a FieldErrors may
// carry, each with the arguments its message takes.
var ruleWords = []struct {
	err  error
	id   string
	args func(ctx context.Context) []any
}{
	{models.ErrInvalidEmail, "prov.email.invalid", nil},
	{models.ErrEmailTaken, "prov.email.taken", nil},
	{models.ErrInvalidRole, "prov.role.invalid", nil},
	{models.ErrPlanNameTaken, "prov.plan.name_taken", nil},
	{models.ErrBlankPassword, "prov.password.blank", nil},
	{models.ErrWeakPassword, "prov.password.weak", func(ctx context.Context) []any {
		return []any{"Min", plainNumber(ctx, models.MinPasswordLength)}
	}},
	{models.ErrPasswordTooLong, "prov.password.too_long", func(ctx context.Context) []any {
		return []any{"Max", plainNumber(ctx, models.MaxPasswordBytes)}
	}},
	{models.ErrCommonPassword, "prov.password.common", nil},
	{models.ErrPasswordHasEmail, "prov.password.has_email", nil},
	{ErrTokenEmpty, "prov.token.empty", nil},
	{ErrTokenTooLong, "prov.token.too_long", nil},
	{ErrTokenControl, "prov.token.control", nil},
	{ErrTokenSpace, "prov.token.space", nil},
	{ErrTokenNotToken, "prov.token.not_token", nil},
	{ErrReplaceNeedsToken, "prov.token.replace_needs_token", nil},
	{ErrProjectID, "prov.project.invalid", nil},
	{ErrNotListed, "prov.project.not_listed", nil},
	{ErrWebhookNoEvents, "prov.webhook.no_events", nil},
	{errPhoneChars, "prov.phone.chars", nil},
	{errPhoneLength, "prov.phone.length", nil},
	{errTestNumberEmpty, "prov.test_number.empty", nil},
	{errTestNumberChars, "prov.test_number.chars", nil},
	{errTestNumberZero, "prov.test_number.leading_zero", nil},
	{errTestNumberLen, "prov.test_number.length", nil},
}

// fieldMsg is err, a rule's refusal of a field, in ctx's language: a
// rule the catalog knows by its words there, any other error as it is.
func fieldMsg(ctx context.Context, err error) string {
	var te *textError
	if errors.As(err, &te) {
		return te.in(ctx)
	}
	for _, w := range ruleWords {
		if errors.Is(err, w.err) {
			var args []any
			if w.args != nil {
				args = w.args(ctx)
			}
			return i18n.T(ctx, w.id, args...)
		}
	}
	return err.Error()
}

// FieldMessage is err, a rule's refusal of a form field (a FieldErrors
// value's cause: an e-mail, a password, a token, a phone number…), in the
// language ctx carries; an error no rule makes is its own text.
func FieldMessage(ctx context.Context, err error) string { return fieldMsg(ctx, err) }

// plainNumber is n in ctx's language's digits, without grouping (a
// limit the English text always wrote as 3650).
func plainNumber(ctx context.Context, n int64) string { return plainDigits(i18n.From(ctx), n) }

// plainDigits is n in l's digits, without grouping.
func plainDigits(l *i18n.Localizer, n int64) string {
	s := l.Number(n)
	return strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) || r == '-' {
			return r
		}
		return -1
	}, s)
}

// number is n for ctx's language, grouped as the language groups it.
func number(ctx context.Context, n int64) string { return i18n.From(ctx).Number(n) }

// quoted is user text quoted in a sentence, as the English always did
// (%q), isolated for a right-to-left reader.
func quoted(ctx context.Context, s string) string {
	if l := i18n.From(ctx); l.Language().RTL {
		return l.IsolateRTL(s)
	}
	return fmt.Sprintf("%q", s)
}
