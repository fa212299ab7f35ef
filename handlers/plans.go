package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
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

func planRows(lz *i18n.Localizer, ps []models.PlanWithCount) []views.PlanRow {
	rows := make([]views.PlanRow, len(ps))
	for i, p := range ps {
		rows[i] = views.PlanRow{ID: p.ID, Name: p.Name, MaxChannels: p.MaxChannels, DaysPerPeriod: p.DaysPerPeriod,
			Period: lz.N("common.days", p.PeriodDays), Subscribers: p.Subscribers, Active: p.Active}
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
	return h.render(c, status, views.PlansPage(p, views.PlansView{Plans: planRows(loc(c), ps), Form: form}))
}

func (h *Handler) listPlans(c echo.Context) error {
	return h.renderPlans(c, http.StatusOK, h.plansPage(c, loc(c).T("plans.title")), views.PlanForm{})
}

func (h *Handler) createPlan(c echo.Context) error {
	form := parsePlanForm(c)
	fe, err := h.savePlan(c, 0, form)
	if err != nil {
		return err
	}
	if len(fe) > 0 {
		form.Errors = fe
		p := h.plansPage(c, loc(c).T("plans.title"))
		p.Flash = &views.Flash{Kind: "error", Text: loc(c).T("plans.not_created")}
		return h.renderPlans(c, http.StatusUnprocessableEntity, p, form.PlanForm)
	}
	h.setFlash(c, "success", loc(c).T("plans.created", "Name", i18n.Isolate(strings.TrimSpace(form.In.Name))))
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

func planEditView(lz *i18n.Localizer, pl *models.PlanWithCount) views.PlanEditView {
	n := pl.Subscribers
	return views.PlanEditView{ID: pl.ID, Name: pl.Name, Subscribers: n, Active: pl.Active,
		OnPlan: lz.N("plans.on_plan", n),
		Keep:   retireWords(lz, n),
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
	return h.render(c, http.StatusOK, views.PlanEditPage(h.plansPage(c, loc(c).T("plans.edit_title")), planEditView(loc(c), pl)))
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
		v := planEditView(loc(c), pl)
		form.Errors = fe
		v.Form = form.PlanForm
		p := h.plansPage(c, loc(c).T("plans.edit_title"))
		p.Flash = &views.Flash{Kind: "error", Text: loc(c).T("plans.not_saved")}
		return h.render(c, http.StatusUnprocessableEntity, views.PlanEditPage(p, v))
	}
	h.setFlash(c, "success", loc(c).T("plans.saved", "Name", i18n.Isolate(strings.TrimSpace(form.In.Name))))
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
	return h.render(c, http.StatusOK, views.PlanRetirePage(h.plansPage(c, loc(c).T("plans.retire_page")), planEditView(loc(c), pl)))
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
		h.setFlash(c, "success", loc(c).T("plans.reinstated", "Name", i18n.Isolate(pl.Name)))
	} else {
		h.setFlash(c, "success", loc(c).T("plans.retired_flash", "Name", i18n.Isolate(pl.Name)))
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/plans")
}

// retireWords says what retiring a plan does to the n customers on it.
func retireWords(lz *i18n.Localizer, n int64) string {
	if n == 0 {
		return lz.T("plans.retire_none")
	}
	return lz.N("plans.retire_keep", n)
}
