package provision

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/whapi"
)

// A workflow's form errors are in the language of the ctx its caller
// passes (a handler passes the request's): French for a French reader,
// Arabic with Arabic digits for an Arabic one, English for a ctx that
// carries no language (a job's) — the English words as they always were.
// The error is a FieldErrors in every language, and nothing is created.
func TestFieldErrorsInTheReadersLanguage(t *testing.T) {
	e := newEnv(t)
	bad := models.PlanInput{Name: " ", MaxChannels: 0, DaysPerPeriod: 30, PeriodDays: 30}
	for _, tc := range []struct {
		tag              string
		name, maxChannel string
	}{
		{"", "enter a name", "enter a number of channels from 1 to 1,000"},
		{"fr", "saisissez un nom", "saisissez un nombre de canaux de 1 à 1"},
		{"ar", "أدخل اسمًا", "أدخل عدد قنوات من ١ إلى ١٬٠٠٠"},
	} {
		ctx := e.ctx
		if tc.tag != "" {
			ctx = i18n.With(ctx, i18n.For(tc.tag))
		}
		_, err := e.svc.CreatePlan(ctx, admin, bad)
		var fe FieldErrors
		if !errors.As(err, &fe) {
			t.Fatalf("%q: %v, want FieldErrors", tc.tag, err)
		}
		if fe["name"] != tc.name || !strings.HasPrefix(fe["max_channels"], tc.maxChannel) {
			t.Errorf("%q: %q", tc.tag, fe)
		}
	}
	plans, err := e.store.ListPlans(e.ctx)
	if err != nil || len(plans) != 0 {
		t.Fatalf("a refused plan was made: %v %v", plans, err)
	}

	// A rule of models (the e-mail, the password) is said in the reader's
	// language too, with the rule's number in its digits.
	fr := i18n.With(e.ctx, i18n.For("fr"))
	_, err = e.svc.CreateUser(fr, admin, models.NewUser{Email: "not an address", Password: "short", Role: models.RoleCustomer})
	var fe FieldErrors
	if !errors.As(err, &fe) || fe["email"] != "saisissez une adresse e-mail valide" ||
		fe["password"] != "le mot de passe doit compter au moins 10 caractères" {
		t.Fatalf("French user errors: %q (%v)", fe, err)
	}
	ar := i18n.With(e.ctx, i18n.For("ar"))
	err = e.svc.CreditDays(ar, admin, 1, 0, "")
	if !errors.As(err, &fe) || fe["days"] != "أدخل عددًا صحيحًا من الأيام من ١ إلى ١٠٠٬٠٠٠" || fe["comment"] != "أدخل تعليقًا" {
		t.Fatalf("Arabic credit errors: %q (%v)", fe, err)
	}
	_, err = ValidateExtend(ar, ExtendInput{Days: 4000, Comment: "ok"})
	if !errors.As(err, &fe) || fe["days"] != "أدخل عددًا صحيحًا من الأيام من ١ إلى ٣٦٥٠" {
		t.Fatalf("Arabic extend errors: %q (%v)", fe, err)
	}
	// The English twins keep their words (the handlers' early checks).
	if _, err := ValidateExtend(context.Background(), ExtendInput{Days: 4000, Comment: "ok"}); !errors.As(err, &fe) || fe["days"] != "enter a whole number of days from 1 to 3650" {
		t.Fatalf("English extend errors: %q (%v)", fe, err)
	}
	if FieldMessage(fr, models.ErrEmailTaken) != "un utilisateur a déjà cette adresse e-mail" || FieldMessage(fr, errors.New("other")) != "other" {
		t.Fatal("FieldMessage")
	}
}

// Every rule's English words in the catalog are the error's own text, so
// that the English a reader sees does not depend on which path said it.
func TestRuleWordsAreTheErrorsText(t *testing.T) {
	en := i18n.With(t.Context(), i18n.For("en"))
	for _, w := range ruleWords {
		if got := fieldMsg(en, w.err); got != w.err.Error() {
			t.Errorf("%s: catalog %q, error %q", w.id, got, w.err.Error())
		}
	}
	for _, what := range []string{"name", "comment", "note"} {
		for _, in := range []string{"", "\xff", strings.Repeat("x", 300), "a\tb"} {
			_, err := cleanText(in, what, 200, true)
			var te *textError
			if !errors.As(err, &te) {
				t.Fatalf("%s %q: %v", what, in, err)
			}
			if !i18n.Has("prov.text." + what + "." + te.problem) {
				t.Errorf("no words for %s %s", what, te.problem)
			}
		}
	}
}

// A refusal that says when to try again is said in the language of the
// request that met it, the wait too; without one, in the English it
// always had.
func TestRetryLaterInTheReadersLanguage(t *testing.T) {
	e := newEnv(t)
	ar := i18n.With(e.ctx, i18n.For("ar"))
	if err := e.svc.reconnectAllowed(ar, 7, true); err != nil {
		t.Fatal(err)
	}
	err := e.svc.reconnectAllowed(ar, 7, true)
	var rl *RetryLaterError
	if !errors.As(err, &rl) || !strings.Contains(err.Error(), "أُعيد توصيل هذا الخط قبل لحظات: حاول مرة أخرى بعد") {
		t.Fatalf("Arabic reconnect refusal: %v", err)
	}
	if err := e.svc.reconnectAllowed(e.ctx, 7, true); err == nil ||
		!strings.HasPrefix(err.Error(), "this line was reconnected a moment ago: try again in ") {
		t.Fatalf("English reconnect refusal: %v", err)
	}
	now := e.clock.Now()
	fr := i18n.With(e.ctx, i18n.For("fr"))
	if got := tooSoon(fr, now.Add(90*time.Second), now).Error(); got != "le canal vient d’être prolongé et pourra l’être de nouveau dans 2 minutes ; aucun jour n’a été déplacé" {
		t.Errorf("French extend refusal %q", got)
	}
	if got := tooSoon(e.ctx, now.Add(90*time.Second), now).Error(); got != "the channel was extended moments ago and can be extended again in 2 minutes; nothing was moved" {
		t.Errorf("English extend refusal %q", got)
	}
	if got := (&RetryLaterError{After: 24 * time.Hour}).Error(); got != "too many new channels at once: try again in 1440 minutes" {
		t.Errorf("English default %q", got)
	}
	for _, err := range []error{&whapi.APIError{Status: http.StatusPaymentRequired}, &whapi.APIError{Status: http.StatusForbidden},
		whapi.ErrUnauthorized, whapi.ErrRateLimited, whapi.ErrRefused, whapi.ErrTimeout, errors.New("other")} {
		if id := testMessageReason(err); !i18n.Has(id) {
			t.Errorf("%v: %q is not in the catalog", err, id)
		}
	}
}
