package handlers

import "strings"

// withoutIsolates drops the Unicode isolates (U+2066 … U+2069) that keep
// user text (a plan's, a channel's or a customer's name) apart from the
// direction of the sentence around it: tests of the words compare what a
// reader sees; the isolates have tests of their own (lists_bidi_test.go).
func withoutIsolates(s string) string {
	return strings.NewReplacer("\u2066", "", "\u2067", "", "\u2068", "", "\u2069", "").Replace(s)
}

// listFlash is the page's flash without isolates (see flashText).
func listFlash(page string) string { return withoutIsolates(flashText(page)) }
