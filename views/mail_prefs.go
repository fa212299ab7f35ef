package views

// MailPrefsView is a user's "Mails" section: the kinds of mail they can
// switch off, and a word on the ones that always go.
type MailPrefsView struct {
	// Action is where the form posts (/account/mails, or the admin's
	// /admin/users/{id}/mails).
	Action string
	// Own: the signed-in user's own preferences (else an admin's view of
	// a customer's).
	Own   bool
	Items []MailPrefItem
}

// MailPrefItem is one switchable kind of mail.
type MailPrefItem struct {
	Kind, Label, Hint string
	On                bool
}
