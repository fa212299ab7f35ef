package views

import "context"

// ForgotPasswordView is the state of /forgot-password: the form, or (Sent)
// the answer every address gets, whether or not it has an account.
type ForgotPasswordView struct {
	Email string
	// Error is what is wrong with the address as typed, or why the
	// request must wait ("try again in 12 minutes").
	Error string
	// Sent: the request was taken.
	Sent bool
	// Minutes is how long a reset link works.
	Minutes int
}

// emailField is the form's one field.
func (v ForgotPasswordView) emailField(ctx context.Context) Field {
	return Field{ID: "email", Name: "email", Label: t(ctx, "auth.email"), Type: "email", Value: v.Email,
		Attrs: attrs("autocomplete", "username", "required", true, "maxlength", "254", "autofocus", true, "dir", "ltr"), Error: v.Error, Period: true}
}
