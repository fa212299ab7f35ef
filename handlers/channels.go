package handlers

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// channelsPerPage is the page size of the admin's channel list.
const channelsPerPage = 50

func (h *Handler) channelsPage(c echo.Context) views.Page {
	p := h.page(c, "Channels")
	p.Active = "channels"
	return p
}

// channelListView loads one page of the list.
func (h *Handler) channelListView(ctx context.Context, q channelListQuery) (views.ChannelList, error) {
	now := time.Now().UTC()
	f := q.filter(now)
	f.Limit, f.Offset = channelsPerPage, (q.Page-1)*channelsPerPage
	f.CountUpTo = listCountUpTo(f.Offset)
	rows, total, err := h.store.ListAdminChannels(ctx, f)
	if err != nil {
		return views.ChannelList{}, err
	}
	// Past the end: show the last page. The count is exact here, as
	// CountUpTo lies past the offset.
	if len(rows) == 0 && total.N > 0 && q.Page > 1 && !total.More {
		q.Page = pageCount(total.N, channelsPerPage)
		f.Offset = (q.Page - 1) * channelsPerPage
		f.CountUpTo = listCountUpTo(f.Offset)
		if rows, total, err = h.store.ListAdminChannels(ctx, f); err != nil {
			return views.ChannelList{}, err
		}
	}
	l := views.ChannelList{
		Filter:        views.ChannelListFilter{Status: q.Status, Expiring: q.Expiring, Owner: q.Owner},
		StatusOptions: channelStatusOptions,
		Back:          q.values(true).Encode(),
		CSVHref:       q.href("/admin/channels.csv", false),
		Filtered:      q.Status != "" || q.Expiring || q.Owner != "",
		SelfHref:      q.href("/admin/channels", true),
		ExtendID:      q.Extend,
	}
	if l.Back != "" {
		l.BackParam = "?back=" + url.QueryEscape(l.Back)
	}
	pg := buildPager(total, channelsPerPage, q.Page, func(n int) string {
		at := q
		at.Page = n
		return at.href("/admin/channels", true)
	})
	// The list pages on with Previous and Next: no numbered links.
	pg.Summary, pg.Links = pg.Summary+" "+plural(total.N, "channel", "channels"), nil
	l.Pager = pg
	for _, r := range rows {
		row := channelListRow(r, now)
		v := q.values(true)
		v.Set("extend", strconv.FormatInt(r.ID, 10))
		row.ExtendHref = "/admin/channels?" + v.Encode()
		l.Rows = append(l.Rows, row)
	}
	return l, nil
}

func channelListRow(r models.AdminChannelRow, now time.Time) views.ChannelListRow {
	v := provision.ViewAt(&r.Channel, now)
	row := views.ChannelListRow{
		ID: r.ID, Name: r.Name, Phone: r.Phone, OwnerID: r.UserID, OwnerEmail: r.OwnerEmail, State: badgeOf(v),
		Linked: r.Linked, LinkedPhone: r.LinkedPhone, ActiveTill: formatTime(r.ActiveTill), DaysAllocated: r.DaysAllocated,
		LastSynced: formatTime(r.LastSyncedAt), OwnerBalance: dayCount(r.OwnerBalance), OwnerMode: string(r.OwnerMode),
		Mode: provision.ModeLabel(r.Mode),
	}
	row.CanExtend, row.CanSync, row.CanDelete = v.Can.Extend, v.Can.Sync, v.Can.Delete
	row.CanRestart, row.CanStop, row.CanStart = v.Can.Restart, v.Can.Stop, v.Can.Start
	row.CanTestMessage = v.Can.TestMessage
	row.CanConnect = v.Can.Connect
	if v.AtWhapi && r.ActiveTill != nil {
		row.TillNote = timeLeft(r.ActiveTill, now)
		row.TillSoon = r.ActiveTill.Before(now.Add(expiringWindow))
	}
	return row
}

func (h *Handler) showChannelsPage(c echo.Context) error {
	l, err := h.channelListView(c.Request().Context(), parseChannelListQuery(c.QueryParams()))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.AdminChannelsPage(h.channelsPage(c), l))
}

// channelParam loads the channel named by :id (404 if there is none).
func (h *Handler) channelParam(c echo.Context) (*models.Channel, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	ch, err := h.store.ChannelByID(c.Request().Context(), id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound)
	}
	return ch, err
}

// backToChannels saves the flash and returns to the list the form came from.
func (h *Handler) backToChannels(c echo.Context, q channelListQuery) error {
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, q.href("/admin/channels", true))
}

// channelFailed flashes why a channel was not changed (done: "extended",
// "deleted", "synced"), in plain words — never WHAPI's own text — and
// returns to the list. Errors that are not the admin's to fix are logged
// and said generally.
func (h *Handler) channelFailed(c echo.Context, q channelListQuery, ch *models.Channel, done string, err error) error {
	_, code, msg, ok := domainError(err)
	kind, text := "error", fmt.Sprintf("%s was not %s: %s.", channelLabel(ch), done, msg)
	switch {
	case !ok:
		h.log.ErrorContext(c.Request().Context(), "channel action failed", "channel", ch.ID, "action", done, "err", err)
		text = fmt.Sprintf("%s was not %s: something went wrong on our side or WHAPI did not answer. Nothing is lost: try again in a moment.", channelLabel(ch), done)
	case code == "not_configured":
		text = fmt.Sprintf("%s was not %s: no partner token is saved. %s", channelLabel(ch), done, saveTokenFirst)
	case code == "pending":
		kind, text = "warning", fmt.Sprintf("%s: WHAPI has not confirmed the change yet. It is checked and settled automatically; no day is lost.", channelLabel(ch))
	case code == "extend_too_soon":
		kind, text = "warning", extendTooSoonText(ch, err)
	}
	h.setFlash(c, kind, text)
	return h.backToChannels(c, q)
}

// extendTooSoonText tells an admin that WHAPI took no extend of the
// channel because it was extended moments ago (provision.ExtendTooSoonError),
// and when to try again: the time rounded up to the minute the pages show.
func extendTooSoonText(ch *models.Channel, err error) string {
	var soon *provision.ExtendTooSoonError
	if !errors.As(err, &soon) {
		return ""
	}
	at := soon.Until.Truncate(time.Minute)
	if at.Before(soon.Until) {
		at = at.Add(time.Minute)
	}
	return fmt.Sprintf("%s was not extended: WHAPI takes one extend of a channel every few minutes, and this one was extended moments ago. "+
		"Try again after %s (in %s). No day was moved; the partner balance is not the problem.", channelLabel(ch), formatTime(&at), provision.HumanDuration(soon.After))
}

func channelLabel(ch *models.Channel) string {
	return fmt.Sprintf("Channel “%s” (#%d)", ch.Name, ch.ID)
}

func (h *Handler) extendChannel(c echo.Context) error {
	ctx := c.Request().Context()
	ch, err := h.channelParam(c)
	if err != nil {
		return err
	}
	q := backQuery(c)
	form := parseExtendForm(c)
	days := form.Days
	if len(form.Errors) > 0 {
		return h.extendRefused(c, q, ch, form)
	}
	_, err = h.svc.Extend(ctx, actor(c), form.input(ch.ID))
	if errors.As(err, &form.Errors) {
		return h.extendRefused(c, q, ch, form)
	}
	if errors.Is(err, models.ErrInsufficientBalance) {
		owner, uerr := h.store.UserByID(ctx, ch.UserID)
		if uerr != nil {
			return uerr
		}
		h.setFlash(c, "error", fmt.Sprintf("%s was not extended: %s has only %s left (you asked for %d). Credit days on the customer's page first.",
			channelLabel(ch), owner.Email, countOf(owner.DayBalance, "day", "days"), days))
		return h.backToChannels(c, q)
	}
	if err != nil {
		return h.channelFailed(c, q, ch, "extended", err)
	}
	after, err := h.store.ChannelByID(ctx, ch.ID)
	if err != nil {
		return err
	}
	owner, err := h.store.UserByID(ctx, ch.UserID)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("%s was extended by %s from %s's balance (%d left).", channelLabel(ch), countOf(days, "day", "days"), owner.Email, owner.DayBalance)
	if t := formatTime(after.ActiveTill); t != "" {
		text += " Active till " + t + "."
	}
	h.setFlash(c, "success", text)
	return h.backToChannels(c, q)
}

// extendRefused shows the list again (422) with the channel's extend form
// open and the errors next to its fields.
func (h *Handler) extendRefused(c echo.Context, q channelListQuery, ch *models.Channel, form daysForm) error {
	l, err := h.channelListView(c.Request().Context(), q)
	if err != nil {
		return err
	}
	fe := form.Errors
	l.ExtendID, l.ExtendErrors = ch.ID, fe
	l.ExtendDays, l.ExtendComment = form.RawDays, form.Comment
	var msgs []string
	for _, k := range []string{"days", "comment"} {
		if fe[k] != "" {
			msgs = append(msgs, fe[k])
		}
	}
	p := h.channelsPage(c)
	p.Flash = &views.Flash{Kind: "error", Text: channelLabel(ch) + " was not extended: " + strings.Join(msgs, "; ") + "."}
	return h.render(c, http.StatusUnprocessableEntity, views.AdminChannelsPage(p, l))
}

func (h *Handler) showDeleteChannelPage(c echo.Context) error {
	ctx := c.Request().Context()
	ch, err := h.channelParam(c)
	if err != nil {
		return err
	}
	q, _ := url.ParseQuery(c.QueryParam("back"))
	back := parseChannelListQuery(q)
	v := h.svc.View(ch)
	if errors.Is(provision.CheckState(ch, provision.ActDelete), models.ErrAlreadyDeleted) {
		h.setFlash(c, "info", channelLabel(ch)+" is already deleted.")
		return h.backToChannels(c, back)
	}
	owner, err := h.store.UserByID(ctx, ch.UserID)
	if err != nil {
		return err
	}
	d := views.ChannelDelete{
		ID: ch.ID, Name: ch.Name, State: badgeOf(v), OwnerID: owner.ID, OwnerEmail: owner.Email,
		OwnerBalance: dayCount(owner.DayBalance), ActiveTill: formatTime(ch.ActiveTill),
		CanDelete: v.Can.Delete,
		Back:      back.values(true).Encode(), BackHref: back.href("/admin/channels", true),
	}
	if v.UnusedDays > 0 {
		d.Unused = countOf(v.UnusedDays, "unused day", "unused days")
	}
	p := h.channelsPage(c)
	p.Title = "Delete channel"
	return h.render(c, http.StatusOK, views.ChannelDeletePage(p, d))
}

func (h *Handler) deleteChannel(c echo.Context) error {
	ch, err := h.channelParam(c)
	if err != nil {
		return err
	}
	q := backQuery(c)
	days, err := h.svc.Delete(c.Request().Context(), actor(c), ch.ID)
	if errors.Is(err, models.ErrAlreadyDeleted) {
		h.setFlash(c, "info", channelLabel(ch)+" is already deleted.")
		return h.backToChannels(c, q)
	}
	if err != nil {
		return h.channelFailed(c, q, ch, "deleted", err)
	}
	owner, err := h.store.UserByID(c.Request().Context(), ch.UserID)
	if err != nil {
		return err
	}
	text := channelLabel(ch) + " was deleted."
	if days > 0 {
		text += fmt.Sprintf(" %s went back to %s's balance (now %d).", countOf(days, "unused day", "unused days"), owner.Email, owner.DayBalance)
	}
	h.setFlash(c, "success", text)
	return h.backToChannels(c, q)
}

func (h *Handler) syncChannel(c echo.Context) error {
	ctx := c.Request().Context()
	ch, err := h.channelParam(c)
	if err != nil {
		return err
	}
	q := backQuery(c)
	if provision.CheckState(ch, provision.ActSync) != nil {
		label, _ := provision.StateLabel(ch.Status)
		h.setFlash(c, "info", channelLabel(ch)+" has nothing to sync ("+strings.ToLower(label)+").")
		return h.backToChannels(c, q)
	}
	unused := h.svc.View(ch).UnusedDays
	after, err := h.svc.Sync(ctx, ch.ID)
	if err != nil {
		return h.channelFailed(c, q, ch, "synced", err)
	}
	status, _ := provision.StateLabel(after.Status)
	switch {
	case provision.IsGone(after):
		text := channelLabel(ch) + " no longer exists at WHAPI: it is marked deleted."
		if unused > 0 {
			text += " Its " + countOf(unused, "unused day", "unused days") + " went back to the owner's balance."
		}
		h.setFlash(c, "warning", text)
	default:
		text := channelLabel(ch) + " is synced: " + strings.ToLower(status)
		if t := formatTime(after.ActiveTill); t != "" {
			text += ", active till " + t
		}
		h.setFlash(c, "success", text+".")
	}
	return h.backToChannels(c, q)
}

// csvPageSize is how many channels the export reads at a time.
const csvPageSize = 500

// exportChannelsCSV writes every channel matching the list's filters as
// CSV. It never holds a token: only our ids and what the list shows.
func (h *Handler) exportChannelsCSV(c echo.Context) error {
	ctx := c.Request().Context()
	now := time.Now().UTC()
	f := parseChannelListQuery(c.QueryParams()).filter(now)
	f.Limit = csvPageSize
	rows, _, err := h.store.ListAdminChannels(ctx, f)
	if err != nil {
		return err
	}
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	hd.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="whapidesk-channels-%s.csv"`, now.Format("20060102-1504")))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.Write([]string{"id", "name", "owner_email", "status", "mode", "linked", "active_till", "days_allocated", "created_at"}); err != nil {
		return err
	}
	for {
		for _, r := range rows {
			till := ""
			if t := apiTimePtr(r.ActiveTill); t != nil {
				till = *t
			}
			rec := []string{strconv.FormatInt(r.ID, 10), csvText(r.Name), csvText(r.OwnerEmail), string(r.Status), r.Mode,
				strconv.FormatBool(r.Linked), till, strconv.FormatInt(r.DaysAllocated, 10), apiTime(r.CreatedAt)}
			if err := w.Write(rec); err != nil {
				return err
			}
		}
		if len(rows) < csvPageSize {
			break
		}
		f.Offset += csvPageSize
		if rows, _, err = h.store.ListAdminChannels(ctx, f); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// csvText keeps a spreadsheet from reading a text cell as a formula: a
// leading =, +, -, @, tab or carriage return gets a ' in front (OWASP).
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
