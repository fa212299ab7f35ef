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

// apiListPlans lists every plan, active ones first, with its subscribers.
func (h *Handler) apiListPlans(c echo.Context) error {
	ps, err := h.store.ListPlans(c.Request().Context())
	if err != nil {
		return err
	}
	out := apiList[apiPlan]{Items: make([]apiPlan, 0, len(ps)), Total: int64(len(ps)), Limit: len(ps)}
	for i := range ps {
		n := ps[i].Subscribers
		out.Items = append(out.Items, toAPIPlan(&ps[i].Plan, &n))
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
