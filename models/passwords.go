package models

import (
	_ "embed" // the list of common passwords
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The rules every new password follows, as NIST SP 800-63B (§5.1.1.2)
// asks of memorized secrets: a minimum length and no composition rules
// (no "a digit and a capital"), but not a password found in lists of
// breached passwords, and nothing derived from the account itself. They
// apply wherever a password is set: sign-up by an admin (form and API),
// an admin's reset, a user's own change, `create-admin`. Passwords set
// before these rules keep working: only setting one is checked.
const (
	// MinPasswordLength is the shortest password accepted, in characters
	// (runes), counted as typed: nothing is trimmed.
	MinPasswordLength = 10
	// MaxPasswordBytes is the longest: bcrypt reads 72 bytes and ignores
	// the rest, so a longer password would be a shorter one in disguise.
	MaxPasswordBytes = 72
	// minLocalPartForCheck: the e-mail's name part (before the @) is
	// looked for in the password only when it has at least 3 characters;
	// a shorter one ("jo", "a") would refuse countless good passwords.
	minLocalPartForCheck = 3
)

// Errors of CheckPassword, worded for the field they sit next to.
var (
	ErrWeakPassword     = fmt.Errorf("the password must have at least %d characters", MinPasswordLength)
	ErrPasswordTooLong  = fmt.Errorf("the password is too long: at most %d bytes (%d plain letters; an accented letter or an emoji takes 2 to 4)", MaxPasswordBytes, MaxPasswordBytes)
	ErrBlankPassword    = errors.New("a password of only spaces is too easy to guess — choose another")
	ErrCommonPassword   = errors.New("this password is one of the most common ones — choose another")
	ErrPasswordHasEmail = errors.New("the password must not be or contain the e-mail address or its name (the part before the @) — choose another")
)

// commonPasswordsText is the 10,000 most common passwords: the first
// 10,000 entries, unchanged and in order, of the UK National Cyber
// Security Centre's list of the 100,000 passwords seen most often in Have
// I Been Pwned's breach corpus,
// https://www.ncsc.gov.uk/static-assets/documents/PwnedPasswordsTop100k.txt
// (NCSC material, Open Government Licence v3.0), also redistributed in
// SecLists (MIT) as
// Passwords/Common-Credentials/100k-most-used-passwords-NCSC.txt. The
// file's header lines are left out. Some entries are mis-encoded text as
// published; they are kept, so the file stays a verifiable prefix of the
// source. This list rather than SecLists' older 10k-most-common.txt: that
// one has only 51 entries of 10 characters or more, and not "password12".
//
//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords is the list as a set, case-folded.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 10_000)
	for line := range strings.SplitSeq(commonPasswordsText, "\n") {
		if line = strings.TrimSuffix(line, "\r"); line != "" {
			set[strings.ToLower(line)] = struct{}{}
		}
	}
	return set
})

// IsCommonPassword reports whether p is on the list of the most common
// passwords, ignoring case and surrounding spaces.
func IsCommonPassword(p string) bool {
	_, ok := commonPasswords()[strings.ToLower(strings.TrimSpace(p))]
	return ok
}

// CheckPassword applies the rules every new password follows for the
// account with email: ErrBlankPassword, ErrWeakPassword,
// ErrPasswordTooLong, ErrCommonPassword or ErrPasswordHasEmail.
func CheckPassword(p, email string) error {
	switch {
	case p != "" && strings.TrimFunc(p, unicode.IsSpace) == "":
		return ErrBlankPassword
	case utf8.RuneCountInString(p) < MinPasswordLength:
		return ErrWeakPassword
	case len(p) > MaxPasswordBytes:
		return ErrPasswordTooLong
	case IsCommonPassword(p):
		return ErrCommonPassword
	case containsEmail(p, email):
		return ErrPasswordHasEmail
	}
	return nil
}

// containsEmail reports whether p, ignoring case, is or contains the
// e-mail address or its name part (before the last @) when that part has
// at least minLocalPartForCheck characters.
func containsEmail(p, email string) bool {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return false
	}
	p = strings.ToLower(p)
	if strings.Contains(p, email) {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	local := email[:at]
	return utf8.RuneCountInString(local) >= minLocalPartForCheck && strings.Contains(p, local)
}
