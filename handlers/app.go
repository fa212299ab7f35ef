package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

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
func custDaysLeft(v provision.ChannelView, now time.Time) (left, until string) {
	switch {
	case !v.HasDays:
		return "No days yet", ""
	case !v.ActiveTill.After(now):
		return "Expired on " + custDate(*v.ActiveTill), ""
	case v.DaysLeft < 1:
		return "Less than a day left", "until " + custDate(*v.ActiveTill)
	}
	return fmt.Sprintf("%s left", countOf(v.DaysLeft, "day", "days")), "until " + custDate(*v.ActiveTill)
}

// custDashboard gathers what /app shows u.
func (h *Handler) custDashboard(ctx context.Context, u *models.User) (views.CustomerDashboard, error) {
	now := h.svc.Now()
	d := views.CustomerDashboard{Balance: u.DayBalance, BalanceDays: dayCount(u.DayBalance), AutoMode: u.AllocationMode == models.AllocationAuto}
	sub, err := h.store.ActiveSubscription(ctx, u.ID)
	switch {
	case err == nil:
		d.HasPlan = true
		d.PlanName = sub.Plan.Name
		d.MaxChannels = sub.Plan.MaxChannels
		if !sub.CurrentPeriodEnd.IsZero() {
			d.PeriodEnd = custDate(sub.CurrentPeriodEnd)
		}
	case !errors.Is(err, models.ErrNotFound):
		return d, err
	}
	if d.LiveChannels, err = h.store.CountLiveChannels(ctx, u.ID); err != nil {
		return d, err
	}
	d.Usage = fmt.Sprintf("%d of %s", d.LiveChannels, countOf(d.MaxChannels, "channel", "channels"))
	chans, err := h.store.ChannelsByUser(ctx, u.ID)
	if err != nil {
		return d, err
	}
	// The status history (handlers/attention.go, provision/history.go).
	since, err := h.svc.LinkSinces(ctx, chans)
	if err != nil {
		return d, err
	}
	for i := range chans {
		v := provision.ViewAt(&chans[i], now)
		cv := views.CustomerChannel{ID: v.ID, Name: v.Name, Phone: v.Phone, State: phaseBadge(v.Phase),
			Connected: v.Phase == provision.PhaseConnected, Trial: v.Trial, CanConnect: v.Can.Connect, CanDelete: v.Can.Delete}
		if cv.Connected {
			cv.LinkedPhone = custPhone(v.LinkedPhone)
		}
		cv.DaysLeft, cv.Until = custDaysLeft(v, now)
		if v.Phase.Live() || v.Phase == provision.PhaseStopped {
			if cv.LinkLine = linkLine(since[v.ID], now); cv.LinkLine != "" {
				up, err := h.svc.Uptime(ctx, &chans[i])
				if err != nil {
					return d, err
				}
				cv.Uptime = uptimeLine(up)
			}
		}
		d.Channels = append(d.Channels, cv)
		if b, ok := h.custExpiryBanner(v, now, d); ok {
			d.Banners = append(d.Banners, b)
		}
	}
	down, err := h.svc.Disconnected(ctx, u.ID)
	if err != nil {
		return d, err
	}
	for _, n := range down {
		d.Disconnects = append(d.Disconnects, views.DisconnectBanner{ChannelID: n.ChannelID, Name: n.Name, Since: formatTime(&n.Since)})
	}
	if d.HasPlan && d.LiveChannels >= d.MaxChannels {
		d.CreateBlocked = fmt.Sprintf(plural(d.MaxChannels, "The %d channel of your plan is in use.", "All %d channels of your plan are in use.")+
			" Delete a channel to add another, or ask %s for a bigger plan.", d.MaxChannels, h.cfg.Brand)
	}
	return d, nil
}

// custExpiryBanner warns about a channel that expires within 7 days or has
// expired, and says what happens next.
func (h *Handler) custExpiryBanner(ch provision.ChannelView, now time.Time, d views.CustomerDashboard) (views.CustomerBanner, bool) {
	if ch.Phase == provision.PhaseExpired {
		return views.CustomerBanner{Kind: "error", ChannelID: ch.ID, Text: fmt.Sprintf(
			"“%s” has expired: it no longer sends or receives messages. Ask %s to add days to it.", ch.Name, h.cfg.Brand)}, true
	}
	if !ch.HasDays || !ch.Phase.Live() || ch.ActiveTill.Sub(now) > custExpiryWarning {
		return views.CustomerBanner{}, false
	}
	when := "within a day"
	if ch.DaysLeft >= 1 {
		when = "in " + countOf(ch.DaysLeft, "day", "days")
	}
	next := fmt.Sprintf("Ask %s to add days before then.", h.cfg.Brand)
	if d.AutoMode && d.HasPlan {
		if d.Balance > 0 {
			next = fmt.Sprintf("Days are added from your balance automatically (%s in it now).", countOf(d.Balance, "day", "days"))
		} else {
			next = fmt.Sprintf("Your balance has no days left to add: ask %s for more.", h.cfg.Brand)
		}
	}
	return views.CustomerBanner{Kind: "warning", ChannelID: ch.ID, Text: fmt.Sprintf(
		"“%s” expires %s, on %s. %s", ch.Name, when, custDate(*ch.ActiveTill), next)}, true
}

func (h *Handler) showCustomerDashboard(c echo.Context) error {
	d, err := h.custDashboard(c.Request().Context(), currentUser(c))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.CustomerDashboardPage(h.custPage(c, "My channels"), d))
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
		h.setFlash(c, "success", fmt.Sprintf("“%s” is ready. Link your phone to start using it.", ch.Name))
		return h.custRedirect(c, connectPath(ch.ID, ""))
	case errors.As(err, &fe):
		d, derr := h.custDashboard(ctx, u)
		if derr != nil {
			return derr
		}
		d.Form = form.CreateChannelForm
		d.Form.Errors = fe
		p := h.custPage(c, "My channels")
		p.Flash = &views.Flash{Kind: "error", Text: "The channel was not added: correct the fields marked below."}
		return h.render(c, http.StatusUnprocessableEntity, views.CustomerDashboardPage(p, d))
	case errors.Is(err, provision.ErrOutcomeUnknown):
		h.setFlash(c, "warning", "Your channel is still being set up: it shows as “Preparing” below. Look again in a minute; no day is lost either way.")
	default:
		msg, ok := h.custCreateError(err)
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
func (h *Handler) custCreateError(err error) (string, bool) {
	_, code, msg, ok := domainError(err)
	if !ok {
		return "", false
	}
	switch code {
	case "plan_limit":
		return "All channels of your plan are in use: delete a channel to add another.", true
	case "no_active_plan":
		return fmt.Sprintf("You have no active plan, so no channel can be added. Ask %s to activate one.", h.cfg.Brand), true
	case "rate_limited", provision.CodeCreateBudget:
		return upperFirst(msg) + ".", true
	case "unavailable":
		return "Adding channels is temporarily unavailable. Nothing was charged; please try again later.", true
	case "not_found", "customer_disabled", "not_customer":
		return "Your account cannot add channels. Sign in again, or contact " + h.cfg.Brand + ".", true
	}
	return "The channel could not be set up just now, and nothing was charged. Please try again in a few minutes.", true
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
	d := views.CustomerDelete{ID: ch.ID, Name: ch.Name, BalanceAfter: dayCount(currentUser(c).DayBalance + v.UnusedDays), CanDelete: v.Can.Delete}
	if v.UnusedDays > 0 {
		d.Unused = dayCount(v.UnusedDays)
	}
	return h.render(c, http.StatusOK, views.CustomerDeletePage(h.custPage(c, "Delete “"+ch.Name+"”"), d))
}

func (h *Handler) deleteCustomerChannel(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	days, err := h.svc.Delete(c.Request().Context(), actor(c), ch.ID)
	switch {
	case err == nil && days > 0:
		h.setFlash(c, "success", fmt.Sprintf("“%s” was deleted. %s returned to your balance.", ch.Name, countOf(days, "day", "days")))
	case err == nil:
		h.setFlash(c, "success", fmt.Sprintf("“%s” was deleted. It had no unused paid days left.", ch.Name))
	case errors.Is(err, models.ErrChannelBusy):
		h.setFlash(c, "info", fmt.Sprintf("“%s” is being set up or changed right now. Try again in a moment.", ch.Name))
	case errors.Is(err, provision.ErrOutcomeUnknown):
		h.setFlash(c, "warning", fmt.Sprintf("Deleting “%s” is not confirmed yet: it shows as “Being deleted” until it is. Its unused days come back to your balance then.", ch.Name))
	case errors.Is(err, models.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	default:
		if _, _, _, ok := domainError(err); !ok {
			return err
		}
		h.setFlash(c, "error", fmt.Sprintf("“%s” could not be deleted just now. Nothing was changed; please try again in a few minutes.", ch.Name))
	}
	return h.custRedirect(c, "/app")
}
