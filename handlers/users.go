package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

const (
	usersPerPage = 25
	ledgerOnPage = 50
)

// backToUser saves the flash and sends the browser to the user's page.
func (h *Handler) backToUser(c echo.Context, id int64) error {
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, userPath(id))
}

func userPath(id int64) string { return "/admin/users/" + strconv.FormatInt(id, 10) }

// The customers list ------------------------------------------------------

func (h *Handler) usersPage(c echo.Context, title string) views.Page {
	p := h.page(c, title)
	p.Active = "users"
	return p
}

func (h *Handler) showUsersPage(c echo.Context) error {
	return h.renderUsers(c, http.StatusOK, h.usersPage(c, loc(c).T("users.title")), views.NewUserForm{Role: "customer"})
}

func (h *Handler) renderUsers(c echo.Context, status int, p views.Page, form views.NewUserForm) error {
	ctx := c.Request().Context()
	lz := loc(c)
	f, fv := userListFilter(c)
	page := listPageNumber(c)
	f.Limit, f.Offset = usersPerPage, (page-1)*usersPerPage
	f.CountUpTo = listCountUpTo(f.Offset)
	rows, total, err := h.store.ListUsersPage(ctx, f)
	if err != nil {
		return err
	}
	// Past the end (the list shrank): show the last page. The count is
	// exact here, as CountUpTo lies past the offset.
	if last := pageCount(total.N, usersPerPage); len(rows) == 0 && page > 1 && last >= 1 && !total.More {
		page = last
		f.Offset = (page - 1) * usersPerPage
		f.CountUpTo = listCountUpTo(f.Offset)
		if rows, total, err = h.store.ListUsersPage(ctx, f); err != nil {
			return err
		}
	}
	plans, err := h.store.PlanOptions(ctx)
	if err != nil {
		return err
	}
	v := views.UsersView{
		Filter:   fv,
		Filtered: fv.Q != "" || fv.Plan != "" || fv.Mode != "" || fv.Status != "" || fv.Role != "customer",
		Pager:    listPager(c, total, usersPerPage, page, func(n int) string { return usersListHref(fv, n) }),
		Form:     form,
	}
	for _, pl := range plans {
		label := i18n.Isolate(pl.Name) // an <option> holds text only: no <bdi>
		if !pl.Active {
			label = lz.T("users.plan_retired", "Name", label)
		}
		v.PlanOptions = append(v.PlanOptions, views.SelectOption{Value: strconv.FormatInt(pl.ID, 10), Label: label})
	}
	back := usersListHref(fv, page)
	for _, r := range rows {
		row := views.UserListRow{ID: r.ID, Email: r.Email, Name: r.Name, IsCustomer: r.Role == models.RoleCustomer,
			Plan: r.PlanName, Balance: r.DayBalance, Disabled: r.Disabled,
			Toggle: views.ModeToggle{UserID: r.ID, Email: r.Email, Auto: r.AllocationMode == models.AllocationAuto, Back: back}}
		switch {
		case !row.IsCustomer:
			row.Channels = "—"
		case r.PlanID != nil:
			row.Channels = lz.T("users.n_of_m", "N", lz.Number(r.LiveChannels), "M", lz.Number(r.MaxChannels))
		case r.LiveChannels > 0:
			row.Channels = lz.T("users.n_no_plan", "N", lz.Number(r.LiveChannels))
		default:
			row.Channels = "—"
		}
		v.Rows = append(v.Rows, row)
	}
	return h.render(c, status, views.UsersPage(p, v))
}

func (h *Handler) addUser(c echo.Context) error {
	form := parseNewUserForm(c)
	var u *models.User
	var err error
	if form.Password == "" { // no password: an invitation (provision/invite.go)
		u, err = h.svc.InviteUser(c.Request().Context(), actor(c), form.input(), requestOrigin(c))
	} else {
		u, err = h.svc.CreateUser(c.Request().Context(), actor(c), form.input())
	}
	var fe provision.FieldErrors
	if errors.As(err, &fe) {
		form.Errors = fe
		p := h.usersPage(c, loc(c).T("users.title"))
		p.Flash = &views.Flash{Kind: "error", Text: loc(c).T("users.not_created")}
		return h.renderUsers(c, http.StatusUnprocessableEntity, p, form.NewUserForm)
	}
	if err != nil {
		return err
	}
	lz, email := loc(c), i18n.Isolate(u.Email)
	switch {
	case u.IsAdmin() && form.Password == "":
		h.setFlash(c, "success", lz.T("users.created_admin_invited", "Email", email))
	case u.IsAdmin():
		h.setFlash(c, "success", lz.T("users.created_admin", "Email", email))
	case form.Password == "":
		h.setFlash(c, "success", lz.T("users.created_invited", "Email", email))
	default:
		h.setFlash(c, "success", lz.T("users.created", "Email", email))
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	if fromHTMX(c) {
		// The new page is another page: have HTMX load it whole.
		c.Response().Header().Set("HX-Redirect", userPath(u.ID))
		return c.NoContent(http.StatusOK)
	}
	return redirect(c, userPath(u.ID))
}

// The auto/manual toggle ------------------------------------------------

func modeToggle(u *models.User, back string) views.ModeToggle {
	return views.ModeToggle{UserID: u.ID, Email: u.Email, Auto: u.AllocationMode == models.AllocationAuto, Back: back}
}

func (h *Handler) setUserMode(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	form := parseModeForm(c, u.ID)
	back, mode := form.Back, form.Mode
	lz := loc(c)
	kind, text := "success", ""
	switch {
	case !form.valid():
		kind, text = "error", lz.T("users.mode_choose")
	case u.Role != models.RoleCustomer:
		kind, text = "error", lz.T("users.mode_customers_only")
	default:
		if err := h.store.SetAllocationMode(ctx, actor(c), u.ID, mode); err != nil {
			if kind, text, err = requestProblem(c, err); err != nil {
				return err
			}
		} else if mode == models.AllocationAuto {
			text = lz.T("users.mode_auto_now", "Email", i18n.Isolate(u.Email))
		} else {
			text = lz.T("users.mode_manual_now", "Email", i18n.Isolate(u.Email))
		}
	}
	if fromHTMX(c) {
		if u, err = h.store.UserByID(ctx, u.ID); err != nil {
			return err
		}
		status := http.StatusOK
		if kind == "error" {
			status = http.StatusUnprocessableEntity
		}
		return h.render(c, status, views.ModeToggleSwap(h.csrfToken(c), modeToggle(u, back), &views.Flash{Kind: kind, Text: text}))
	}
	h.setFlash(c, kind, text)
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, back)
}

// The user page ---------------------------------------------------------

// userOfPath loads the user named by :id; 404 if there is none.
func (h *Handler) userOfPath(c echo.Context) (*models.User, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	u, err := h.store.UserByID(c.Request().Context(), id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound)
	}
	return u, err
}

// channelOfPath loads the user of :id and their channel :cid; 404 unless
// the channel is that user's.
func (h *Handler) channelOfPath(c echo.Context) (*models.User, *models.Channel, error) {
	u, err := h.userOfPath(c)
	if err != nil {
		return nil, nil, err
	}
	cid, err := idParam(c, "cid")
	if err != nil {
		return nil, nil, err
	}
	ch, err := h.store.ChannelByID(c.Request().Context(), cid)
	if errors.Is(err, models.ErrNotFound) || err == nil && ch.UserID != u.ID {
		return nil, nil, echo.NewHTTPError(http.StatusNotFound)
	}
	return u, ch, err
}

// ledgerKinds are the catalog ids of the ledger's kinds of day moves.
var ledgerKinds = map[models.LedgerKind]string{
	models.LedgerPlanCredit:  "users.ledger.plan_credit",
	models.LedgerAdminCredit: "users.ledger.admin_credit",
	models.LedgerAllocation:  "users.ledger.allocation",
	models.LedgerRefund:      "users.ledger.refund",
	models.LedgerCorrection:  "users.ledger.correction",
}

// planSummary is a plan in a line: "30 days × 3 channels every 30 days".
func planSummary(lz *i18n.Localizer, pl *models.Plan) string {
	return lz.T("users.plan_summary", "Days", lz.N("common.days", pl.DaysPerPeriod),
		"Channels", lz.N("users.channels_count", pl.MaxChannels), "Period", lz.N("common.days", pl.PeriodDays))
}

// userPageView gathers what the user page shows, in the words of ctx's
// language.
func (h *Handler) userPageView(ctx context.Context, me *models.User, u *models.User) (views.UserPageView, error) {
	lz := i18n.From(ctx)
	v := views.UserPageView{
		ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), IsCustomer: u.Role == models.RoleCustomer,
		Disabled: u.Disabled, IsSelf: me != nil && me.ID == u.ID, Created: lz.DateTime(u.CreatedAt),
		Toggle: modeToggle(u, userPath(u.ID)), Balance: u.DayBalance, BalanceDays: lz.N("common.days", u.DayBalance),
		Language: views.LanguageForm{Value: u.Language},
	}
	if v.Name == v.Email {
		v.Name = "" // shown once, as the heading
	}
	if !v.IsCustomer {
		return v, nil
	}
	sub, err := h.store.LatestSubscription(ctx, u.ID)
	switch {
	case errors.Is(err, models.ErrNotFound):
	case err != nil:
		return v, err
	default:
		v.Sub = views.SubscriptionView{Exists: true, Active: sub.Status == models.SubActive, PlanName: sub.Plan.Name,
			PlanSummary: planSummary(lz, &sub.Plan),
			PeriodStart: lz.DateTime(sub.CurrentPeriodStart), PeriodEnd: lz.DateTime(sub.CurrentPeriodEnd), Credit: lz.N("common.days", sub.Plan.PeriodCredit())}
		switch sub.Status {
		case models.SubActive:
			v.Sub.Status = views.Badge{Text: lz.T("users.active"), Tone: "ok"}
		case models.SubCancelled:
			v.Sub.Status = views.Badge{Text: lz.T("users.sub_cancelled"), Tone: "muted"}
		default:
			v.Sub.Status = views.Badge{Text: lz.T("users.sub_expired"), Tone: "muted"}
		}
	}
	plans, err := h.store.ListPlans(ctx)
	if err != nil {
		return v, err
	}
	for _, pl := range plans {
		if !pl.Active || v.Sub.Active && sub.PlanID == pl.ID {
			continue
		}
		v.PlanOptions = append(v.PlanOptions, views.SelectOption{Value: strconv.FormatInt(pl.ID, 10),
			Label: lz.T("users.plan_option", "Name", i18n.Isolate(pl.Name), "Channels", lz.N("users.channels_count", pl.MaxChannels),
				"Days", lz.N("common.days", pl.DaysPerPeriod), "Period", lz.Number(pl.PeriodDays), "Credit", lz.N("common.days", pl.PeriodCredit()))})
	}
	live, err := h.store.CountLiveChannels(ctx, u.ID)
	if err != nil {
		return v, err
	}
	if v.Sub.Active {
		v.LiveChannels = lz.T("users.in_use", "N", lz.Number(live), "M", lz.Number(sub.Plan.MaxChannels))
	} else {
		v.LiveChannels = lz.T("users.live_no_plan", "N", lz.Number(live))
	}
	chans, err := h.store.ChannelsByUser(ctx, u.ID)
	if err != nil {
		return v, err
	}
	now := time.Now()
	for i := range chans {
		ch := &chans[i]
		cv := provision.ViewAt(ch, now)
		v.Channels = append(v.Channels, views.UserChannel{ID: ch.ID, Name: ch.Name, Phone: ch.Phone, State: badgeOf(cv),
			Linked: ch.Linked, ActiveTill: dateTimeOf(lz, ch.ActiveTill), DaysLeft: daysLeftWords(lz, ch.ActiveTill, now),
			DaysAllocated: ch.DaysAllocated, CanExtend: cv.Can.Extend, CanDelete: cv.Can.Delete,
			CanRestart: cv.Can.Restart, CanStop: cv.Can.Stop, CanStart: cv.Can.Start, CanTestMessage: cv.Can.TestMessage})
	}
	entries, err := h.store.Ledger(ctx, u.ID, ledgerOnPage, 0)
	if err != nil {
		return v, err
	}
	names, err := h.store.ChannelNames(ctx, u.ID)
	if err != nil {
		return v, err
	}
	for _, e := range entries {
		row := views.LedgerRow{When: lz.DateTime(e.CreatedAt), Kind: string(e.Kind), Comment: e.Comment, Actor: e.Actor,
			Credit: e.Delta > 0, Delta: signedDaysIn(lz, e.Delta)}
		if id, ok := ledgerKinds[e.Kind]; ok {
			row.Kind = lz.T(id)
		}
		if e.ChannelID != nil {
			row.Channel = names[*e.ChannelID]
			if row.Channel == "" {
				row.Channel = fmt.Sprintf("#%d", *e.ChannelID)
			}
		}
		v.Ledger = append(v.Ledger, row)
	}
	return v, nil
}

// renderUserPage shows the user page; edit may fill in a refused form.
func (h *Handler) renderUserPage(c echo.Context, status int, u *models.User, flash *views.Flash, edit func(*views.UserPageView)) error {
	v, err := h.userPageView(c.Request().Context(), currentUser(c), u)
	if err != nil {
		return err
	}
	v.Invited = u.PasswordHash == "" && !u.Disabled // set-password link not used yet
	if v.Mails, err = h.mailPrefsView(c.Request().Context(), u, userPath(u.ID)+"/mails", false); err != nil {
		return err
	}
	if edit != nil {
		edit(&v)
	}
	title := u.Name
	if title == "" {
		title = u.Email
	}
	p := h.usersPage(c, i18n.Isolate(title))
	if flash != nil {
		p.Flash = flash
	}
	return h.render(c, status, views.UserPage(p, v))
}

func (h *Handler) showUserPage(c echo.Context) error {
	u, err := h.userOfPath(c)
	if err != nil {
		return err
	}
	return h.renderUserPage(c, http.StatusOK, u, nil, nil)
}
