package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// expiringWindow is how far ahead the dashboard and the channel list's
// "expiring" filter look.
const expiringWindow = 7 * 24 * time.Hour

// dashboardExpiringCountUpTo bounds the count of expiring channels the
// dashboard shows: past it, it says "more than 100".
const dashboardExpiringCountUpTo = 100

// adminHomeView gathers what the dashboard shows.
func (h *Handler) adminHomeView(ctx context.Context) (views.AdminHome, error) {
	var d views.AdminHome
	st, err := h.store.Settings(ctx)
	if err != nil {
		return d, err
	}
	d.TokenConfigured, d.VerifyStatus, d.Hint, d.ProjectID = st.Configured(), string(st.VerifyStatus), st.TokenHint, st.ProjectID
	d.ProjectStatus = string(st.ProjectStatus())
	d.TokenRefused = st.VerifyStatus == models.VerifyRefused
	d.ProjectUnknown = st.ProjectStatus() == models.ProjectUnknown

	// One read of the running totals instead of counting channels and
	// summing both ledgers.
	tot, err := h.store.DashboardTotals(ctx)
	if err != nil {
		return d, err
	}
	counts := tot.Channels
	for _, s := range provision.CountedStates() {
		d.StatusCounts = append(d.StatusCounts, views.StatusCount{Status: string(s), State: stateBadge(s), Count: counts[s],
			Href: "/admin/channels?status=" + string(s)})
		if provision.HoldsSlot(s) {
			d.LiveChannels += counts[s]
		}
	}

	days := tot.Days
	d.DaysCredited, d.DaysAllocated, d.DaysReturned, d.DaysCorrected = days.Credited, days.Allocated, days.Returned, days.Corrected
	d.DaysInBalances = days.Credited - days.Allocated + days.Returned + days.Corrected

	pb := tot.Partner
	d.PartnerBought, d.PartnerExtended, d.PartnerReturned, d.PartnerCorrections = pb.Bought, pb.Extended, pb.Returned, pb.Corrections
	d.PartnerEstimate, d.LowBalanceThreshold = balanceDays(pb.Estimate()), dayCount(st.LowBalanceThreshold)
	d.PartnerLow = pb.Estimate() < st.LowBalanceThreshold
	d.PartnerShortAt = formatTime(st.PartnerShortAt)
	d.PartnerForm = views.PartnerEntryForm{Kind: string(models.PartnerPurchase)}
	if d.PartnerEntries, err = h.latestPartnerEntries(ctx); err != nil {
		return d, err
	}

	now := time.Now().UTC()
	until := now.Add(expiringWindow)
	rows, total, err := h.store.ListAdminChannels(ctx, models.AdminChannelFilter{ExpiringFrom: &now, ExpiringUntil: &until,
		Limit: 10, CountUpTo: dashboardExpiringCountUpTo})
	if err != nil {
		return d, err
	}
	d.ExpiringTotal, d.ExpiringMore = total.N, total.More
	for _, r := range rows {
		d.Expiring = append(d.Expiring, views.ExpiringChannel{ID: r.ID, Name: r.Name, OwnerID: r.UserID, OwnerEmail: r.OwnerEmail,
			State: stateBadge(r.Status), ActiveTill: formatTime(r.ActiveTill), TillNote: timeLeft(r.ActiveTill, now)})
	}

	// The Attention list's size (handlers/attention.go).
	items, err := h.svc.Attention(ctx, h.failedJobs())
	if err != nil {
		return d, err
	}
	d.AttentionCount, d.AttentionWords = len(items), countOf(int64(len(items)), "item needs attention", "items need attention")

	evs, err := h.store.ListAudit(ctx, 10, 0)
	if err != nil {
		return d, err
	}
	for _, ev := range evs {
		d.Activity = append(d.Activity, views.ActivityItem{When: formatTime(&ev.CreatedAt), Actor: ev.ActorEmail,
			Action: ev.Action, Target: ev.Target, Detail: ev.Detail})
	}
	return d, nil
}

func (h *Handler) dashboardPage(c echo.Context) views.Page {
	p := h.page(c, "Dashboard")
	p.Active = "admin"
	return p
}

func (h *Handler) showAdminHome(c echo.Context) error {
	d, err := h.adminHomeView(c.Request().Context())
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.AdminHomePage(h.dashboardPage(c), d))
}

// syncNow runs Reconcile: every channel refreshed from WHAPI, unfinished
// changes settled, and the report flashed.
func (h *Handler) syncNow(c echo.Context) error {
	ctx := c.Request().Context()
	if err := h.svc.Configured(ctx); errors.Is(err, provision.ErrNotConfigured) {
		h.setFlash(c, "warning", "No partner token is saved, so there is nothing to sync. "+saveTokenFirst)
	} else if err != nil {
		return err
	} else {
		rep, err := h.svc.Reconcile(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		kind, text := syncReport(rep.Settled, rep.Synced, rep.Gone, rep.Orphans, rep.Errors)
		h.setFlash(c, kind, text)
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin")
}

// syncReport says what a sync did in plain words.
func syncReport(settled, synced, gone, orphans, errs int) (kind, text string) {
	parts := []string{countOf(int64(synced), "channel", "channels") + " refreshed"}
	if gone > 0 {
		parts = append(parts, fmt.Sprintf("%d no longer at WHAPI (marked deleted, unused days returned)", gone))
	}
	if settled > 0 {
		parts = append(parts, countOf(int64(settled), "unfinished change", "unfinished changes")+" settled")
	}
	if orphans > 0 {
		parts = append(parts, countOf(int64(orphans), "duplicate", "duplicates")+" removed at WHAPI")
	}
	text = "Synced with WHAPI: " + strings.Join(parts, ", ") + "."
	if errs > 0 {
		return "warning", text + fmt.Sprintf(" %d could not be checked because WHAPI did not answer; they are retried automatically.", errs)
	}
	return "success", text
}
