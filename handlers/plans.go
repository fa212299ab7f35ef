package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// savePlan saves a plan (creates it when id is 0); the form's errors, or
// provision's, come back as field errors.
func (h *Handler) savePlan(c echo.Context, id int64, form planForm) (provision.FieldErrors, error) {
	if len(form.Errors) > 0 {
		return form.Errors, nil
	}
	var err error
	if id == 0 {
		_, err = h.svc.CreatePlan(c.Request().Context(), actor(c), form.In)
	} else {
		_, err = h.svc.UpdatePlan(c.Request().Context(), actor(c), id, form.In)
	}
	var fe provision.FieldErrors
	if errors.As(err, &fe) {
		return fe, nil
	}
	return nil, err
}

func planRows(ps []models.PlanWithCount) []views.PlanRow {
	rows := make([]views.PlanRow, len(ps))
	for i, p := range ps {
		rows[i] = views.PlanRow{ID: p.ID, Name: p.Name, MaxChannels: p.MaxChannels, DaysPerPeriod: p.DaysPerPeriod,
			Period: dayCount(p.PeriodDays), Subscribers: p.Subscribers, Active: p.Active}
	}
	return rows
}

func (h *Handler) plansPage(c echo.Context, title string) views.Page {
	p := h.page(c, title)
	p.Active = "plans"
	return p
}

func (h *Handler) renderPlans(c echo.Context, status int, p views.Page, form views.PlanForm) error {
	ps, err := h.store.ListPlans(c.Request().Context())
	if err != nil {
		return err
	}
	return h.render(c, status, views.PlansPage(p, views.PlansView{Plans: planRows(ps), Form: form}))
}

func (h *Handler) listPlans(c echo.Context) error {
	return h.renderPlans(c, http.StatusOK, h.plansPage(c, "Plans"), views.PlanForm{})
}

func (h *Handler) createPlan(c echo.Context) error {
	form := parsePlanForm(c)
	fe, err := h.savePlan(c, 0, form)
	if err != nil {
		return err
	}
	if len(fe) > 0 {
		form.Errors = fe
		p := h.plansPage(c, "Plans")
		p.Flash = &views.Flash{Kind: "error", Text: "The plan was not created: correct the fields marked below."}
		return h.renderPlans(c, http.StatusUnprocessableEntity, p, form.PlanForm)
	}
	h.setFlash(c, "success", "Plan “"+strings.TrimSpace(form.In.Name)+"” created.")
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/plans")
}

// planWithCount returns the plan with id and its subscriber count.
func (h *Handler) planWithCount(c echo.Context) (*models.PlanWithCount, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	ps, err := h.store.ListPlans(c.Request().Context())
	if err != nil {
		return nil, err
	}
	for i := range ps {
		if ps[i].ID == id {
			return &ps[i], nil
		}
	}
	return nil, echo.NewHTTPError(http.StatusNotFound)
}

func planEditView(pl *models.PlanWithCount) views.PlanEditView {
	n := pl.Subscribers
	return views.PlanEditView{ID: pl.ID, Name: pl.Name, Subscribers: n, Active: pl.Active,
		OnPlan: countOf(n, "customer is", "customers are") + " on this plan.",
		Keep:   "The " + countOf(n, "customer", "customers") + " on this plan " + plural(n, "keeps", "keep") + " it",
		Form: views.PlanForm{
			Name:          pl.Name,
			MaxChannels:   strconv.FormatInt(pl.MaxChannels, 10),
			DaysPerPeriod: strconv.FormatInt(pl.DaysPerPeriod, 10),
			PeriodDays:    strconv.FormatInt(pl.PeriodDays, 10),
		}}
}

func (h *Handler) editPlan(c echo.Context) error {
	pl, err := h.planWithCount(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.PlanEditPage(h.plansPage(c, "Edit plan"), planEditView(pl)))
}

func (h *Handler) updatePlan(c echo.Context) error {
	pl, err := h.planWithCount(c)
	if err != nil {
		return err
	}
	form := parsePlanForm(c)
	fe, err := h.savePlan(c, pl.ID, form)
	if errors.Is(err, models.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	if len(fe) > 0 {
		v := planEditView(pl)
		form.Errors = fe
		v.Form = form.PlanForm
		p := h.plansPage(c, "Edit plan")
		p.Flash = &views.Flash{Kind: "error", Text: "Nothing was saved: correct the fields marked below."}
		return h.render(c, http.StatusUnprocessableEntity, views.PlanEditPage(p, v))
	}
	h.setFlash(c, "success", "Plan “"+strings.TrimSpace(form.In.Name)+"” saved.")
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/plans")
}

func (h *Handler) showRetirePlanPage(c echo.Context) error {
	pl, err := h.planWithCount(c)
	if err != nil {
		return err
	}
	if !pl.Active {
		return redirect(c, "/admin/plans")
	}
	return h.render(c, http.StatusOK, views.PlanRetirePage(h.plansPage(c, "Retire plan"), planEditView(pl)))
}

func (h *Handler) retirePlan(c echo.Context) error {
	return h.setPlanActive(c, false)
}

func (h *Handler) reinstatePlan(c echo.Context) error {
	return h.setPlanActive(c, true)
}

func (h *Handler) setPlanActive(c echo.Context, active bool) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	pl, err := h.store.PlanByID(c.Request().Context(), id)
	if errors.Is(err, models.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	if err := h.store.SetPlanActive(c.Request().Context(), actor(c), id, active); err != nil {
		return err
	}
	if active {
		h.setFlash(c, "success", "Plan “"+pl.Name+"” reinstated: customers can take it again.")
	} else {
		h.setFlash(c, "success", "Plan “"+pl.Name+"” retired: its subscribers keep it, no one new can take it.")
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/plans")
}
