package models

import (
	"errors"
	"strings"
	"testing"
)

// The password rules (NIST SP 800-63B): length counted in characters as
// typed, no composition rules, not blank, not one of the 10,000 most
// common passwords (any case), not the e-mail or its name part.
func TestCheckPassword(t *testing.T) {
	const email = "Amal.Haddad@Example.com"
	for _, tc := range []struct {
		password, email string
		want            error
	}{
		// Accepted: long enough, nothing else asked (no digit, capital or symbol needed).
		{"correct horse battery", email, nil},
		{"onlyletters", email, nil},                 // letters only
		{"éééééééééé", email, nil},                  // 10 characters (20 bytes): runes are counted
		{"  spaced out  ", email, nil},              // spaces count and are kept
		{"ich bin's, amal!", "al@example.com", nil}, // a name part under 3 characters is not looked for
		{strings.Repeat("x", 72), email, nil},       // bcrypt's 72 bytes exactly
		{"qwertyuiop asdf", email, nil},             // a common password inside a longer one is fine

		// Refused.
		{"", email, ErrWeakPassword},
		{"short", email, ErrWeakPassword},
		{"ééééééééé", email, ErrWeakPassword},   // 9 characters, 18 bytes
		{"          ", email, ErrBlankPassword}, // ten spaces
		{"\t\n \u00a0\u2003\t\n \t\n", email, ErrBlankPassword},
		{"   ", email, ErrBlankPassword},
		{strings.Repeat("x", 73), email, ErrPasswordTooLong},
		{strings.Repeat("é", 37), email, ErrPasswordTooLong}, // 37 characters, 74 bytes
		{"password12", email, ErrCommonPassword},
		{"PASSWORD12", email, ErrCommonPassword},
		{"Qwertyuiop", email, ErrCommonPassword},
		{"1234567890", email, ErrCommonPassword},
		{"iloveyou12", email, ErrCommonPassword},
		{" password123 ", email, ErrCommonPassword}, // surrounding spaces do not hide it
		{"amal.haddad@example.com", email, ErrPasswordHasEmail},
		{"AMAL.HADDAD", email, ErrPasswordHasEmail},
		{"my name is amal.haddad!", email, ErrPasswordHasEmail},
		{"bob@example.com", "bob@example.com", ErrPasswordHasEmail}, // the name part has 3 characters
		{"xbobxbobxbob", "BOB@example.com", ErrPasswordHasEmail},
		{"al@example.com", "al@example.com", ErrPasswordHasEmail}, // the whole address, however short its name
	} {
		if got := CheckPassword(tc.password, tc.email); !errors.Is(got, tc.want) {
			t.Errorf("CheckPassword(%q, %q) = %v, want %v", tc.password, tc.email, got, tc.want)
		}
	}
}

// The embedded list is the 10,000 most common passwords, read whole.
func TestCommonPasswordList(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(commonPasswordsText, "\n"), "\n")
	if len(lines) != 10_000 {
		t.Fatalf("%d lines, want 10,000", len(lines))
	}
	if lines[0] != "123456" || lines[len(lines)-1] != "robinson1" {
		t.Fatalf("first %q, last %q: not the list as published", lines[0], lines[len(lines)-1])
	}
	if n := len(commonPasswords()); n < 9_900 {
		t.Fatalf("%d distinct entries", n)
	}
	for _, p := range []string{"123456", "password", "qwerty123", "football1", "robinson1"} {
		if !IsCommonPassword(p) || !IsCommonPassword(strings.ToUpper(p)) {
			t.Errorf("%q is not found", p)
		}
	}
}
