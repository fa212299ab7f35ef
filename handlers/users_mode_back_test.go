package handlers

import (
	"net/url"
	"testing"
)

// The mode toggle goes back to the customers list or the customer's page,
// always as a valid URL of ours.
func TestUsersBack(t *testing.T) {
	for in, want := range map[string]string{
		"":                                "/admin/users/7",
		"/admin/users":                    "/admin/users",
		"/admin/users?page=2&q=a b":       "/admin/users?page=2&q=a+b",
		"/admin/users? 000000000":         "/admin/users?+000000000=",
		"/admin/users/":                   "/admin/users/7",
		"/admin/users/7":                  "/admin/users/7",
		"/admin/users/8":                  "/admin/users/7",
		"/admin/usersX":                   "/admin/users/7",
		"//evil.example/admin/users":      "/admin/users/7",
		"/admin/users/7?x=<script>":       "/admin/users/7",
		"https://evil.example/admin/user": "/admin/users/7",
	} {
		got := usersBack(in, 7)
		if got != want {
			t.Errorf("usersBack(%q) = %q, want %q", in, got, want)
		}
		if u, err := url.ParseRequestURI(got); err != nil || u.String() != got {
			t.Errorf("usersBack(%q) = %q is not a clean request URI", in, got)
		}
	}
}
