package handlers

import (
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

// List filters: the query of the channels' and the customers' lists (the
// GET forms above them), read into the store's filter and the form's
// state, and written back into the list's address. Unknown values count
// as "any"; a search is cut to maxSearchRunes characters.

// maxSearchRunes is the longest search a list takes, in characters.
const maxSearchRunes = 200

// cutRunes cuts s to at most n characters (never inside one).
func cutRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// The channel list -------------------------------------------------------

// channelListQuery is the channel list's filters and page, as in its URL.
type channelListQuery struct {
	Status   string // "", "all" or a channel status
	Expiring bool
	Owner    string // a user id, or a part of the owner's email
	Page     int
	// Extend is the channel whose extend form is open; it is not part of
	// the list's address (a form's answer shows the list with none open).
	Extend int64
}

// channelStatusOptions are the status filter's choices: every state of the
// lifecycle, between "All current" and "All" (their values; a page shows
// channelStatusChoices, in its reader's words).
var channelStatusOptions = func() []views.SelectOption {
	opts := []views.SelectOption{{Value: "", Label: "All current"}}
	for _, st := range provision.ChannelStates {
		label, _ := provision.StateLabel(st)
		opts = append(opts, views.SelectOption{Value: string(st), Label: label})
	}
	return append(opts, views.SelectOption{Value: "all", Label: "All, deleted included"})
}()

// channelStatusChoices are the status filter's choices in the reader's
// words.
func channelStatusChoices(lz *i18n.Localizer) []views.SelectOption {
	opts := make([]views.SelectOption, len(channelStatusOptions))
	for i, o := range channelStatusOptions {
		opts[i] = o
		switch o.Value {
		case "":
			opts[i].Label = lz.T("filters.all_current")
		case "all":
			opts[i].Label = lz.T("filters.all_deleted_included")
		default:
			opts[i].Label = lz.T(provision.LabelID(o.Label))
		}
	}
	return opts
}

// parseChannelListQuery reads the filters; unknown values are ignored.
func parseChannelListQuery(v url.Values) channelListQuery {
	q := channelListQuery{Owner: strings.TrimSpace(v.Get("owner")), Page: 1}
	for _, o := range channelStatusOptions {
		if v.Get("status") == o.Value {
			q.Status = o.Value
		}
	}
	switch v.Get("expiring") {
	case "1", "on", "true":
		q.Expiring = true
	}
	q.Owner = cutRunes(q.Owner, maxSearchRunes)
	if n, err := strconv.Atoi(v.Get("page")); err == nil && n > 1 {
		q.Page = n
	}
	if id, err := strconv.ParseInt(v.Get("extend"), 10, 64); err == nil && id > 0 {
		q.Extend = id
	}
	return q
}

// values is the query in URL form; the page only if withPage and not 1.
func (q channelListQuery) values(withPage bool) url.Values {
	v := url.Values{}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if q.Expiring {
		v.Set("expiring", "1")
	}
	if q.Owner != "" {
		v.Set("owner", q.Owner)
	}
	if withPage && q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	return v
}

// href is the list's address for this query.
func (q channelListQuery) href(path string, withPage bool) string {
	if e := q.values(withPage).Encode(); e != "" {
		return path + "?" + e
	}
	return path
}

// filter is the store filter of the query, without paging.
func (q channelListQuery) filter(now time.Time) models.AdminChannelFilter {
	var f models.AdminChannelFilter
	switch q.Status {
	case "":
	case "all":
		f.IncludeGone = true
	default:
		f.Status = models.ChannelStatus(q.Status)
	}
	if q.Expiring {
		until := now.Add(expiringWindow)
		f.ExpiringFrom, f.ExpiringUntil = &now, &until
	}
	if id, err := strconv.ParseInt(strings.TrimPrefix(q.Owner, "#"), 10, 64); err == nil && id > 0 {
		f.UserID = id
	} else {
		f.OwnerSearch = q.Owner
	}
	return f
}

// backQuery reads the list query a row form carries in "back". It is
// parsed and rebuilt, so it can only ever lead back to the channel list.
func backQuery(c echo.Context) channelListQuery {
	v, err := url.ParseQuery(c.FormValue("back"))
	if err != nil {
		v = url.Values{}
	}
	return parseChannelListQuery(v)
}

// The customers list -----------------------------------------------------

// userListFilter reads the list's query into the store's filter and the
// form's state; unknown values count as "any".
func userListFilter(c echo.Context) (models.UserFilter, views.UserFilter) {
	q := c.QueryParams()
	fv := views.UserFilter{Q: strings.TrimSpace(q.Get("q")), Plan: q.Get("plan"), Mode: q.Get("mode"), Status: q.Get("status"), Role: q.Get("role")}
	fv.Q = cutRunes(fv.Q, maxSearchRunes)
	f := models.UserFilter{Search: fv.Q}
	switch fv.Role {
	case "admin":
		f.Role = models.RoleAdmin
	case "all":
	default:
		fv.Role = "customer"
		f.Role = models.RoleCustomer
	}
	switch fv.Plan {
	case "":
	case "none":
		f.PlanID = -1
	default:
		if id, err := strconv.ParseInt(fv.Plan, 10, 64); err == nil && id > 0 {
			f.PlanID = id
		} else {
			fv.Plan = ""
		}
	}
	switch fv.Mode {
	case "auto", "manual":
		f.Mode = models.AllocationMode(fv.Mode)
	default:
		fv.Mode = ""
	}
	switch fv.Status {
	case "active", "disabled":
		f.Status = fv.Status
	default:
		fv.Status = ""
	}
	return f, fv
}

// usersListHref is the list's address with the filters of fv, on page n.
func usersListHref(fv views.UserFilter, n int) string {
	v := url.Values{}
	for k, val := range map[string]string{"q": fv.Q, "plan": fv.Plan, "mode": fv.Mode, "status": fv.Status} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if fv.Role != "customer" {
		v.Set("role", fv.Role)
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return "/admin/users"
	}
	return "/admin/users?" + v.Encode()
}

// usersBack is where the mode toggle returns to: the customers list (with
// its query, re-encoded) or this customer's page; anything else, this
// customer's page.
func usersBack(back string, id int64) string {
	u, err := url.Parse(safeNext(back))
	if err != nil || (u.Path != "/admin/users" && u.Path != userPath(id)) {
		return userPath(id)
	}
	if q := u.Query().Encode(); q != "" && u.Path == "/admin/users" {
		return u.Path + "?" + q
	}
	return u.Path
}
