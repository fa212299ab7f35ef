package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

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
	return h.renderUsers(c, http.StatusOK, h.usersPage(c, "Customers"), views.NewUserForm{Role: "customer"})
}

func (h *Handler) renderUsers(c echo.Context, status int, p views.Page, form views.NewUserForm) error {
	ctx := c.Request().Context()
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
		Pager:    buildPager(total, usersPerPage, page, func(n int) string { return usersListHref(fv, n) }),
		Form:     form,
	}
	for _, pl := range plans {
		label := pl.Name
		if !pl.Active {
			label += " (retired)"
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
			row.Channels = fmt.Sprintf("%d of %d", r.LiveChannels, r.MaxChannels)
		case r.LiveChannels > 0:
			row.Channels = fmt.Sprintf("%d (no plan)", r.LiveChannels)
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
		p := h.usersPage(c, "Customers")
		p.Flash = &views.Flash{Kind: "error", Text: "No account was created: correct the fields marked below."}
		return h.renderUsers(c, http.StatusUnprocessableEntity, p, form.NewUserForm)
	}
	if err != nil {
		return err
	}
	what := "Customer"
	if u.IsAdmin() {
		what = "Admin"
	}
	if form.Password == "" {
		h.setFlash(c, "success", what+" "+u.Email+" created: an invitation to choose a password is on its way (see the Outbox).")
	} else {
		h.setFlash(c, "success", what+" "+u.Email+" created.")
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
	kind, text := "success", ""
	switch {
	case !form.valid():
		kind, text = "error", "Choose auto or manual."
	case u.Role != models.RoleCustomer:
		kind, text = "error", "Only customers have an allocation mode."
	default:
		if err := h.store.SetAllocationMode(ctx, actor(c), u.ID, mode); err != nil {
			if kind, text, err = problemText(err); err != nil {
				return err
			}
		} else if mode == models.AllocationAuto {
			text = u.Email + " is on automatic allocation now: their channels get days from the balance by themselves."
		} else {
			text = u.Email + " is on manual allocation now: nothing is allocated until you extend a channel."
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

var ledgerKinds = map[models.LedgerKind]string{
	models.LedgerPlanCredit:  "Plan credit",
	models.LedgerAdminCredit: "Credited by an admin",
	models.LedgerAllocation:  "Given to a channel",
	models.LedgerRefund:      "Returned by a deleted channel",
	models.LedgerCorrection:  "Given back (not allocated)",
}

// userPageView gathers what the user page shows.
func (h *Handler) userPageView(ctx context.Context, me *models.User, u *models.User) (views.UserPageView, error) {
	v := views.UserPageView{
		ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), IsCustomer: u.Role == models.RoleCustomer,
		Disabled: u.Disabled, IsSelf: me != nil && me.ID == u.ID, Created: formatTime(&u.CreatedAt),
		Toggle: modeToggle(u, userPath(u.ID)), Balance: u.DayBalance, BalanceDays: dayCount(u.DayBalance),
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
			PlanSummary: fmt.Sprintf("%s × %s every %s", countOf(sub.Plan.DaysPerPeriod, "day", "days"),
				countOf(sub.Plan.MaxChannels, "channel", "channels"), countOf(sub.Plan.PeriodDays, "day", "days")),
			PeriodStart: formatTime(&sub.CurrentPeriodStart), PeriodEnd: formatTime(&sub.CurrentPeriodEnd), Credit: dayCount(sub.Plan.PeriodCredit())}
		switch sub.Status {
		case models.SubActive:
			v.Sub.Status = views.Badge{Text: "Active", Tone: "ok"}
		case models.SubCancelled:
			v.Sub.Status = views.Badge{Text: "cancelled", Tone: "muted"}
		default:
			v.Sub.Status = views.Badge{Text: "expired", Tone: "muted"}
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
			Label: fmt.Sprintf("%s — %s, %s per %d-day period (+%s now)", pl.Name, countOf(pl.MaxChannels, "channel", "channels"),
				countOf(pl.DaysPerPeriod, "day", "days"), pl.PeriodDays, countOf(pl.PeriodCredit(), "day", "days"))})
	}
	live, err := h.store.CountLiveChannels(ctx, u.ID)
	if err != nil {
		return v, err
	}
	if v.Sub.Active {
		v.LiveChannels = fmt.Sprintf("%d of %d in use", live, sub.Plan.MaxChannels)
	} else {
		v.LiveChannels = fmt.Sprintf("%d live, no plan", live)
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
			Linked: ch.Linked, ActiveTill: formatTime(ch.ActiveTill), DaysLeft: timeLeft(ch.ActiveTill, now),
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
		row := views.LedgerRow{When: formatTime(&e.CreatedAt), Kind: ledgerKinds[e.Kind], Comment: e.Comment, Actor: e.Actor,
			Credit: e.Delta > 0, Delta: signedDelta(e.Delta)}
		if row.Kind == "" {
			row.Kind = string(e.Kind)
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
	p := h.usersPage(c, title)
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
