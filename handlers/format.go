package handlers

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The formats that are the same in every language: times for machines
// (the API, the CSV export) and a phone number as WhatsApp gives it. What
// a person reads — dates, times, numbers, counts with their nouns — is
// written by the reader's localizer (loc(c).Date, .DateTime, .Number, .N;
// internal/i18n), never here.

// apiTime formats a time for the API and the CSV export: RFC 3339, UTC.
func apiTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// apiTimePtr formats an optional time (nil stays null).
func apiTimePtr(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	s := apiTime(*t)
	return &s
}

// custPhone shows a number WhatsApp reports ("15551234567", maybe
// with "@…") as "+15551234567".
func custPhone(raw string) string {
	raw, _, _ = strings.Cut(raw, "@")
	raw = strings.TrimPrefix(strings.TrimSpace(raw), "+")
	if raw == "" {
		return ""
	}
	for _, r := range raw {
		if r < '0' || r > '9' {
			return raw
		}
	}
	return "+" + raw
}

// upperFirst starts a text with a capital letter (messages are kept lower
// case for JSON, where they follow a field name).
func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
