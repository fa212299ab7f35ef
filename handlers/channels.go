package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// channelsPerPage is the page size of the admin's channel list.
const channelsPerPage = 50

func (h *Handler) channelsPage(c echo.Context) views.Page {
	p := h.page(c, loc(c).T("channels.title"))
	p.Active = "channels"
	return p
}

// channelListView loads one page of the list, in the words of ctx's
// language.
func (h *Handler) channelListView(ctx context.Context, q channelListQuery) (views.ChannelList, error) {
	lz := i18n.From(ctx)
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
		StatusOptions: channelStatusChoices(lz),
		Back:          q.values(true).Encode(),
		CSVHref:       q.href("/admin/channels.csv", false),
		Filtered:      q.Status != "" || q.Expiring || q.Owner != "",
		SelfHref:      q.href("/admin/channels", true),
		ExtendID:      q.Extend,
	}
	if l.Back != "" {
		l.BackParam = "?back=" + url.QueryEscape(l.Back)
	}
	pg := pagerIn(lz, total, channelsPerPage, q.Page, func(n int) string {
		at := q
		at.Page = n
		return at.href("/admin/channels", true)
	})
	// The list pages on with Previous and Next: no numbered links.
	pg.Summary, pg.Links = lz.N("channels.pager_summary", int64(total.N), "Range", pg.Summary), nil
	l.Pager = pg
	for _, r := range rows {
		row := channelListRow(lz, r, now)
		v := q.values(true)
		v.Set("extend", strconv.FormatInt(r.ID, 10))
		row.ExtendHref = "/admin/channels?" + v.Encode()
		l.Rows = append(l.Rows, row)
	}
	return l, nil
}

func channelListRow(lz *i18n.Localizer, r models.AdminChannelRow, now time.Time) views.ChannelListRow {
	v := provision.ViewAt(&r.Channel, now)
	row := views.ChannelListRow{
		ID: r.ID, Name: r.Name, Phone: r.Phone, OwnerID: r.UserID, OwnerEmail: r.OwnerEmail, State: badgeOf(v),
		Linked: r.Linked, LinkedPhone: r.LinkedPhone, ActiveTill: dateTimeOf(lz, r.ActiveTill), DaysAllocated: r.DaysAllocated,
		LastSynced: dateTimeOf(lz, r.LastSyncedAt), OwnerBalance: lz.N("common.days", r.OwnerBalance), OwnerMode: string(r.OwnerMode),
		Mode: modeLabel(lz, r.Mode),
	}
	row.CanExtend, row.CanSync, row.CanDelete = v.Can.Extend, v.Can.Sync, v.Can.Delete
	row.CanRestart, row.CanStop, row.CanStart = v.Can.Restart, v.Can.Stop, v.Can.Start
	row.CanTestMessage = v.Can.TestMessage
	row.CanConnect = v.Can.Connect
	if v.AtWhapi && r.ActiveTill != nil {
		row.TillNote = daysLeftWords(lz, r.ActiveTill, now)
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
	lz := loc(c)
	_, code, msg, ok := domainErrorIn(lz, err)
	label, doneWord := channelNamed(lz, ch), lz.T("channels.done."+done)
	kind, text := "error", lz.T("channels.not_done", "Channel", label, "Done", doneWord, "Reason", msg)
	switch {
	case !ok:
		h.log.ErrorContext(c.Request().Context(), "channel action failed", "channel", ch.ID, "action", done, "err", err)
		text = lz.T("channels.not_done_ours", "Channel", label, "Done", doneWord)
	case code == "not_configured":
		text = lz.T("channels.not_done_no_token", "Channel", label, "Done", doneWord, "Then", lz.T("errors.admin.save_token_first"))
	case code == "pending":
		kind, text = "warning", lz.T("channels.pending", "Channel", label)
	case code == "extend_too_soon":
		kind, text = "warning", extendTooSoonText(lz, ch, err)
	}
	h.setFlash(c, kind, text)
	return h.backToChannels(c, q)
}

// extendTooSoonText tells an admin that WHAPI took no extend of the
// channel because it was extended moments ago (provision.ExtendTooSoonError),
// and when to try again: the time rounded up to the minute the pages show.
func extendTooSoonText(lz *i18n.Localizer, ch *models.Channel, err error) string {
	var soon *provision.ExtendTooSoonError
	if !errors.As(err, &soon) {
		return ""
	}
	at := soon.Until.Truncate(time.Minute)
	if at.Before(soon.Until) {
		at = at.Add(time.Minute)
	}
	mins := int64((soon.After + time.Minute - 1) / time.Minute)
	if mins < 1 {
		mins = 1
	}
	return lz.T("channels.too_soon", "Channel", channelNamed(lz, ch), "At", lz.DateTime(at), "In", lz.N("channels.minutes", mins))
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
		// The days field was refused: it says so next to itself, keeps
		// what was typed and takes the focus.
		owner, uerr := h.store.UserByID(ctx, ch.UserID)
		if uerr != nil {
			return uerr
		}
		form.Errors = provision.FieldErrors{"days": shortBalanceText(loc(c), owner, days)}
		return h.extendRefused(c, q, ch, form)
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
	lz := loc(c)
	text := lz.T("channels.extended", "Channel", channelNamed(lz, ch), "Days", lz.N("common.days", days),
		"Email", i18n.Isolate(owner.Email), "Left", lz.Number(owner.DayBalance))
	if t := dateTimeOf(lz, after.ActiveTill); t != "" {
		text += " " + lz.T("channels.active_till_now", "Till", t)
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
	p.Flash = &views.Flash{Kind: "error", Text: loc(c).T("channels.not_done", "Channel", channelNamed(loc(c), ch),
		"Done", loc(c).T("channels.done.extended"), "Reason", strings.Join(msgs, "; "))}
	return h.render(c, http.StatusUnprocessableEntity, views.AdminChannelsPage(p, l))
}

// shortBalanceText says, next to the days field, that the customer's
// balance holds fewer days than asked for.
func shortBalanceText(lz *i18n.Localizer, owner *models.User, asked int64) string {
	return lz.T("channels.short_balance", "Email", i18n.Isolate(owner.Email), "Left", lz.N("common.days", owner.DayBalance),
		"Asked", lz.Number(asked))
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
		h.setFlash(c, "info", loc(c).T("channels.already_deleted", "Channel", channelNamed(loc(c), ch)))
		return h.backToChannels(c, back)
	}
	owner, err := h.store.UserByID(ctx, ch.UserID)
	if err != nil {
		return err
	}
	d := views.ChannelDelete{
		ID: ch.ID, Name: ch.Name, State: badgeOf(v), OwnerID: owner.ID, OwnerEmail: owner.Email,
		OwnerBalance: loc(c).N("common.days", owner.DayBalance), ActiveTill: dateTimeOf(loc(c), ch.ActiveTill),
		CanDelete: v.Can.Delete,
		Back:      back.values(true).Encode(), BackHref: back.href("/admin/channels", true),
	}
	if v.UnusedDays > 0 {
		d.Unused = loc(c).N("channels.unused_days", v.UnusedDays)
	}
	p := h.channelsPage(c)
	p.Title = loc(c).T("channels.delete_page")
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
		h.setFlash(c, "info", loc(c).T("channels.already_deleted", "Channel", channelNamed(loc(c), ch)))
		return h.backToChannels(c, q)
	}
	if err != nil {
		return h.channelFailed(c, q, ch, "deleted", err)
	}
	owner, err := h.store.UserByID(c.Request().Context(), ch.UserID)
	if err != nil {
		return err
	}
	lz := loc(c)
	text := lz.T("channels.deleted", "Channel", channelNamed(lz, ch))
	if days > 0 {
		text += " " + lz.T("channels.deleted_returned", "Days", lz.N("channels.unused_days", days), "Email", i18n.Isolate(owner.Email),
			"Now", lz.Number(owner.DayBalance))
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
	lz := loc(c)
	if provision.CheckState(ch, provision.ActSync) != nil {
		label, _ := provision.StateLabel(ch.Status)
		h.setFlash(c, "info", lz.T("channels.nothing_to_sync", "Channel", channelNamed(lz, ch), "State", strings.ToLower(lz.T(provision.LabelID(label)))))
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
		text := lz.T("channels.gone_at_whapi", "Channel", channelNamed(lz, ch))
		if unused > 0 {
			text += " " + lz.T("channels.gone_returned", "Days", lz.N("channels.unused_days", unused))
		}
		h.setFlash(c, "warning", text)
	default:
		state := strings.ToLower(lz.T(provision.LabelID(status)))
		if t := dateTimeOf(lz, after.ActiveTill); t != "" {
			h.setFlash(c, "success", lz.T("channels.synced_till", "Channel", channelNamed(lz, ch), "State", state, "Till", t))
		} else {
			h.setFlash(c, "success", lz.T("channels.synced", "Channel", channelNamed(lz, ch), "State", state))
		}
	}
	return h.backToChannels(c, q)
}
