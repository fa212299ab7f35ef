package provision

import (
	"context"
	"errors"
	"fmt"

	"whapidesk/models"
)

// ValidatePlan checks a plan's fields and trims its name.
func ValidatePlan(in models.PlanInput) (models.PlanInput, error) {
	fe := FieldErrors{}
	name, err := cleanText(in.Name, "name", 60, true)
	if err != nil {
		fe["name"] = err.Error()
	}
	in.Name = name
	if in.MaxChannels < 1 || in.MaxChannels > 1000 {
		fe["max_channels"] = "enter a number of channels from 1 to 1,000"
	}
	if in.DaysPerPeriod < 1 || in.DaysPerPeriod > 3650 {
		fe["days_per_period"] = "enter a number of days from 1 to 3,650"
	}
	if in.PeriodDays < 1 || in.PeriodDays > 3650 {
		fe["period_days"] = "enter a period from 1 to 3,650 days"
	}
	if len(fe) > 0 {
		return in, fe
	}
	return in, nil
}

// CreatePlan validates and creates a plan.
func (s *Service) CreatePlan(ctx context.Context, actor models.Actor, in models.PlanInput) (*models.Plan, error) {
	in, err := ValidatePlan(in)
	if err != nil {
		return nil, err
	}
	p, err := s.store.CreatePlan(ctx, actor, in)
	if errors.Is(err, models.ErrPlanNameTaken) {
		return nil, FieldErrors{"name": err.Error()}
	}
	return p, err
}

// UpdatePlan validates and changes a plan.
func (s *Service) UpdatePlan(ctx context.Context, actor models.Actor, id int64, in models.PlanInput) (*models.Plan, error) {
	in, err := ValidatePlan(in)
	if err != nil {
		return nil, err
	}
	p, err := s.store.UpdatePlan(ctx, actor, id, in)
	var small *models.PlanTooSmallError
	switch {
	case errors.Is(err, models.ErrPlanNameTaken):
		return nil, FieldErrors{"name": err.Error()}
	case errors.As(err, &small):
		return nil, FieldErrors{"max_channels": fmt.Sprintf("a customer on this plan has %d live channels: the limit cannot go below %d", small.Live, small.Live)}
	}
	return p, err
}

// CreateUser creates an admin or customer account, reporting bad fields
// as FieldErrors.
func (s *Service) CreateUser(ctx context.Context, actor models.Actor, in models.NewUser) (*models.User, error) {
	fe := FieldErrors{}
	name, err := cleanText(in.Name, "name", 100, false)
	if err != nil {
		fe["name"] = err.Error()
	}
	in.Name = name
	if _, err := models.NormalizeEmail(in.Email); err != nil {
		fe["email"] = err.Error()
	}
	if err := models.CheckPassword(in.Password, in.Email); err != nil {
		fe["password"] = err.Error()
	}
	if in.Role != models.RoleAdmin && in.Role != models.RoleCustomer {
		fe["role"] = models.ErrInvalidRole.Error()
	}
	if len(fe) > 0 {
		return nil, fe
	}
	u, err := s.store.CreateUser(ctx, in, s.customerEvent(ctx))
	if errors.Is(err, models.ErrEmailTaken) {
		return nil, FieldErrors{"email": err.Error()}
	}
	if err != nil {
		return nil, err
	}
	if err := s.store.RecordAudit(ctx, actor, "user.create", u.Email, string(u.Role)); err != nil {
		return nil, err
	}
	return u, nil
}
