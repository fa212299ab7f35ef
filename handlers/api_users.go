package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
)

// apiUser is a user as the API shows it; its shape lives in provision,
// so that customer.created's data is the same.
type apiUser = provision.APIUser

func toAPIUser(u *models.User, sub *models.Subscription) apiUser { return provision.UserJSON(u, sub) }

// apiUserAnswer reads a user afresh with their active plan.
func (h *Handler) apiUserAnswer(ctx context.Context, id int64) (apiUser, error) {
	u, err := h.store.UserByID(ctx, id)
	if err != nil {
		return apiUser{}, err
	}
	sub, err := h.store.ActiveSubscription(ctx, id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		sub = nil
	case err != nil:
		return apiUser{}, err
	}
	return toAPIUser(u, sub), nil
}

func apiNoUser(c echo.Context) *APIError {
	return apiError(http.StatusNotFound, "not_found", loc(c).T("api.no_user"))
}

// apiUserOfPath loads the user named by :id.
func (h *Handler) apiUserOfPath(c echo.Context) (*models.User, error) {
	id, ok := apiPathID(c)
	if !ok {
		return nil, apiNoUser(c)
	}
	u, err := h.store.UserByID(c.Request().Context(), id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return nil, apiNoUser(c)
	case err != nil:
		return nil, err
	}
	return u, nil
}

// apiCreateUserBody is the body of POST /api/users.
type apiCreateUserBody struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// apiCreateUser creates an account; the role defaults to customer.
func (h *Handler) apiCreateUser(c echo.Context) error {
	var body apiCreateUserBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if body.Role == "" {
		body.Role = string(models.RoleCustomer)
	}
	in := models.NewUser{Email: body.Email, Name: body.Name, Password: body.Password, Role: models.Role(body.Role)}
	var u *models.User
	var err error
	if body.Password == "" { // no password: the account gets an invitation mail
		u, err = h.svc.InviteUser(c.Request().Context(), actor(c), in, requestOrigin(c))
	} else {
		u, err = h.svc.CreateUser(c.Request().Context(), actor(c), in)
	}
	if err != nil {
		return apiFail(c, err)
	}
	return c.JSON(http.StatusCreated, toAPIUser(u, nil))
}

// apiListUsers lists users by email, filtered by ?q= (part of the email or
// name), ?role=, ?mode=, ?status=active|disabled and ?plan_id=.
func (h *Handler) apiListUsers(c echo.Context) error {
	fields := map[string]string{}
	limit, offset := apiPagination(c, fields)
	f := models.UserFilter{Search: c.QueryParam("q"), Limit: limit, Offset: offset}
	switch r := models.Role(c.QueryParam("role")); r {
	case "", models.RoleAdmin, models.RoleCustomer:
		f.Role = r
	default:
		fields["role"] = loc(c).T("api.field.role")
	}
	switch m := models.AllocationMode(c.QueryParam("mode")); m {
	case "", models.AllocationAuto, models.AllocationManual:
		f.Mode = m
	default:
		fields["mode"] = loc(c).T("api.field.mode")
	}
	switch s := c.QueryParam("status"); s {
	case "", "active", "disabled":
		f.Status = s
	default:
		fields["status"] = loc(c).T("api.field.user_status")
	}
	f.PlanID = apiQueryID(c, "plan_id", fields)
	if utf8.RuneCountInString(f.Search) > maxSearchRunes {
		fields["q"] = loc(c).T("api.field.search_long")
	}
	if len(fields) > 0 {
		return apiInvalidInput(c, fields)
	}
	ctx := c.Request().Context()
	rows, total, err := h.store.ListUsersPage(ctx, f)
	if err != nil {
		return err
	}
	ids := make([]int64, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	subs, err := h.store.ActiveSubscriptionsByUsers(ctx, ids)
	if err != nil {
		return err
	}
	out := apiList[apiUser]{Items: make([]apiUser, 0, len(rows)), Total: total.N, Limit: limit, Offset: offset}
	for i := range rows {
		out.Items = append(out.Items, toAPIUser(&rows[i].User, subs[rows[i].ID]))
	}
	return c.JSON(http.StatusOK, out)
}

func (h *Handler) apiGetUser(c echo.Context) error {
	u, err := h.apiUserOfPath(c)
	if err != nil {
		return err
	}
	out, err := h.apiUserAnswer(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// apiPatchUserBody is the body of PATCH /api/users/:id: only these three
// fields; any other (role, day_balance, email…) is refused as unknown.
type apiPatchUserBody struct {
	AllocationMode *string `json:"allocation_mode"`
	Name           *string `json:"name"`
	Disabled       *bool   `json:"disabled"`
}

// apiCleanName checks a user's name as account creation does: one line,
// at most 100 characters (empty is allowed). problem is the catalog id of
// what is wrong, "" when nothing is.
func apiCleanName(in string) (clean, problem string) {
	t := strings.TrimSpace(in)
	switch {
	case !utf8.ValidString(t):
		return "", "api.field.name_invalid"
	case utf8.RuneCountInString(t) > 100:
		return "", "api.field.name_long"
	}
	for _, r := range t {
		if unicode.IsControl(r) {
			return "", "api.field.name_control"
		}
	}
	return t, ""
}

// apiPatchUser changes a user's allocation mode, name or disabled flag.
// Every field is checked before anything changes.
func (h *Handler) apiPatchUser(c echo.Context) error {
	u, err := h.apiUserOfPath(c)
	if err != nil {
		return err
	}
	var body apiPatchUserBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	fields := map[string]string{}
	var mode models.AllocationMode
	if body.AllocationMode != nil {
		mode = models.AllocationMode(*body.AllocationMode)
		switch {
		case mode != models.AllocationAuto && mode != models.AllocationManual:
			fields["allocation_mode"] = loc(c).T("api.field.mode")
		case u.Role != models.RoleCustomer:
			fields["allocation_mode"] = loc(c).T("api.field.mode_customers")
		}
	}
	var name string
	if body.Name != nil {
		var problem string
		if name, problem = apiCleanName(*body.Name); problem != "" {
			fields["name"] = loc(c).T(problem)
		}
	}
	if body.Disabled != nil && *body.Disabled && u.ID == currentUser(c).ID {
		fields["disabled"] = loc(c).T("api.field.disable_self")
	}
	if len(fields) > 0 {
		return apiInvalidInput(c, fields)
	}
	ctx, who := c.Request().Context(), actor(c)
	if body.Name != nil {
		if err := h.store.SetUserDisplayName(ctx, who, u.ID, name); err != nil {
			return apiFail(c, err)
		}
	}
	if body.AllocationMode != nil {
		if err := h.store.SetAllocationMode(ctx, who, u.ID, mode); err != nil {
			return apiFail(c, err)
		}
	}
	if body.Disabled != nil && *body.Disabled != u.Disabled {
		if err := h.store.SetDisabled(ctx, who, u.ID, *body.Disabled); err != nil {
			return apiFail(c, err)
		}
	}
	out, err := h.apiUserAnswer(ctx, u.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// apiSubscription is a subscription as the API shows it.
type apiSubscription struct {
	ID                 int64   `json:"id"`
	Plan               apiPlan `json:"plan"`
	Status             string  `json:"status"`
	CurrentPeriodStart string  `json:"current_period_start"`
	CurrentPeriodEnd   string  `json:"current_period_end"`
}

// apiSubscriptionBody is the body of POST /api/users/:id/subscription.
type apiSubscriptionBody struct {
	PlanID int64 `json:"plan_id"`
}

// apiActivateSubscription puts a customer on a plan (ending any other) and
// credits the period's days.
func (h *Handler) apiActivateSubscription(c echo.Context) error {
	u, err := h.apiUserOfPath(c)
	if err != nil {
		return err
	}
	var body apiSubscriptionBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if body.PlanID < 1 {
		return apiInvalidInput(c, map[string]string{"plan_id": loc(c).T("api.field.plan_required")})
	}
	if _, err := h.store.PlanByID(ctx, body.PlanID); errors.Is(err, models.ErrNotFound) {
		return apiInvalidInput(c, map[string]string{"plan_id": loc(c).T("api.field.no_such_plan")})
	} else if err != nil {
		return err
	}
	sub, err := h.svc.ActivatePlan(ctx, actor(c), u.ID, body.PlanID)
	if err != nil {
		return apiFail(c, err)
	}
	return c.JSON(http.StatusCreated, apiSubscription{ID: sub.ID, Plan: toAPIPlan(&sub.Plan, nil), Status: string(sub.Status),
		CurrentPeriodStart: apiTime(sub.CurrentPeriodStart), CurrentPeriodEnd: apiTime(sub.CurrentPeriodEnd)})
}

// apiDaysBody is the body of POST /api/users/:id/days.
type apiDaysBody struct {
	Days    int64  `json:"days"`
	Comment string `json:"comment"`
}

// apiCreditDays adds days to a customer's balance (in auto mode their
// channels that need days get them at once) and answers with the user.
func (h *Handler) apiCreditDays(c echo.Context) error {
	u, err := h.apiUserOfPath(c)
	if err != nil {
		return err
	}
	var body apiDaysBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.svc.CreditDays(ctx, actor(c), u.ID, body.Days, body.Comment); err != nil {
		return apiFail(c, err)
	}
	out, err := h.apiUserAnswer(ctx, u.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// apiLedgerRow is one move of a customer's days.
type apiLedgerRow struct {
	ID        int64  `json:"id"`
	Delta     int64  `json:"delta"`
	Kind      string `json:"kind"`
	Comment   string `json:"comment"`
	Actor     string `json:"actor"`
	ChannelID *int64 `json:"channel_id"`
	CreatedAt string `json:"created_at"`
}

// apiLedger lists a customer's ledger rows, newest first.
func (h *Handler) apiLedger(c echo.Context) error {
	u, err := h.apiUserOfPath(c)
	if err != nil {
		return err
	}
	fields := map[string]string{}
	limit, offset := apiPagination(c, fields)
	if len(fields) > 0 {
		return apiInvalidInput(c, fields)
	}
	ctx := c.Request().Context()
	rows, err := h.store.Ledger(ctx, u.ID, limit, offset)
	if err != nil {
		return err
	}
	total, err := h.store.CountLedgerEntries(ctx, u.ID)
	if err != nil {
		return err
	}
	out := apiList[apiLedgerRow]{Items: make([]apiLedgerRow, 0, len(rows)), Total: total, Limit: limit, Offset: offset}
	for _, r := range rows {
		out.Items = append(out.Items, apiLedgerRow{ID: r.ID, Delta: r.Delta, Kind: string(r.Kind), Comment: r.Comment,
			Actor: r.Actor, ChannelID: r.ChannelID, CreatedAt: apiTime(r.CreatedAt)})
	}
	return c.JSON(http.StatusOK, out)
}
