package views

import (
	"context"

	"whapidesk/internal/i18n"
)

// PasswordForm is the state of the account page's forms. It never carries
// a password back to the page.
type PasswordForm struct {
	Errors map[string]string
	// Language is the "Language" section.
	Language LanguageChoice
}

// LanguageChoice is the account page's language setting.
type LanguageChoice struct {
	// Current is the user's language tag, "" for the browser's choice.
	Current string
	// Error says why the choice was refused.
	Error string
}

// field is the language select: the browser's choice, then each language
// named in itself.
func (v LanguageChoice) field(ctx context.Context) Field {
	opts := []SelectOption{{Value: "", Label: t(ctx, "account.language_browser")}}
	for _, l := range i18n.Languages {
		opts = append(opts, SelectOption{Value: l.Tag, Label: l.Name})
	}
	return Field{ID: "account-language", Name: "language", Label: t(ctx, "account.language"), Type: "select",
		Value: v.Current, Options: opts, Error: v.Error, Period: true, TestID: "error-language"}
}

// field is the password field name of the form.
func (f PasswordForm) field(name, label, autocomplete, hint string) Field {
	return Field{ID: "pw-" + name, Name: name, Label: label, Type: "password",
		Attrs: attrs("autocomplete", autocomplete, "required", true, "maxlength", "200"), Hint: hint, Error: f.Errors[name], Period: true}
}
