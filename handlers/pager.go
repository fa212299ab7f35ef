package handlers

import (
	"strconv"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/views"
)

// pagerMaxLinks is how many numbered page links a pager shows around the
// current page (the first and last are added).
const pagerMaxLinks = 7

// listPageNumber is the ?page= of a list, 1 if absent or not a page.
func listPageNumber(c echo.Context) int {
	n, err := strconv.Atoi(c.QueryParam("page"))
	if err != nil || n < 1 || n > 1_000_000 {
		return 1
	}
	return n
}

// listCountAhead is how far past the current page a list counts the rows
// of a filter the running totals do not cover (a search, say): beyond
// that the pager says "more than N", so a page's cost does not grow with
// the number of rows. The pages before it count as before.
const listCountAhead = 1000

// listCountUpTo is the CountUpTo of a list page at offset: the next
// multiple of listCountAhead past it, so that a page past the end is
// always counted exactly.
func listCountUpTo(offset int) int { return (offset/listCountAhead + 1) * listCountAhead }

// pageCount is the number of pages total items fill (0 for none).
func pageCount(total int64, perPage int) int {
	return int((total + int64(perPage) - 1) / int64(perPage))
}

// pagerSummary is a page's summary in l's language: "26–50 of 73",
// "26–50 of more than 1,000", or, past the end, "73 in all". The numbers
// are the language's; the plural follows the total.
func pagerSummary(l *i18n.Localizer, t models.ListTotal, from, to int64) string {
	switch {
	case from > t.N && t.More:
		return l.N("pager.in_all_more", t.N)
	case from > t.N:
		return l.N("pager.in_all", t.N)
	case t.More:
		return l.N("pager.summary_more", t.N, "From", l.Number(from), "To", l.Number(to))
	}
	return l.N("pager.summary", t.N, "From", l.Number(from), "To", l.Number(to))
}

// listPager is the one pager builder, in the request's language: the
// summary ("26–50 of 73"), the previous and next pages and the numbered
// page links of a list of total items, on page; href(n) is the address of
// page n. A total that is "more than N" links the pages up to N, and Next
// goes on from there.
func listPager(c echo.Context, total models.ListTotal, perPage, page int, href func(n int) string) views.PagerView {
	return pagerIn(loc(c), total, perPage, page, href)
}

func pagerIn(l *i18n.Localizer, total models.ListTotal, perPage, page int, href func(n int) string) views.PagerView {
	if total.N <= 0 {
		return views.PagerView{}
	}
	last := pageCount(total.N, perPage)
	from := int64(page-1)*int64(perPage) + 1
	to := min(total.N, int64(page)*int64(perPage))
	pg := views.PagerView{Summary: pagerSummary(l, total, from, to)}
	if last <= 1 && !total.More {
		return pg
	}
	if page > 1 {
		pg.Prev = href(min(page-1, last))
	}
	if page < last || total.More {
		pg.Next = href(page + 1)
	}
	label := func(n int) string { return l.Number(int64(n)) }
	lo, hi := max(1, page-pagerMaxLinks/2), min(last, page+pagerMaxLinks/2)
	if lo > 1 {
		pg.Links = append(pg.Links, views.PagerLink{Label: label(1), Href: href(1)})
		if lo > 2 {
			pg.Links = append(pg.Links, views.PagerLink{Gap: true})
		}
	}
	for n := lo; n <= hi; n++ {
		pg.Links = append(pg.Links, views.PagerLink{Label: label(n), Href: href(n), Current: n == page})
	}
	switch {
	case total.More: // the last page is not known
		pg.Links = append(pg.Links, views.PagerLink{Gap: true})
	case hi < last:
		if hi < last-1 {
			pg.Links = append(pg.Links, views.PagerLink{Gap: true})
		}
		pg.Links = append(pg.Links, views.PagerLink{Label: label(last), Href: href(last)})
	}
	return pg
}
