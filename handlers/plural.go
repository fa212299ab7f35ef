package handlers

import "strconv"

// The one pluraliser: every count in words — on a page, in a flash, in a
// message — picks its form here, from the count alone. English has two
// forms; a language with more (CLDR's zero, one, two, few, many, other)
// changes pluralCategory and the forms passed in, and nothing else.

// pluralCategory is the CLDR plural category of n in English: "one" for 1
// (and −1: the rules look at the number without its sign), else "other".
func pluralCategory(n int64) string {
	if n == 1 || n == -1 {
		return "one"
	}
	return "other"
}

// plural picks the form that fits n: one ("day") or other ("days").
func plural(n int64, one, other string) string {
	if pluralCategory(n) == "one" {
		return one
	}
	return other
}

// countOf is n followed by the form that fits it: "1 day", "3 days".
func countOf(n int64, one, other string) string {
	return strconv.FormatInt(n, 10) + " " + plural(n, one, other)
}

// dayCount is n days in words: "1 day", "30 days".
func dayCount(n int64) string { return countOf(n, "day", "days") }
