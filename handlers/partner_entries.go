package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// The entries of the partner's estimated WHAPI balance: the dashboard's
// form (purchase or correction, with its confirmation step), the list of
// recorded entries, and the page that reverses one.

// dashboardPartnerEntries is how many recorded entries the dashboard lists.
const dashboardPartnerEntries = 5

// partnerEntriesPerPage is how many entries a page of the full list shows.
const partnerEntriesPerPage = 25

// partnerEntriesPath is the list of every recorded entry.
const partnerEntriesPath = "/admin/partner/entries"

// latestPartnerEntries is the dashboard's list: the latest entries and a
// link to all of them when there are more.
func (h *Handler) latestPartnerEntries(ctx context.Context) (views.PartnerEntryList, error) {
	rows, total, err := h.store.ListPartnerEntries(ctx, dashboardPartnerEntries, 0)
	if err != nil {
		return views.PartnerEntryList{}, err
	}
	lz := i18n.From(ctx)
	l := views.PartnerEntryList{Rows: partnerEntryRows(lz, rows, "/admin")}
	if total > int64(len(rows)) {
		l.All, l.AllText = partnerEntriesPath, lz.N("partner.all_entries", total)
	}
	return l, nil
}

// partnerEntryRows puts entries in l's words; back is the page a Reverse
// button comes back to.
func partnerEntryRows(l *i18n.Localizer, rows []models.RecordedPartnerEntry, back string) []views.PartnerEntryRow {
	out := make([]views.PartnerEntryRow, 0, len(rows))
	for _, e := range rows {
		out = append(out, partnerEntryRow(l, e, back))
	}
	return out
}

func partnerEntryRow(l *i18n.Localizer, e models.RecordedPartnerEntry, back string) views.PartnerEntryRow {
	r := views.PartnerEntryRow{ID: e.ID, When: l.DateTime(e.CreatedAt), Kind: partnerKindWord(l, e.Kind), Days: signedDaysIn(l, e.Delta),
		Note: e.Comment, Actor: e.Actor, Reversed: e.ReversedBy != nil}
	switch {
	case e.ReversedBy != nil:
		r.Relation = l.T("partner.reversed_by", "Id", strconv.FormatInt(*e.ReversedBy, 10))
	case e.ReversesID != nil:
		r.Relation = l.T("partner.reverses", "Id", strconv.FormatInt(*e.ReversesID, 10))
	}
	if e.Reversible() {
		r.ReverseHref = partnerReversePath(e.ID) + "?" + url.Values{"back": {back}}.Encode()
	}
	return r
}

func partnerReversePath(id int64) string {
	return partnerEntriesPath + "/" + strconv.FormatInt(id, 10) + "/reverse"
}

// partnerKindWord is a kind of entry in l's words.
func partnerKindWord(l *i18n.Localizer, k models.PartnerKind) string {
	switch k {
	case models.PartnerPurchase:
		return l.T("partner.kinds.purchase")
	case models.PartnerCorrection:
		return l.T("partner.kinds.correction")
	case models.PartnerReversal:
		return l.T("partner.kinds.reversal")
	case models.PartnerExtend:
		return l.T("partner.kinds.extend")
	case models.PartnerReturn:
		return l.T("partner.kinds.return")
	}
	return string(k)
}

// signedNumIn writes n for l's language with a true minus sign when
// negative: "−5,000".
func signedNumIn(l *i18n.Localizer, n int64) string {
	if n < 0 {
		return "−" + l.Number(-n)
	}
	return l.Number(n)
}

// signedDaysIn writes a number of days with its sign for l's language:
// "+5,000", "−5,000".
func signedDaysIn(l *i18n.Localizer, n int64) string {
	if n < 0 {
		return signedNumIn(l, n)
	}
	return "+" + l.Number(n)
}

// balanceDaysIn writes a balance in days in l's words: "930 days",
// "−4,070 days", "1 day".
func balanceDaysIn(l *i18n.Localizer, n int64) string {
	return l.N("partner.balance_days", n, "Count", signedNumIn(l, n))
}

// partnerQuestion puts an entry's request for confirmation in l's words;
// ask and button are the ids of the question and of its button ("Record
// it anyway?", "Record it anyway").
func partnerQuestion(l *i18n.Localizer, nc *provision.NeedsConfirmationError, ask, button string) *views.PartnerConfirm {
	c := &views.PartnerConfirm{Numbers: l.T("partner.question.numbers", "From", signedNumIn(l, nc.From), "To", balanceDaysIn(l, nc.To)),
		Ask: l.T(ask), Button: l.T(button)}
	large := l.T("partner.question.large", "Max", l.Number(provision.PartnerConfirmAbove))
	switch {
	case nc.BelowZero && nc.Large:
		c.Why = l.T("partner.question.why_both", "Large", large)
	case nc.BelowZero:
		c.Why = l.T("partner.question.why_below_zero")
	case nc.Large:
		c.Why = upperFirst(l.T("partner.question.why_large", "Large", large))
	}
	return c
}

// recordPartnerDays records a purchase or a correction from the
// dashboard's form. A refused form comes back with its errors next to the
// fields; an entry that asks for confirmation comes back as the question
// (200, nothing recorded); "Change the entry" shows the form again with
// the values typed.
func (h *Handler) recordPartnerDays(c echo.Context) error {
	ctx := c.Request().Context()
	form := parsePartnerEntryForm(c)
	again := func(status int, fv views.PartnerEntryForm, flash *views.Flash) error {
		d, err := h.adminHomeView(ctx)
		if err != nil {
			return err
		}
		d.PartnerForm = fv
		p := h.dashboardPage(c)
		p.Flash = flash
		return h.render(c, status, views.AdminHomePage(p, d))
	}
	typed := views.PartnerEntryForm{Kind: form.Kind, Days: form.Days, Note: form.Note, Errors: form.Errors}
	if form.Edit {
		typed.Errors = nil
		return again(http.StatusOK, typed, nil)
	}
	if len(form.Errors) > 0 {
		return again(http.StatusUnprocessableEntity, typed, &views.Flash{Kind: "error", Text: loc(c).T("partner.flash.fix_fields")})
	}
	e, pb, err := h.svc.RecordPartnerDays(ctx, actor(c), form.In)
	l := loc(c)
	var nc *provision.NeedsConfirmationError
	if errors.As(err, &nc) {
		typed.Confirm = partnerQuestion(l, nc, "partner.question.ask_record", "partner.question.button_record")
		return again(http.StatusOK, typed, nil)
	}
	if err != nil {
		return err
	}
	now := balanceDaysIn(l, pb.Estimate())
	if e.Kind == models.PartnerPurchase {
		h.setFlash(c, "success", l.T("partner.flash.purchase", "Days", balanceDaysIn(l, e.Delta), "Now", now))
	} else {
		h.setFlash(c, "success", l.T("partner.flash.correction", "Days", l.N("partner.balance_days", e.Delta, "Count", signedDaysIn(l, e.Delta)), "Now", now))
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin")
}

// showPartnerEntriesPage lists every recorded entry, a page at a time.
func (h *Handler) showPartnerEntriesPage(c echo.Context) error {
	ctx := c.Request().Context()
	page := listPageNumber(c)
	rows, total, err := h.store.ListPartnerEntries(ctx, partnerEntriesPerPage, (page-1)*partnerEntriesPerPage)
	if err != nil {
		return err
	}
	pb, err := h.store.PartnerBalance(ctx)
	if err != nil {
		return err
	}
	href := func(n int) string { return partnerEntriesPath + "?page=" + strconv.Itoa(n) }
	l := loc(c)
	v := views.PartnerEntriesView{Estimate: balanceDaysIn(l, pb.Estimate()), List: views.PartnerEntryList{
		Rows:  partnerEntryRows(l, rows, href(page)),
		Pager: listPager(c, models.ListTotal{N: total}, partnerEntriesPerPage, page, href)}}
	p := h.page(c, l.T("partner.entries_title"))
	p.Active = "admin"
	return h.render(c, http.StatusOK, views.PartnerEntriesPage(p, v))
}

// partnerBack is where a reverse page goes back to: the dashboard, or a
// page of the list of entries; anything else is the dashboard.
func partnerBack(raw string) string {
	if rest, ok := strings.CutPrefix(raw, partnerEntriesPath); ok {
		if rest == "" {
			return partnerEntriesPath
		}
		if n, ok := strings.CutPrefix(rest, "?page="); ok {
			if p, err := strconv.Atoi(n); err == nil && p >= 1 && p <= 1_000_000 && strconv.Itoa(p) == n {
				return partnerEntriesPath + "?page=" + n
			}
		}
	}
	return "/admin"
}

// reverseView is the reverse page of entry e, with the numbers it would
// make of the current estimate.
func (h *Handler) reverseView(ctx context.Context, e models.RecordedPartnerEntry, back string) (views.PartnerReverseView, error) {
	l := i18n.From(ctx)
	v := views.PartnerReverseView{Entry: partnerEntryRow(l, e, back), Action: partnerReversePath(e.ID), Back: back}
	if why := e.ReverseRefusal(); why != nil {
		v.Refusal = unreversibleWords(l, why)
		return v, nil
	}
	pb, err := h.store.PartnerBalance(ctx)
	if err != nil {
		return v, err
	}
	v.Numbers = l.T("partner.reverse_page.numbers", "Days", signedDaysIn(l, -e.Delta), "From", signedNumIn(l, pb.Estimate()),
		"To", balanceDaysIn(l, pb.Estimate()-e.Delta))
	return v, nil
}

func (h *Handler) reversePage(c echo.Context, title string) views.Page {
	p := h.page(c, title)
	p.Active = "admin"
	return p
}

// partnerEntryParam loads the entry of the path's :id (404 for none).
func (h *Handler) partnerEntryParam(c echo.Context) (models.RecordedPartnerEntry, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return models.RecordedPartnerEntry{}, err
	}
	e, err := h.store.PartnerEntryByID(c.Request().Context(), id)
	if errors.Is(err, models.ErrNotFound) {
		return e, echo.NewHTTPError(http.StatusNotFound)
	}
	return e, err
}

// showReversePartnerEntryPage asks before an entry is reversed.
func (h *Handler) showReversePartnerEntryPage(c echo.Context) error {
	e, err := h.partnerEntryParam(c)
	if err != nil {
		return err
	}
	v, err := h.reverseView(c.Request().Context(), e, partnerBack(c.QueryParam("back")))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.PartnerReversePage(h.reversePage(c, loc(c).T("partner.reverse_page.page_title", "Id", strconv.FormatInt(e.ID, 10))), v))
}

// reversePartnerEntry reverses an entry. A missing note comes back next
// to its field (422), a reversal that takes the estimate below zero as the
// question (200), a refusal with its reason (409); nothing is recorded in
// any of them.
func (h *Handler) reversePartnerEntry(c echo.Context) error {
	ctx := c.Request().Context()
	e, err := h.partnerEntryParam(c)
	if err != nil {
		return err
	}
	back := partnerBack(c.FormValue("back"))
	form := parsePartnerReverseForm(c)
	l := loc(c)
	title := l.T("partner.reverse_page.page_title", "Id", strconv.FormatInt(e.ID, 10))
	again := func(status int, change func(*views.PartnerReverseView)) error {
		cur, err := h.store.PartnerEntryByID(ctx, e.ID)
		if err != nil {
			return err
		}
		v, err := h.reverseView(ctx, cur, back)
		if err != nil {
			return err
		}
		v.Note = form.Note
		change(&v)
		return h.render(c, status, views.PartnerReversePage(h.reversePage(c, title), v))
	}
	rev, of, pb, err := h.svc.ReversePartnerEntry(ctx, actor(c), e.ID, form.Note, form.Confirmed)
	var fe provision.FieldErrors
	var nc *provision.NeedsConfirmationError
	var re *models.ReverseError
	switch {
	case errors.As(err, &fe):
		return again(http.StatusUnprocessableEntity, func(v *views.PartnerReverseView) { v.Error = fe["note"] })
	case errors.As(err, &nc):
		return again(http.StatusOK, func(v *views.PartnerReverseView) {
			v.Confirm = partnerQuestion(l, nc, "partner.question.ask_reverse", "partner.question.button_reverse")
		})
	case errors.As(err, &re):
		return again(http.StatusConflict, func(v *views.PartnerReverseView) {
			if v.Refusal == "" { // reversed by another request since it was loaded
				v.Refusal = unreversibleWords(loc(c), re)
			}
		})
	case errors.Is(err, models.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	case err != nil:
		return err
	}
	h.setFlash(c, "success", l.T("partner.flash.reversed", "Of", strconv.FormatInt(of.ID, 10), "Rev", strconv.FormatInt(rev.ID, 10),
		"Days", signedDaysIn(l, rev.Delta), "Now", balanceDaysIn(l, pb.Estimate())))
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, back)
}

// unreversibleWords says why an entry cannot be reversed, in l's
// language (models.ReverseError's reasons).
func unreversibleWords(l *i18n.Localizer, e *models.ReverseError) string {
	id := strconv.FormatInt(e.Entry.ID, 10)
	switch e.Why {
	case models.ReversedAlready:
		if e.ReversedBy != 0 {
			return l.T("partner.unreversible.already_by", "ID", id, "By", strconv.FormatInt(e.ReversedBy, 10))
		}
		return l.T("partner.unreversible.already", "ID", id)
	case models.ReversalOfReversal:
		if e.Entry.ReversesID != nil {
			return l.T("partner.unreversible.reversal_of", "ID", id, "Of", strconv.FormatInt(*e.Entry.ReversesID, 10))
		}
		return l.T("partner.unreversible.reversal", "ID", id)
	}
	if e.Entry.Kind == models.PartnerReturn {
		return l.T("partner.unreversible.delete", "ID", id)
	}
	return l.T("partner.unreversible.extend", "ID", id)
}
