package handlers

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"whapidesk/provision"
)

// Every date, time and number a page, a flash or the JSON API shows is
// formatted here, so each is written one way everywhere. Times are UTC.

// formatTime shows a time to admins: "2 Jan 2026 15:04 UTC" ("" for none).
func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// custDate shows a day to customers: "2 Jan 2026".
func custDate(t time.Time) string { return t.UTC().Format("2 Jan 2006") }

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

// timeLeft says how long until till, in whole days: "3 days left",
// "less than a day left" or "expired".
func timeLeft(till *time.Time, now time.Time) string {
	if till == nil {
		return ""
	}
	left := till.Sub(now)
	switch {
	case left <= 0:
		return "expired"
	case left < 24*time.Hour:
		return "less than a day left"
	}
	return countOf(provision.DaysLeft(till, now), "day left", "days left")
}

// groupThousands writes n with thousands separators: 10000 → "10,000".
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// signedDelta writes a change of days with its sign: "+30", "+0", "−5"
// (a true minus sign).
func signedDelta(n int64) string {
	if n < 0 {
		return "−" + strconv.FormatInt(n, 10)[1:]
	}
	return "+" + strconv.FormatInt(n, 10)
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
