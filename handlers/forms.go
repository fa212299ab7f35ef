package handlers

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// Forms: one parser per form, into a typed struct that keeps what was
// typed (to show again) beside what it means, with the errors of its
// fields. A form checks what it can read: whole numbers, required
// fields, passwords. The domain's rules are provision's: when a number
// could not be read, provision's validator still checks the other fields
// (run on what could be read), so every bad field is reported at once;
// otherwise the workflow checks them when it is called, with the rules
// that need data (miniflux's form + validator split).

// fieldError is what is wrong with one form field, in the words shown
// under it; "" when nothing is.
type fieldError string

// notWholeNumber is what a number field that holds no whole number says,
// in the reader's language.
func notWholeNumber(c echo.Context) fieldError { return fieldError(loc(c).T("form.whole_number")) }

// formInt is the one way a form's whole number is read: the field's text
// without the spaces around it, in base 10. Anything else (a blank field
// too) is notWholeNumber.
func formInt(c echo.Context, name string) (int64, fieldError) {
	n, err := strconv.ParseInt(strings.TrimSpace(c.FormValue(name)), 10, 64)
	if err != nil {
		return 0, notWholeNumber(c)
	}
	return n, ""
}

// formOptionalInt is formInt for a field that may be left blank (nil).
func formOptionalInt(c echo.Context, name string) (*int64, fieldError) {
	if strings.TrimSpace(c.FormValue(name)) == "" {
		return nil, ""
	}
	n, fe := formInt(c, name)
	if fe != "" {
		return nil, fe
	}
	return &n, ""
}

// addError records e as the error of field name, if there is one.
func addError(errs provision.FieldErrors, name string, e fieldError) {
	if e != "" {
		errs[name] = string(e)
	}
}

// ruleErrors are the field errors of a provision validator's answer.
func ruleErrors(err error) provision.FieldErrors {
	var fe provision.FieldErrors
	errors.As(err, &fe)
	return fe
}

// withRules adds to the errors of what could not be read (parsed) the
// errors provision's validator found in the other fields (rules), once
// something could not be read; a field's parse error wins over its rule's.
func withRules(parsed, rules provision.FieldErrors) provision.FieldErrors {
	if len(parsed) == 0 {
		return parsed
	}
	for k, v := range rules {
		if _, bad := parsed[k]; !bad {
			parsed[k] = v
		}
	}
	return parsed
}

// Sign-in and passwords --------------------------------------------------

// loginForm is the sign-in form.
type loginForm struct {
	Email    string // trimmed and case-folded
	Password string
	Next     string // where to go after, on our own site ("" for the start page)
}

func parseLoginForm(c echo.Context) loginForm {
	return loginForm{Email: strings.ToLower(strings.TrimSpace(c.FormValue("email"))), Password: c.FormValue("password"),
		Next: safeNext(c.FormValue("next"))}
}

// passwordForm is a new password and its confirmation, and (when a user
// changes their own) the current one. A password is never shown again.
// Its errors are said in the language of the request it was read from.
type passwordForm struct {
	Current, New, Confirm string
	l                     *i18n.Localizer // nil: English
}

func parsePasswordForm(c echo.Context) passwordForm {
	return passwordForm{Current: c.FormValue("current_password"), New: c.FormValue("new_password"), Confirm: c.FormValue("confirm_password"),
		l: loc(c)}
}

// loc is the form's language.
func (f passwordForm) loc() *i18n.Localizer {
	if f.l == nil {
		return i18n.For(i18n.Default)
	}
	return f.l
}

// changeErrors are the errors of a user with email changing their own
// password.
func (f passwordForm) changeErrors(email string) map[string]string {
	errs := map[string]string{}
	switch {
	case f.Current == "":
		errs["current_password"] = f.loc().T("form.current_password")
	case f.New != "" && f.New == f.Current:
		errs["new_password"] = f.loc().T("form.password_same")
	default:
		f.newErrors(errs, email)
	}
	return errs
}

// newErrors puts into errs what is wrong with the new password of the
// account with email, and with its confirmation, if anything.
func (f passwordForm) newErrors(errs map[string]string, email string) map[string]string {
	l := f.loc()
	if f.New == "" {
		errs["new_password"] = l.T("form.new_password")
	} else if err := models.CheckPassword(f.New, email); err != nil {
		errs["new_password"] = provision.FieldMessage(i18n.With(context.Background(), l), err) // the rule's own words
	} else if f.Confirm != f.New {
		errs["confirm_password"] = l.T("form.passwords_differ")
	}
	return errs
}

// Customers --------------------------------------------------------------

// newUserForm is the "New customer" form; provision checks it.
type newUserForm struct {
	views.NewUserForm // as typed (never the password)
	Password          string
}

func parseNewUserForm(c echo.Context) newUserForm {
	return newUserForm{NewUserForm: views.NewUserForm{Email: c.FormValue("email"), Name: c.FormValue("name"), Role: c.FormValue("role")},
		Password: c.FormValue("password")}
}

func (f newUserForm) input() models.NewUser {
	return models.NewUser{Email: f.Email, Name: f.Name, Password: f.Password, Role: models.Role(f.Role)}
}

// modeForm is a customer's auto/manual toggle.
type modeForm struct {
	Mode models.AllocationMode
	Back string // where a plain form post returns to
}

func parseModeForm(c echo.Context, userID int64) modeForm {
	return modeForm{Mode: models.AllocationMode(c.FormValue("mode")), Back: usersBack(c.FormValue("back"), userID)}
}

// valid reports whether the mode is one there is.
func (f modeForm) valid() bool {
	return f.Mode == models.AllocationAuto || f.Mode == models.AllocationManual
}

// parsePlanChoice reads the plan a customer is put on; ok is false when
// none is named.
func parsePlanChoice(c echo.Context) (planID int64, ok bool) {
	id, fe := formInt(c, "plan_id")
	return id, fe == "" && id > 0
}

// daysForm is a number of days with a comment: credit a customer's
// balance, or extend a channel (on the channel list and on a customer's
// page).
type daysForm struct {
	Days    int64
	Comment string // as typed: provision trims it
	RawDays string // as typed
	Errors  provision.FieldErrors
}

// view is the form as typed, with its errors.
func (f daysForm) view() views.CreditForm {
	return views.CreditForm{Days: f.RawDays, Comment: f.Comment, Errors: f.Errors}
}

// parseCreditForm reads the "Credit days" form. The comment's rule is the
// one extends have.
func parseCreditForm(c echo.Context) daysForm {
	f := daysForm{Comment: c.FormValue("comment"), RawDays: c.FormValue("days"), Errors: provision.FieldErrors{}}
	var fe fieldError
	f.Days, fe = formInt(c, "days")
	addError(f.Errors, "days", fe)
	if len(f.Errors) > 0 {
		_, rules := provision.ValidateExtend(c.Request().Context(), provision.ExtendInput{Days: 1, Comment: f.Comment})
		f.Errors = withRules(f.Errors, ruleErrors(rules))
	}
	return f
}

// parseExtendForm reads the extend form. Days that are not a whole number
// are checked as 0, so the rule's message, which says what is wanted,
// stands for them.
func parseExtendForm(c echo.Context) daysForm {
	f := daysForm{Comment: c.FormValue("comment"), RawDays: c.FormValue("days"), Errors: provision.FieldErrors{}}
	f.Days, _ = formInt(c, "days")
	if _, err := provision.ValidateExtend(c.Request().Context(), f.input(0)); err != nil {
		f.Errors = ruleErrors(err)
	}
	return f
}

// input is the extend of channel id the form asks for.
func (f daysForm) input(id int64) provision.ExtendInput {
	return provision.ExtendInput{ChannelID: id, Days: f.Days, Comment: f.Comment}
}

// Plans ------------------------------------------------------------------

// planForm is the plan form, to create a plan or edit one.
type planForm struct {
	views.PlanForm // as typed, with the errors
	In             models.PlanInput
}

func parsePlanForm(c echo.Context) planForm {
	f := planForm{PlanForm: views.PlanForm{Name: c.FormValue("name"), MaxChannels: c.FormValue("max_channels"),
		DaysPerPeriod: c.FormValue("days_per_period"), PeriodDays: c.FormValue("period_days")}}
	f.In.Name = f.Name
	errs := provision.FieldErrors{}
	for _, n := range []struct {
		name string
		dst  *int64
	}{{"max_channels", &f.In.MaxChannels}, {"days_per_period", &f.In.DaysPerPeriod}, {"period_days", &f.In.PeriodDays}} {
		var fe fieldError
		*n.dst, fe = formInt(c, n.name)
		addError(errs, n.name, fe)
	}
	if len(errs) > 0 {
		_, rules := provision.ValidatePlan(c.Request().Context(), f.In)
		errs = withRules(errs, ruleErrors(rules))
	}
	f.Errors = errs
	return f
}

// The admin's dashboard ---------------------------------------------------

// partnerEntryForm is an entry of the partner's estimated balance: days
// bought from WHAPI (a purchase) or a correction, with its note;
// provision's rules (ValidatePartnerEntry) are checked here. Confirmed is
// the "Record it anyway" of the confirmation step, Edit its "Change the
// entry".
type partnerEntryForm struct {
	In               provision.PartnerEntryInput // Note cleaned
	Kind, Days, Note string                      // as typed
	Edit             bool
	Errors           provision.FieldErrors
}

func parsePartnerEntryForm(c echo.Context) partnerEntryForm {
	f := partnerEntryForm{Kind: c.FormValue("kind"), Days: c.FormValue("days"), Note: c.FormValue("note"), Edit: c.FormValue("edit") == "1"}
	days, bad := formInt(c, "days")
	f.In = provision.PartnerEntryInput{Kind: models.PartnerKind(f.Kind), Days: days, Note: f.Note, Confirmed: c.FormValue("confirmed") == "1"}
	note, errs := provision.ValidatePartnerEntry(c.Request().Context(), f.In)
	f.In.Note = note
	if errs == nil {
		errs = provision.FieldErrors{}
	}
	l := loc(c)
	switch {
	case strings.TrimSpace(f.Days) == "":
		errs["days"] = l.T("form.days_required")
	case bad != "":
		errs["days"] = l.T("form.days_range", "Min", l.Number(-provision.MaxPartnerDays), "Max", l.Number(provision.MaxPartnerDays))
	}
	f.Errors = errs
	return f
}

// partnerReverseForm reverses an entry: its required note, and the
// confirmation when the reversal takes the estimate below zero.
type partnerReverseForm struct {
	Note      string // as typed
	Confirmed bool
}

func parsePartnerReverseForm(c echo.Context) partnerReverseForm {
	return partnerReverseForm{Note: c.FormValue("note"), Confirmed: c.FormValue("confirmed") == "1"}
}

// Settings ---------------------------------------------------------------

// projectPickForm is one "Use this project" button of the WHAPI Settings
// page: the project id WHAPI listed (provision.PickProject checks it).
type projectPickForm struct{ ProjectID string }

func parseProjectPickForm(c echo.Context) projectPickForm {
	return projectPickForm{ProjectID: strings.TrimSpace(c.FormValue("project_id"))}
}

// settingsForm is the WHAPI Settings form. The token typed is never shown
// again.
type settingsForm struct {
	In                               provision.SettingsInput
	ProjectID, Threshold, WindowDays string // as typed
	ShareExtra                       string // as typed
	Errors                           provision.FieldErrors
}

func parseSettingsForm(c echo.Context) settingsForm {
	f := settingsForm{In: provision.SettingsInput{PartnerToken: c.FormValue("partner_token"), ProjectID: c.FormValue("project_id"),
		ReplaceRefused: c.FormValue("replace_refused") == "1"},
		ProjectID: c.FormValue("project_id"), Threshold: c.FormValue("low_balance_threshold"), WindowDays: c.FormValue("topup_window_days"),
		ShareExtra: c.FormValue("create_share_extra"), Errors: provision.FieldErrors{}}
	var fe fieldError
	f.In.LowBalanceThreshold, fe = formOptionalInt(c, "low_balance_threshold")
	addError(f.Errors, "low_balance_threshold", fe)
	f.In.TopupWindowDays, fe = formOptionalInt(c, "topup_window_days")
	addError(f.Errors, "topup_window_days", fe)
	f.In.CreateShareExtra, fe = formOptionalInt(c, "create_share_extra")
	addError(f.Errors, "create_share_extra", fe)
	if len(f.Errors) > 0 {
		f.Errors = withRules(f.Errors, provision.ValidateSettings(c.Request().Context(), f.In))
	}
	return f
}

// Customers' channels -----------------------------------------------------

// channelForm is the customer's "Add a channel" form; provision checks it.
type channelForm struct {
	views.CreateChannelForm // as typed, with the errors
}

func parseChannelForm(c echo.Context) channelForm {
	return channelForm{views.CreateChannelForm{Name: c.FormValue("name"), Phone: c.FormValue("phone")}}
}

func (f channelForm) input(userID int64) provision.CreateInput {
	return provision.CreateInput{UserID: userID, Name: f.Name, Phone: f.Phone}
}
