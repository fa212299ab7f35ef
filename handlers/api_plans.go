package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
)

// apiPlan is a plan as the API shows it. Subscribers (active subscriptions)
// is left out where the plan is part of a subscription.
type apiPlan struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	MaxChannels   int64  `json:"max_channels"`
	DaysPerPeriod int64  `json:"days_per_period"`
	PeriodDays    int64  `json:"period_days"`
	Active        bool   `json:"active"`
	Subscribers   *int64 `json:"subscribers,omitempty"`
}

func toAPIPlan(p *models.Plan, subscribers *int64) apiPlan {
	return apiPlan{ID: p.ID, Name: p.Name, MaxChannels: p.MaxChannels, DaysPerPeriod: p.DaysPerPeriod,
		PeriodDays: p.PeriodDays, Active: p.Active, Subscribers: subscribers}
}

// apiListPlans lists the plans, active ones first, by name, with their
// subscribers: a page of them (?limit=, default 50, and ?offset=, as every
// list of the API).
func (h *Handler) apiListPlans(c echo.Context) error {
	fields := map[string]string{}
	limit, offset := apiPagination(c, fields)
	if len(fields) > 0 {
		return apiInvalidInput(c, fields)
	}
	// Plans are few (an admin makes each by hand): they are read whole and
	// paged here, so the page and the total come from one read.
	ps, err := h.store.ListPlans(c.Request().Context())
	if err != nil {
		return err
	}
	start := min(offset, len(ps))
	page := ps[start : start+min(limit, len(ps)-start)]
	out := apiList[apiPlan]{Items: make([]apiPlan, 0, len(page)), Total: int64(len(ps)), Limit: limit, Offset: offset}
	for i := range page {
		n := page[i].Subscribers
		out.Items = append(out.Items, toAPIPlan(&page[i].Plan, &n))
	}
	return c.JSON(http.StatusOK, out)
}

// apiCreatePlanBody is the body of POST /api/plans.
type apiCreatePlanBody struct {
	Name          string `json:"name"`
	MaxChannels   int64  `json:"max_channels"`
	DaysPerPeriod int64  `json:"days_per_period"`
	PeriodDays    int64  `json:"period_days"`
}

func (h *Handler) apiCreatePlan(c echo.Context) error {
	var body apiCreatePlanBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	p, err := h.svc.CreatePlan(c.Request().Context(), actor(c), models.PlanInput{
		Name: body.Name, MaxChannels: body.MaxChannels, DaysPerPeriod: body.DaysPerPeriod, PeriodDays: body.PeriodDays})
	if err != nil {
		return apiFail(c, err)
	}
	var none int64
	return c.JSON(http.StatusCreated, toAPIPlan(p, &none))
}
