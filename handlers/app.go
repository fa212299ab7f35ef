package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// custExpiryWarning is how close to its end a channel gets a banner.
const custExpiryWarning = 7 * 24 * time.Hour

func (h *Handler) custPage(c echo.Context, title string) views.Page {
	p := h.page(c, title)
	p.Active = "app"
	return p
}

// custDaysLeft is a channel's remaining time: whole days left (counted as
// the refund on delete counts them) and until when.
func custDaysLeft(l *i18n.Localizer, v provision.ChannelView, now time.Time) (left, until string) {
	switch {
	case !v.HasDays:
		return l.T("app.no_days"), ""
	case !v.ActiveTill.After(now):
		return l.T("app.expired_on", "Date", l.Date(*v.ActiveTill)), ""
	case v.DaysLeft < 1:
		return l.T("app.less_than_a_day"), l.T("app.until", "Date", l.Date(*v.ActiveTill))
	}
	return l.N("app.days_left", v.DaysLeft), l.T("app.until", "Date", l.Date(*v.ActiveTill))
}

// custDashboard gathers what /app shows u.
func (h *Handler) custDashboard(ctx context.Context, u *models.User) (views.CustomerDashboard, error) {
	now := h.svc.Now()
	l := i18n.From(ctx)
	d := views.CustomerDashboard{Balance: u.DayBalance, BalanceDays: l.N("common.days", u.DayBalance), AutoMode: u.AllocationMode == models.AllocationAuto}
	sub, err := h.store.ActiveSubscription(ctx, u.ID)
	switch {
	case err == nil:
		d.HasPlan = true
		d.PlanName = sub.Plan.Name
		d.MaxChannels = sub.Plan.MaxChannels
		if !sub.CurrentPeriodEnd.IsZero() {
			d.PeriodEnd = l.Date(sub.CurrentPeriodEnd)
		}
	case !errors.Is(err, models.ErrNotFound):
		return d, err
	}
	if d.LiveChannels, err = h.store.CountLiveChannels(ctx, u.ID); err != nil {
		return d, err
	}
	d.Usage = l.T("app.usage", "Live", l.Number(d.LiveChannels), "Max", l.N("app.plan_channels", d.MaxChannels))
	chans, err := h.store.ChannelsByUser(ctx, u.ID)
	if err != nil {
		return d, err
	}
	// The status history (handlers/attention.go, provision/history.go).
	since, err := h.svc.LinkSinces(ctx, chans)
	if err != nil {
		return d, err
	}
	var bars []views.DaysLeftBar
	for i := range chans {
		v := provision.ViewAt(&chans[i], now)
		cv, err := h.custChannel(ctx, l, &chans[i], since[v.ID], now)
		if err != nil {
			return d, err
		}
		d.Channels = append(d.Channels, cv)
		bars = append(bars, views.DaysLeftBar{ChannelID: v.ID, Name: v.Name, Days: custBarDays(v, now), Words: cv.DaysLeft})
		if b, ok := h.custExpiryBanner(l, v, now, d); ok {
			d.Banners = append(d.Banners, b)
		}
	}
	d.Picture = views.NewDaysLeftPicture(bars)
	down, err := h.svc.Disconnected(ctx, u.ID)
	if err != nil {
		return d, err
	}
	for _, n := range down {
		d.Disconnects = append(d.Disconnects, views.DisconnectBanner{ChannelID: n.ChannelID, Name: n.Name, Since: l.DateTime(n.Since)})
	}
	if d.HasPlan && d.LiveChannels >= d.MaxChannels {
		d.CreateBlocked = l.N("app.blocked", d.MaxChannels, "Brand", h.cfg.Brand)
	}
	return d, nil
}

// custLinkLine says since when a channel's phone is linked or not, in the
// customer's language: "Connected since 2 Jan 2026 15:04 UTC",
// "Disconnected 12 min ago" ("" when the history does not know); the
// words the admin's view of a connect page uses too (historyLines).
func custLinkLine(l *i18n.Localizer, ls provision.LinkSince, now time.Time) string {
	if ls.Since.IsZero() {
		return ""
	}
	if ls.Linked {
		return l.T("app.connected_since", "When", l.DateTime(ls.Since))
	}
	return l.T("app.disconnected_ago", "Ago", agoLoc(l, now.Sub(ls.Since)))
}

// custBarDays is the length of a channel's bar in the days-left picture:
// its whole days left while it runs, none once its days are over.
func custBarDays(v provision.ChannelView, now time.Time) int64 {
	if !v.HasDays || !v.ActiveTill.After(now) {
		return 0
	}
	return v.DaysLeft
}

// custChannel is one channel's card: where it stands in the customer's
// words, its days, and its link and uptime when it has a line.
func (h *Handler) custChannel(ctx context.Context, l *i18n.Localizer, ch *models.Channel, since provision.LinkSince, now time.Time) (views.CustomerChannel, error) {
	v := provision.ViewAt(ch, now)
	cv := views.CustomerChannel{ID: v.ID, Name: v.Name, Phone: v.Phone, State: phaseBadge(v.Phase),
		Connected: v.Phase == provision.PhaseConnected, Trial: v.Trial, CanConnect: v.Can.Connect, CanDelete: v.Can.Delete,
		Preparing: v.Phase == provision.PhasePreparing}
	if cv.Connected {
		cv.LinkedPhone = custPhone(v.LinkedPhone)
	}
	cv.DaysLeft, cv.Until = custDaysLeft(l, v, now)
	if v.Phase.Live() || v.Phase == provision.PhaseStopped {
		if cv.LinkLine = custLinkLine(l, since, now); cv.LinkLine != "" {
			up, err := h.svc.Uptime(ctx, ch)
			if err != nil {
				return cv, err
			}
			cv.Uptime = l.T("app.uptime_line", "Week", fmt.Sprintf("%.1f", up.Week), "Month", fmt.Sprintf("%.1f", up.Month))
		}
	}
	return cv, nil
}

// showCustomerChannelCard answers a preparing card's poll: the card as it
// is now (views.CustomerChannelCard), polling on only while the channel is
// still being prepared. A channel that could not be made answers its card
// too (it says so), so the poll ends rather than meeting a 404.
func (h *Handler) showCustomerChannelCard(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, true)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	since, err := h.svc.LinkSinces(ctx, []models.Channel{*ch})
	if err != nil {
		return err
	}
	cv, err := h.custChannel(ctx, loc(c), ch, since[ch.ID], h.svc.Now())
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.CustomerChannelCard(cv))
}

// custExpiryBanner warns about a channel that expires within 7 days or has
// expired, and says what happens next.
func (h *Handler) custExpiryBanner(l *i18n.Localizer, ch provision.ChannelView, now time.Time, d views.CustomerDashboard) (views.CustomerBanner, bool) {
	if ch.Phase == provision.PhaseExpired {
		return views.CustomerBanner{Kind: "error", ChannelID: ch.ID,
			Text: l.T("app.expired_banner", "Name", i18n.Isolate(ch.Name), "Brand", h.cfg.Brand)}, true
	}
	if !ch.HasDays || !ch.Phase.Live() || ch.ActiveTill.Sub(now) > custExpiryWarning {
		return views.CustomerBanner{}, false
	}
	when := l.T("app.within_a_day")
	if ch.DaysLeft >= 1 {
		when = l.N("app.in_days", ch.DaysLeft)
	}
	next := l.T("app.ask_days", "Brand", h.cfg.Brand)
	if d.AutoMode && d.HasPlan {
		if d.Balance > 0 {
			next = l.N("app.auto_days", d.Balance)
		} else {
			next = l.T("app.no_balance", "Brand", h.cfg.Brand)
		}
	}
	return views.CustomerBanner{Kind: "warning", ChannelID: ch.ID, Text: l.T("app.expires_banner",
		"Name", i18n.Isolate(ch.Name), "When", when, "Date", l.Date(*ch.ActiveTill), "Next", next)}, true
}

func (h *Handler) showCustomerDashboard(c echo.Context) error {
	d, err := h.custDashboard(c.Request().Context(), currentUser(c))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.CustomerDashboardPage(h.custPage(c, loc(c).T("app.title")), d))
}

// createCustomerChannel adds a channel for the signed-in customer, through
// the same workflow as POST /api/channels (plan limit, pending row, lost
// answers). On success the customer goes on to link their phone.
func (h *Handler) createCustomerChannel(c echo.Context) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	form := parseChannelForm(c)
	ch, err := h.svc.CreateChannel(ctx, actor(c), form.input(u.ID))
	var fe provision.FieldErrors
	switch {
	case err == nil:
		h.setFlash(c, "success", loc(c).T("app.created", "Name", i18n.Isolate(ch.Name)))
		return h.custRedirect(c, connectPath(ch.ID, ""))
	case errors.As(err, &fe):
		d, derr := h.custDashboard(ctx, u)
		if derr != nil {
			return derr
		}
		d.Form = form.CreateChannelForm
		d.Form.Errors = fe
		p := h.custPage(c, loc(c).T("app.title"))
		p.Flash = &views.Flash{Kind: "error", Text: loc(c).T("app.not_added")}
		return h.render(c, http.StatusUnprocessableEntity, views.CustomerDashboardPage(p, d))
	case errors.Is(err, provision.ErrOutcomeUnknown):
		h.setFlash(c, "warning", loc(c).T("app.still_preparing"))
	default:
		msg, ok := h.custCreateError(loc(c), err)
		if !ok {
			return err
		}
		h.setFlash(c, "error", msg)
	}
	return h.custRedirect(c, "/app")
}

// custCreateError says why a channel was not created, in the
// customer's words (never an upstream text); ok is false for errors that
// are ours (500).
func (h *Handler) custCreateError(l *i18n.Localizer, err error) (string, bool) {
	_, code, msg, ok := domainErrorIn(l, err)
	if !ok {
		return "", false
	}
	switch code {
	case "plan_limit":
		return l.T("app.plan_limit"), true
	case "no_active_plan":
		return l.T("app.no_active_plan", "Brand", h.cfg.Brand), true
	case "rate_limited", provision.CodeCreateBudget:
		// domainError's words (handlers/domain_errors.go, not this page's).
		return upperFirst(msg) + ".", true
	case "unavailable":
		return l.T("app.unavailable"), true
	case "not_found", "customer_disabled", "not_customer":
		return l.T("app.cannot_add", "Brand", h.cfg.Brand), true
	}
	return l.T("app.not_set_up"), true
}

// custRedirect answers a form post: 303 to a page, or for HTMX a full
// navigation there (HX-Redirect), when the page is not the one the form
// is on.
func (h *Handler) custRedirect(c echo.Context, to string) error {
	if err := h.saveSession(c); err != nil {
		return err
	}
	if fromHTMX(c) && to != "/app" {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusOK)
	}
	return redirect(c, to)
}

// custOwnedChannel loads the channel of the path if it is the signed-in
// customer's; any other (another customer's, a malformed id, a deleted
// channel unless allowGone) is 404 — the same answer whether or not it
// exists.
func (h *Handler) custOwnedChannel(c echo.Context, allowGone bool) (*models.Channel, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	ch, err := h.store.ChannelByID(c.Request().Context(), id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return nil, echo.NewHTTPError(http.StatusNotFound)
	case err != nil:
		return nil, err
	}
	u := currentUser(c)
	if u == nil || ch.UserID != u.ID || (!allowGone && provision.IsGone(ch)) {
		return nil, echo.NewHTTPError(http.StatusNotFound)
	}
	return ch, nil
}

func (h *Handler) showCustomerDeletePage(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	v := h.svc.View(ch)
	l := loc(c)
	d := views.CustomerDelete{ID: ch.ID, Name: ch.Name, BalanceAfter: l.N("common.days", currentUser(c).DayBalance+v.UnusedDays), CanDelete: v.Can.Delete}
	if v.UnusedDays > 0 {
		d.Unused = l.N("common.days", v.UnusedDays)
	}
	return h.render(c, http.StatusOK, views.CustomerDeletePage(h.custPage(c, l.T("app.delete_title", "Name", i18n.Isolate(ch.Name))), d))
}

func (h *Handler) deleteCustomerChannel(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	days, err := h.svc.Delete(c.Request().Context(), actor(c), ch.ID)
	l, name := loc(c), i18n.Isolate(ch.Name)
	switch {
	case err == nil && days > 0:
		h.setFlash(c, "success", l.N("app.deleted_refund", days, "Name", name))
	case err == nil:
		h.setFlash(c, "success", l.T("app.deleted_no_refund", "Name", name))
	case errors.Is(err, models.ErrChannelBusy):
		h.setFlash(c, "info", l.T("app.delete_busy", "Name", name))
	case errors.Is(err, provision.ErrOutcomeUnknown):
		h.setFlash(c, "warning", l.T("app.delete_unconfirmed", "Name", name))
	case errors.Is(err, models.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	default:
		if _, _, _, ok := domainErrorIn(l, err); !ok {
			return err
		}
		h.setFlash(c, "error", l.T("app.delete_failed", "Name", name))
	}
	return h.custRedirect(c, "/app")
}
