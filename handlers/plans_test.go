package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"whapidesk/models"
)

// admPlanForm is the plan form with the given values.
func admPlanForm(name, maxChannels, daysPerPeriod, periodDays string) url.Values {
	return url.Values{"name": {name}, "max_channels": {maxChannels}, "days_per_period": {daysPerPeriod}, "period_days": {periodDays}}
}

// admPlans returns every plan in the store.
func (a *testApp) admPlans() []models.PlanWithCount {
	a.t.Helper()
	ps, err := a.store.ListPlans(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	return ps
}

func admWantStatus(t *testing.T, r result, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
}

func admWantBody(t *testing.T, r result, parts ...string) {
	t.Helper()
	body := withoutIsolates(r.body) // the words as read; lists_bidi_test.go checks the isolates
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("%s %s: the page lacks %q:\n%s", r.Request.Method, r.Request.URL.Path, p, r.body)
		}
	}
}

func TestAdminPlansCreateEditRetire(t *testing.T) {
	a, c := adminClient(t)

	r := c.get("/admin/plans")
	admWantStatus(t, r, http.StatusOK)
	admWantBody(t, r, "No plans yet", `action="/admin/plans"`)

	r = c.submit("/admin/plans", "/admin/plans", admPlanForm("  Starter ", "3", "30", "30"))
	admWantStatus(t, r, http.StatusSeeOther)
	ps := a.admPlans()
	if len(ps) != 1 || ps[0].Name != "Starter" || ps[0].MaxChannels != 3 || ps[0].DaysPerPeriod != 30 || ps[0].PeriodDays != 30 || !ps[0].Active {
		t.Fatalf("plans after create: %+v", ps)
	}
	plan := ps[0].Plan
	r = c.get("/admin/plans")
	admWantBody(t, r, "Plan “Starter” created.", "Starter", ">Active<", admPlanPath(plan.ID, "/edit"))

	t.Run("bad input is refused with messages next to the fields, nothing created", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			form   url.Values
			fields []string
		}{
			{"all wrong", admPlanForm("", "abc", "0", "-1"), []string{"name", "max_channels", "days_per_period", "period_days"}},
			{"too many channels", admPlanForm("Big", "5000", "30", "30"), []string{"max_channels"}},
			{"empty number", admPlanForm("Big", "", "30", "30"), []string{"max_channels"}},
			{"name taken", admPlanForm("starter", "1", "1", "1"), []string{"name"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := c.submit("/admin/plans", "/admin/plans", tt.form)
				admWantStatus(t, r, http.StatusUnprocessableEntity)
				admWantBody(t, r, "The plan was not created")
				for _, f := range tt.fields {
					admWantBody(t, r, `data-testid="error-`+f+`"`)
				}
				if n := len(a.admPlans()); n != 1 {
					t.Fatalf("%d plans after a refused create", n)
				}
			})
		}
		// What was typed is kept.
		r := c.submit("/admin/plans", "/admin/plans", admPlanForm("Pro", "x", "30", "30"))
		admWantBody(t, r, `value="Pro"`, `value="x"`)
	})

	t.Run("edit", func(t *testing.T) {
		r := c.get(admPlanPath(plan.ID, "/edit"))
		admWantStatus(t, r, http.StatusOK)
		admWantBody(t, r, "Edit plan Starter", `value="Starter"`, `value="3"`)

		r = c.submit(admPlanPath(plan.ID, "/edit"), admPlanPath(plan.ID, ""), admPlanForm("Starter", "0", "31", "30"))
		admWantStatus(t, r, http.StatusUnprocessableEntity)
		admWantBody(t, r, `data-testid="error-max_channels"`, "Nothing was saved")
		if p, _ := a.store.PlanByID(context.Background(), plan.ID); p.MaxChannels != 3 || p.DaysPerPeriod != 30 {
			t.Fatalf("a refused edit changed the plan: %+v", p)
		}

		r = c.submit(admPlanPath(plan.ID, "/edit"), admPlanPath(plan.ID, ""), admPlanForm("Starter+", "4", "20", "28"))
		admWantStatus(t, r, http.StatusSeeOther)
		p, _ := a.store.PlanByID(context.Background(), plan.ID)
		if p.Name != "Starter+" || p.MaxChannels != 4 || p.DaysPerPeriod != 20 || p.PeriodDays != 28 {
			t.Fatalf("plan after edit: %+v", p)
		}
		admWantStatus(t, c.get("/admin/plans/999/edit"), http.StatusNotFound)
		admWantStatus(t, c.get("/admin/plans/x/edit"), http.StatusNotFound)
	})

	t.Run("retire keeps subscribers and refuses new ones; reinstate", func(t *testing.T) {
		ctx := context.Background()
		old := a.newUser(models.RoleCustomer, "old@example.com")
		if _, err := a.store.ActivatePlan(ctx, models.SystemActor, old.ID, plan.ID); err != nil {
			t.Fatal(err)
		}
		r := c.get(admPlanPath(plan.ID, "/retire"))
		admWantStatus(t, r, http.StatusOK)
		admWantBody(t, r, "The 1 customer on this plan keeps it", "No one new can take it")

		r = c.submit(admPlanPath(plan.ID, "/retire"), admPlanPath(plan.ID, "/retire"), nil)
		admWantStatus(t, r, http.StatusSeeOther)
		if p, _ := a.store.PlanByID(ctx, plan.ID); p.Active {
			t.Fatal("the plan is still active after retire")
		}
		admWantBody(t, c.get("/admin/plans"), ">Retired<", "retired: its subscribers keep it", "Reinstate")
		if sub, err := a.store.ActiveSubscription(ctx, old.ID); err != nil || sub.PlanID != plan.ID {
			t.Fatalf("the subscriber lost the plan: %v %+v", err, sub)
		}

		// Activating it for someone new is refused, with a message.
		cust := a.newUser(models.RoleCustomer, "new@example.com")
		r = c.submit(userPath(cust.ID), userPath(cust.ID)+"/subscription", url.Values{"plan_id": {strconv.FormatInt(plan.ID, 10)}})
		admWantStatus(t, r, http.StatusSeeOther)
		admWantBody(t, c.get(userPath(cust.ID)), "This plan is retired and takes no new subscribers.")
		if _, err := a.store.ActiveSubscription(ctx, cust.ID); err == nil {
			t.Fatal("a retired plan was activated")
		}
		// Nor is it offered on the customer's page.
		if strings.Contains(c.get(userPath(cust.ID)).body, `<option value="`+strconv.FormatInt(plan.ID, 10)+`"`) {
			t.Fatal("a retired plan is offered")
		}

		r = c.submit("/admin/plans", admPlanPath(plan.ID, "/reinstate"), nil)
		admWantStatus(t, r, http.StatusSeeOther)
		if p, _ := a.store.PlanByID(ctx, plan.ID); !p.Active {
			t.Fatal("the plan is not active after reinstate")
		}
		r = c.submit(userPath(cust.ID), userPath(cust.ID)+"/subscription", url.Values{"plan_id": {strconv.FormatInt(plan.ID, 10)}})
		admWantStatus(t, r, http.StatusSeeOther)
		if _, err := a.store.ActiveSubscription(ctx, cust.ID); err != nil {
			t.Fatalf("activation after reinstate: %v", err)
		}
		admWantStatus(t, c.submit("/admin/plans", "/admin/plans/999/retire", nil), http.StatusNotFound)
	})
}

func admPlanPath(id int64, suffix string) string {
	return "/admin/plans/" + strconv.FormatInt(id, 10) + suffix
}
