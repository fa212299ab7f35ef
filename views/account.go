package views

// PasswordForm is the state of the change-password form. It never carries
// a password back to the page.
type PasswordForm struct {
	Errors map[string]string
}

// field is the password field name of the form.
func (f PasswordForm) field(name, label, autocomplete, hint string) Field {
	return Field{ID: "pw-" + name, Name: name, Label: label, Type: "password",
		Attrs: attrs("autocomplete", autocomplete, "required", true, "maxlength", "200"), Hint: hint, Error: f.Errors[name], Period: true}
}
