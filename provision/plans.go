package provision

import (
	"context"
	"errors"

	"whapidesk/internal/i18n"
	"whapidesk/models"
)

// ValidatePlan checks a plan's fields and trims its name; its
// FieldErrors are in the language ctx carries.
func ValidatePlan(ctx context.Context, in models.PlanInput) (models.PlanInput, error) {
	fe := FieldErrors{}
	name, err := cleanText(in.Name, "name", 60, true)
	if err != nil {
		fe["name"] = fieldMsg(ctx, err)
	}
	in.Name = name
	if in.MaxChannels < 1 || in.MaxChannels > 1000 {
		fe["max_channels"] = i18n.T(ctx, "prov.plan.max_channels", "Max", number(ctx, 1000))
	}
	if in.DaysPerPeriod < 1 || in.DaysPerPeriod > 3650 {
		fe["days_per_period"] = i18n.T(ctx, "prov.plan.days_per_period", "Max", number(ctx, 3650))
	}
	if in.PeriodDays < 1 || in.PeriodDays > 3650 {
		fe["period_days"] = i18n.T(ctx, "prov.plan.period_days", "Max", number(ctx, 3650))
	}
	if len(fe) > 0 {
		return in, fe
	}
	return in, nil
}

// CreatePlan validates and creates a plan.
func (s *Service) CreatePlan(ctx context.Context, actor models.Actor, in models.PlanInput) (*models.Plan, error) {
	in, err := ValidatePlan(ctx, in)
	if err != nil {
		return nil, err
	}
	p, err := s.store.CreatePlan(ctx, actor, in)
	if errors.Is(err, models.ErrPlanNameTaken) {
		return nil, FieldErrors{"name": fieldMsg(ctx, err)}
	}
	return p, err
}

// UpdatePlan validates and changes a plan.
func (s *Service) UpdatePlan(ctx context.Context, actor models.Actor, id int64, in models.PlanInput) (*models.Plan, error) {
	in, err := ValidatePlan(ctx, in)
	if err != nil {
		return nil, err
	}
	p, err := s.store.UpdatePlan(ctx, actor, id, in)
	var small *models.PlanTooSmallError
	switch {
	case errors.Is(err, models.ErrPlanNameTaken):
		return nil, FieldErrors{"name": fieldMsg(ctx, err)}
	case errors.As(err, &small):
		return nil, FieldErrors{"max_channels": i18n.N(ctx, "prov.plan.below_live", small.Live)}
	}
	return p, err
}

// CreateUser creates an admin or customer account, reporting bad fields
// as FieldErrors.
func (s *Service) CreateUser(ctx context.Context, actor models.Actor, in models.NewUser) (*models.User, error) {
	fe := FieldErrors{}
	name, err := cleanText(in.Name, "name", 100, false)
	if err != nil {
		fe["name"] = fieldMsg(ctx, err)
	}
	in.Name = name
	if _, err := models.NormalizeEmail(in.Email); err != nil {
		fe["email"] = fieldMsg(ctx, err)
	}
	if err := models.CheckPassword(in.Password, in.Email); err != nil {
		fe["password"] = fieldMsg(ctx, err)
	}
	if in.Role != models.RoleAdmin && in.Role != models.RoleCustomer {
		fe["role"] = fieldMsg(ctx, models.ErrInvalidRole)
	}
	if len(fe) > 0 {
		return nil, fe
	}
	u, err := s.store.CreateUser(ctx, in, s.customerEvent(ctx))
	if errors.Is(err, models.ErrEmailTaken) {
		return nil, FieldErrors{"email": fieldMsg(ctx, err)}
	}
	if err != nil {
		return nil, err
	}
	if err := s.store.RecordAudit(ctx, actor, "user.create", u.Email, string(u.Role)); err != nil {
		return nil, err
	}
	return u, nil
}
