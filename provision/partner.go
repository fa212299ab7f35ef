package provision

import (
	"context"
	"strings"

	"whapidesk/models"
)

// MaxPartnerDays bounds one record of partner days (bought or corrected).
const MaxPartnerDays = 1_000_000

// ValidatePartnerDays checks a record of partner days: a whole number other
// than 0 within ±MaxPartnerDays (positive for days bought from WHAPI,
// negative to correct the estimate) and a one-line comment, such as the
// invoice number. It returns the cleaned comment.
func ValidatePartnerDays(days int64, comment string) (string, FieldErrors) {
	fe := FieldErrors{}
	switch {
	case days < -MaxPartnerDays || days > MaxPartnerDays:
		fe["days"] = "enter a whole number of days, from -1,000,000 to 1,000,000"
	case days == 0:
		fe["days"] = "enter a number other than 0: positive for days bought, negative to correct"
	}
	c, err := cleanText(comment, "comment", MaxComment, true)
	switch {
	case err != nil && c == "" && strings.TrimSpace(comment) == "":
		fe["comment"] = "enter a comment, for example the invoice number"
	case err != nil:
		fe["comment"] = err.Error()
	}
	if len(fe) > 0 {
		return "", fe
	}
	return c, nil
}

// RecordPartnerDays records days bought from WHAPI, or a correction of the
// estimate of the partner's WHAPI balance (WHAPI has no endpoint for it),
// with its audit row; days bought clear the "partner balance short"
// warning. It returns the new estimate.
func (s *Service) RecordPartnerDays(ctx context.Context, actor models.Actor, days int64, comment string) (models.PartnerBalance, error) {
	c, fe := ValidatePartnerDays(days, comment)
	if fe != nil {
		return models.PartnerBalance{}, fe
	}
	if err := s.store.RecordPartnerPurchase(ctx, actor, days, c); err != nil {
		return models.PartnerBalance{}, err
	}
	return s.store.PartnerBalance(ctx)
}
