package views

// PasswordForm is the state of the change-password form. It never carries
// a password back to the page.
type PasswordForm struct {
	Errors map[string]string
}
