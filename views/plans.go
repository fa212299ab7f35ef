package views

import (
	"context"
	"strconv"
)

// PlanRow is one plan in the plans table.
type PlanRow struct {
	ID            int64
	Name          string
	MaxChannels   int64
	DaysPerPeriod int64
	Period        string // "30 days", in the reader's language
	Subscribers   int64
	Active        bool
}

// PlanForm is the state of the create or edit form of a plan: the raw
// input (kept on a refused submission) and what is wrong with each field.
type PlanForm struct {
	Name          string
	MaxChannels   string
	DaysPerPeriod string
	PeriodDays    string
	Errors        map[string]string
}

// PlansView is what /admin/plans shows.
type PlansView struct {
	Plans []PlanRow
	Form  PlanForm
}

// PlanEditView is what /admin/plans/{id}/edit shows.
type PlanEditView struct {
	ID          int64
	Name        string // the saved name, for the heading
	Subscribers int64
	// OnPlan says who is on the plan: "3 customers are on this plan.";
	// Keep says they keep it: "The 3 customers on this plan keep it".
	OnPlan, Keep string
	Active       bool
	Form         PlanForm
}

func planHref(id int64, suffix string) string {
	return "/admin/plans/" + strconv.FormatInt(id, 10) + suffix
}

// field is the field name of the plan form: the name is text, the rest
// whole numbers. label and hint are catalog ids.
func (f PlanForm) field(ctx context.Context, name, label, value, hint string) Field {
	fl := Field{ID: "plan-" + name, Name: name, Label: t(ctx, label), Type: "number", Value: value,
		Attrs: attrs("min", "1", "inputmode", "numeric"), Hint: t(ctx, hint), Error: f.Errors[name], Period: true}
	if name == "name" {
		fl.Type, fl.Attrs = "text", attrs("maxlength", "60", "autocomplete", "off", "dir", "auto")
	}
	return fl
}
