package views

// SetPasswordView is the public page of a set-password link.
type SetPasswordView struct {
	// Problem, when set, is why the link does not work (expired, used,
	// altered): the page says so and shows nothing else.
	Problem string
	// Email is whose password the link sets (only when it works).
	Email  string
	Action string
	Form   PasswordForm
	// Done: the password is set.
	Done bool
	// Reset: the link is a password reset the user asked for (forgot
	// password), not an invitation.
	Reset bool
}
