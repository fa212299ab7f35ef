package handlers

import (
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/views"
)

// The English words the tests expect, written by the English localizer,
// the one a request without a language setting or Accept-Language gets.

var en = i18n.For(i18n.Default)

// countOf is n with its English noun: "1 day", "3 days" (the noun's
// forms as the pages write them).
func countOf(n int64, one, other string) string {
	if n == 1 || n == -1 {
		return en.Number(n) + " " + one
	}
	return en.Number(n) + " " + other
}

// custDate is a day as an English page writes it: "2 Jan 2026".
func custDate(t time.Time) string { return en.Date(t.UTC()) }

// groupThousands is n as an English page writes it: "10,000".
func groupThousands(n int64) string { return en.Number(n) }

// formatTime is a moment as an English admin page writes it:
// "2 Jan 2026 15:04 UTC" ("" for none).
func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return en.DateTime(*t)
}

// domainError is domainErrorIn in English.
func domainError(err error) (status int, code, message string, ok bool) {
	return domainErrorIn(en, err)
}

// buildPager is pagerIn in English.
func buildPager(total models.ListTotal, perPage, page int, href func(n int) string) views.PagerView {
	return pagerIn(en, total, perPage, page, href)
}
