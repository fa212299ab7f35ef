package views

// LoginForm is the state of the login form.
type LoginForm struct {
	Email string
	Next  string
	Error string
}
