package views

import "net/url"

// LoginForm is the state of the login form.
type LoginForm struct {
	Email string
	Next  string
	Error string
}

// back is where the language switch returns to: this page, with its next.
func (f LoginForm) back() string {
	if f.Next == "" {
		return "/login"
	}
	return "/login?next=" + url.QueryEscape(f.Next)
}
