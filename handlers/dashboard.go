package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
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
	l := i18n.From(ctx)
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
	d.PartnerEstimate, d.LowBalanceThreshold = balanceDaysIn(l, pb.Estimate()), balanceDaysIn(l, st.LowBalanceThreshold)
	d.PartnerLow = pb.Estimate() < st.LowBalanceThreshold
	d.PartnerShortAt = dateTimeOf(l, st.PartnerShortAt)
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
			State: stateBadge(r.Status), ActiveTill: dateTimeOf(l, r.ActiveTill), TillNote: daysLeftWords(l, r.ActiveTill, now)})
	}

	// The Attention list's size (handlers/attention.go).
	items, err := h.svc.Attention(ctx, h.failedJobs())
	if err != nil {
		return d, err
	}
	d.AttentionCount, d.AttentionWords = len(items), l.N("home.attention_count", int64(len(items)))

	evs, err := h.store.ListAudit(ctx, 10, 0)
	if err != nil {
		return d, err
	}
	for _, ev := range evs {
		d.Activity = append(d.Activity, views.ActivityItem{When: dateTimeOf(l, &ev.CreatedAt), Actor: ev.ActorEmail,
			Action: auditActionWords(l, ev.Action), ActionKey: ev.Action, Target: ev.Target, Detail: ev.Detail})
	}
	if d.Plots, err = h.adminPlots(ctx, l, counts); err != nil {
		return d, err
	}
	return d, nil
}

// dayMonth is a short day for a plot's axis: "7 Sep".
func dayMonth(l *i18n.Localizer, t time.Time) string {
	return l.T("plots.day_month", "Day", l.Number(int64(t.Day())), "Month", l.T(fmt.Sprintf("date.month.m%02d", int(t.Month()))))
}

// plotTones are the colours of a plot's series, in order (app.css,
// plot-tone-*): each at least 3:1 against the card's white.
var plotTones = []string{"muted", "info", "accent", "bad", "warn", "violet"}

// adminPlots are the dashboard's three plots (views/plots.go), each from
// one grouped query (models/stats.go): the customers' days allocated and
// returned per week (the day ledger's allocation and correction rows, and
// its refund rows), the counted channels by state at each week's end
// (counts: today's, from the running totals), and the running channels'
// paid time ending on each of the next 30 days.
func (h *Handler) adminPlots(ctx context.Context, l *i18n.Localizer, counts map[models.ChannelStatus]int64) ([]views.Plot, error) {
	now := h.svc.Now()
	days, err := h.store.DaysByWeek(ctx, now, models.PlotWeeks)
	if err != nil {
		return nil, err
	}
	weeks, err := h.store.ChannelStatesByWeek(ctx, now, models.PlotWeeks, counts)
	if err != nil {
		return nil, err
	}
	ending, err := h.store.ExpiringDays(ctx, now, 30)
	if err != nil {
		return nil, err
	}
	n := models.PlotWeeks
	weekLabels, weekTicks := make([]string, n), make([]bool, n)
	for i, w := range days {
		weekLabels[i] = dayMonth(l, w.Start)
		weekTicks[i] = (n-1-i)%2 == 0 // every other week, this one included
	}

	alloc, ret := make([]int64, n), make([]int64, n)
	var allocSum, retSum int64
	for i, w := range days {
		alloc[i], ret[i] = w.Allocated, w.Returned
		allocSum += w.Allocated
		retSum += w.Returned
	}
	daysPlot := views.Plot{ID: "plot-days", Title: l.T("plots.days.title"),
		Desc:    l.T("plots.days.desc", "Allocated", l.Number(allocSum), "Returned", l.Number(retSum)),
		Caption: l.T("plots.days.caption"), XHead: l.T("plots.week"), Categories: weekLabels, Ticks: weekTicks,
		Series: []views.PlotSeries{{Name: l.T("plots.allocated"), Tone: "accent"}, {Name: l.T("plots.returned"), Tone: "info"}},
		Values: [][]int64{alloc, ret}}

	states := provision.CountedStates()
	statesPlot := views.Plot{ID: "plot-states", Title: l.T("plots.states.title"), Caption: l.T("plots.states.caption"),
		XHead: l.T("plots.week"), Categories: weekLabels, Ticks: weekTicks, Stacked: true}
	var nowCounted int64
	for i, st := range states {
		b := stateBadge(st)
		name := b.Text
		if b.Key != "" {
			name = l.T(b.Key)
		}
		statesPlot.Series = append(statesPlot.Series, views.PlotSeries{Name: name, Tone: plotTones[i%len(plotTones)]})
		vals := make([]int64, n)
		for w := range weeks {
			vals[w] = max(weeks[w].Counts[st], 0)
		}
		statesPlot.Values = append(statesPlot.Values, vals)
		nowCounted += vals[n-1]
	}
	statesPlot.Desc = l.T("plots.states.desc", "Now", l.Number(nowCounted))

	today := now.UTC().Truncate(24 * time.Hour)
	dayLabels, dayTicks := make([]string, len(ending)), make([]bool, len(ending))
	var endingSum int64
	for i, v := range ending {
		dayLabels[i] = dayMonth(l, today.AddDate(0, 0, i))
		dayTicks[i] = i%7 == 0
		endingSum += v
	}
	endingPlot := views.Plot{ID: "plot-expiring", Title: l.T("plots.expiring.title"),
		Desc:    l.T("plots.expiring.desc", "Total", l.Number(endingSum)),
		Caption: l.T("plots.expiring.caption"), XHead: l.T("plots.day"), Categories: dayLabels, Ticks: dayTicks,
		Series: []views.PlotSeries{{Name: l.T("plots.ending"), Tone: "warn"}}, Values: [][]int64{ending}}
	return []views.Plot{daysPlot, statesPlot, endingPlot}, nil
}

func (h *Handler) dashboardPage(c echo.Context) views.Page {
	p := h.page(c, loc(c).T("home.title"))
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
		h.setFlash(c, "warning", loc(c).T("home.sync_no_token"))
	} else if err != nil {
		return err
	} else {
		rep, err := h.svc.Reconcile(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		kind, text := syncReport(loc(c), rep.Settled, rep.Synced, rep.Gone, rep.Orphans, rep.Errors)
		h.setFlash(c, kind, text)
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin")
}

// syncReport says what a sync did in plain words.
func syncReport(l *i18n.Localizer, settled, synced, gone, orphans, errs int) (kind, text string) {
	parts := []string{l.N("home.sync_refreshed", int64(synced))}
	if gone > 0 {
		parts = append(parts, l.N("home.sync_gone", int64(gone)))
	}
	if settled > 0 {
		parts = append(parts, l.N("home.sync_settled", int64(settled)))
	}
	if orphans > 0 {
		parts = append(parts, l.N("home.sync_orphans", int64(orphans)))
	}
	text = l.T("home.sync_done", "Parts", strings.Join(parts, l.T("home.sync_sep")))
	if errs > 0 {
		return "warning", text + " " + l.N("home.sync_errors", int64(errs))
	}
	return "success", text
}
