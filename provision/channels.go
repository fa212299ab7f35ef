package provision

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"whapidesk/internal/i18n"
	"whapidesk/internal/webhookout"
	"whapidesk/models"
	"whapidesk/whapi"
)

const day = 24 * time.Hour

// Limits of channel input.
const (
	MaxChannelName = 60
	MaxComment     = 200
	MaxExtendDays  = 3650
)

var phoneDigits = regexp.MustCompile(`^\d{7,15}$`)

// phoneNumberDigits returns the digits of a phone number as people write
// it: one leading "+", spaces, dots, dashes and brackets are dropped; any
// other character makes it no number (ok false). in is trimmed already.
func phoneNumberDigits(in string) (digits string, ok bool) {
	var b strings.Builder
	for i, r := range in {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return "", false
		}
	}
	return b.String(), true
}

// NormalizePhone keeps the digits of a phone number written with +, spaces,
// dots, dashes or brackets; WHAPI wants 7–15 digits.
func NormalizePhone(in string) (string, error) {
	in = strings.TrimSpace(in)
	if in == "" {
		return "", nil
	}
	d, ok := phoneNumberDigits(in)
	if !ok {
		return "", errPhoneChars
	}
	if !phoneDigits.MatchString(d) {
		return "", errPhoneLength
	}
	return d, nil
}

// cleanText trims a one-line text and refuses control characters.
func cleanText(in, what string, maxRunes int, required bool) (string, error) {
	t := strings.TrimSpace(in)
	switch {
	case t == "" && required:
		return "", &textError{what: what, problem: "required", max: maxRunes}
	case !utf8.ValidString(t):
		return "", &textError{what: what, problem: "invalid", max: maxRunes}
	case utf8.RuneCountInString(t) > maxRunes:
		return "", &textError{what: what, problem: "too_long", max: maxRunes}
	}
	for _, r := range t {
		if unicode.IsControl(r) {
			return "", &textError{what: what, problem: "one_line", max: maxRunes}
		}
	}
	return t, nil
}

// remoteName is the channel's name at WHAPI: ours plus a marker with this
// installation's id and our channel id, so a channel whose create answer
// was lost can be found by listing.
func remoteName(install string, ch *models.Channel) string {
	return fmt.Sprintf("%s [wd-%s-%d]", ch.Name, install, ch.ID)
}

var markerRE = regexp.MustCompile(`\[wd-([0-9a-f]+)-(\d+)\]$`)

// markerID reads our channel id back from a WHAPI channel name made by this
// installation.
func markerID(install, name string) (int64, bool) {
	m := markerRE.FindStringSubmatch(name)
	if m == nil || m[1] != install {
		return 0, false
	}
	id, err := strconv.ParseInt(m[2], 10, 64)
	return id, err == nil
}

func remoteOf(c *whapi.Channel) models.RemoteChannel {
	r := models.RemoteChannel{WhapiID: c.ID, Token: c.Token, Mode: c.Mode, ActiveTill: c.ActiveTillTime().UTC(), APIURL: apiURLOf(c), Stopped: c.Stopped}
	if t, ok := c.TrialEnd(); ok {
		t = t.UTC()
		r.TrialEnds = &t
	}
	return r
}

// maxAPIURL bounds the apiUrl kept for a channel.
const maxAPIURL = 2048

// apiURLOf is the gate host WHAPI names for a channel, as it is kept: ""
// for none, or for one too long or not on one line to be a URL. Whether
// the host may receive the channel's token is the WHAPI client's decision,
// at each call (whapi.Client.Gate).
func apiURLOf(c *whapi.Channel) string {
	u := strings.TrimSpace(c.APIURL)
	if len(u) > maxAPIURL || strings.ContainsFunc(u, unicode.IsControl) {
		return ""
	}
	return u
}

// CreateInput is what a customer (or an admin for them) submits.
type CreateInput struct {
	UserID int64
	Name   string
	Phone  string
}

// CreateChannel creates a customer's channel at WHAPI, within their plan:
// it reserves a pending row (refused past the plan's limit or without an
// active plan), calls PUT /channels, and saves WHAPI's id, token and times.
// A lost answer is resolved by listing WHAPI's channels before any retry,
// so no duplicate is made and no plan slot leaks. In auto mode the new
// channel then gets its first period's days. While the configured project
// is not one WHAPI listed it is refused with *ProjectError before anything
// is reserved (projectReady).
func (s *Service) CreateChannel(ctx context.Context, actor models.Actor, in CreateInput) (*models.Channel, error) {
	fe := FieldErrors{}
	name, err := cleanText(in.Name, "name", MaxChannelName, true)
	if err != nil {
		fe["name"] = fieldMsg(ctx, err)
	}
	phone, err := NormalizePhone(in.Phone)
	if err != nil {
		fe["phone"] = fieldMsg(ctx, err)
	}
	if len(fe) > 0 {
		return nil, fe
	}
	st, err := s.settings(ctx)
	if err != nil {
		return nil, err
	}
	if st, err = s.projectReady(ctx, st); err != nil {
		return nil, err
	}
	ch, op, claim, err := s.store.ReserveChannelWithin(ctx, actor, in.UserID, name, phone, s.CreateBudget, s.now())
	var le *models.LimitError
	if errors.As(err, &le) {
		s.log.WarnContext(ctx, "channel create refused: create budget", "user", in.UserID, "scope", le.Scope,
			"used", le.Used, "allowed", le.Allowed, "next", le.Next.Format(time.RFC3339))
		return nil, s.createRefused(ctx, le)
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.detach(ctx)
	defer cancel()
	if err := s.store.MarkSent(ctx, op.ID); err != nil {
		return nil, err
	}
	req := whapi.CreateChannelRequest{Name: remoteName(st.InstallID, ch), ProjectID: st.ProjectID, Phone: phone}
	for attempt := 1; ; attempt++ {
		remote, err := s.whapi.CreateChannel(ctx, req)
		if err == nil {
			s.settleAttempt(ctx, claim, models.AttemptCreated)
			return s.confirmCreateAndHook(ctx, actor, op.ID, remote)
		}
		if !whapi.OutcomeUnknown(err) {
			return nil, s.failCreate(ctx, actor, op.ID, ch.UserID, claim, err)
		}
		// The answer is lost: WHAPI may have made the channel. Look before
		// trying again. (The retry is the same claimed attempt: the budget
		// counts the attempt, and WHAPI's only if the first was not made.)
		s.log.WarnContext(ctx, "channel create: no answer, looking it up", "channel", ch.ID, "err", err)
		found, lerr := s.findRemote(ctx, st.InstallID, ch.ID)
		switch {
		case lerr != nil:
			s.settleAttempt(ctx, claim, models.AttemptUnknown)
			return ch, ErrOutcomeUnknown // Reconcile settles it
		case found != nil:
			s.settleAttempt(ctx, claim, models.AttemptCreated)
			return s.confirmCreateAndHook(ctx, actor, op.ID, found)
		case attempt >= 2:
			s.settleAttempt(ctx, claim, models.AttemptUnknown)
			return ch, ErrOutcomeUnknown
		}
	}
}

// WHAPI's create budget (reference.md §2.1, the docs' own words): "If you
// create more than 20 channels within a 30-minute period, you'll receive
// a '429: Too Many Requests' error until the 30-minute window resets",
// for the whole partner account. Whether the window rolls or is fixed is
// not documented: rolling is the safe reading (a fixed window never
// allows more in any 30 minutes than a rolling one does), and so is
// counting every PUT /channels sent, whatever WHAPI answered (the docs
// say "create", which may or may not count a refused attempt).
const (
	WHAPICreateLimit = 20
	CreateWindow     = 30 * time.Minute
)

// createRefused is the error of a create the budget refused (le), saying
// when to try again in anyone's words (no WHAPI name: customers never see
// one), in ctx's language; Detail says which limit, for admins.
func (s *Service) createRefused(ctx context.Context, le *models.LimitError) error {
	l := i18n.From(ctx)
	window := humanDuration(l, s.CreateBudget.Window)
	detail := l.T("prov.retry.detail_share", "Allowed", plainDigits(l, le.Allowed), "Window", window)
	switch le.Scope {
	case models.ScopePartner:
		detail = l.T("prov.retry.detail_partner", "Allowed", plainDigits(l, le.Allowed), "Window", window)
	case models.ScopeUpstream:
		detail = l.T("prov.retry.detail_upstream")
	}
	return &RetryLaterError{After: max(time.Second, le.Next.Sub(s.now())), Code: CodeCreateBudget,
		Again: i18n.T(ctx, "prov.retry.add_channel_again"), Detail: detail, loc: i18n.From(ctx)}
}

// settleAttempt records WHAPI's answer on the claimed create attempt; a
// failure is only logged (the attempt counts either way).
func (s *Service) settleAttempt(ctx context.Context, id int64, outcome string) {
	if err := s.store.SettleCreateAttempt(ctx, id, outcome); err != nil {
		s.log.WarnContext(ctx, "recording a create attempt's outcome failed", "attempt", id, "err", err)
	}
}

func (s *Service) confirmCreate(ctx context.Context, actor models.Actor, opID int64, remote *whapi.Channel) (*models.Channel, error) {
	ch, err := s.store.ConfirmCreate(ctx, opID, remoteOf(remote), s.channelEvent(ctx, webhookout.ChannelCreated))
	if err != nil {
		return nil, err
	}
	if err := s.autoAllocate(ctx, actor, ch.UserID, ch.ID); err != nil {
		s.log.WarnContext(ctx, "auto allocation after create failed", "channel", ch.ID, "err", err)
	}
	if fresh, err := s.store.ChannelByID(ctx, ch.ID); err == nil {
		ch = fresh
	}
	return ch, nil
}

// confirmCreateAndHook is confirmCreate, then the new channel's webhook.
func (s *Service) confirmCreateAndHook(ctx context.Context, actor models.Actor, opID int64, remote *whapi.Channel) (*models.Channel, error) {
	ch, err := s.confirmCreate(ctx, actor, opID, remote)
	if err == nil {
		s.hookAfterCreate(ctx, ch)
	}
	return ch, err
}

// failCreate settles a create WHAPI refused (claim being its attempt)
// and says why. WHAPI's own 429 means its budget is spent even though our
// count said it was not (another tool, or another installation, used the
// partner account): the budget is then held spent until WHAPI's
// Retry-After, or for a whole CreateWindow when it sent none (the safe
// reading: the docs promise 429 "until the 30-minute window resets"), so
// no further create is sent meanwhile, and the refusal is counted on one
// audit event as the budget's own refusals are.
func (s *Service) failCreate(ctx context.Context, actor models.Actor, opID, userID, claim int64, cause error) error {
	reason := "refused upstream"
	var ae *whapi.APIError
	if errors.As(cause, &ae) {
		reason = fmt.Sprintf("refused upstream (%d)", ae.Status)
	}
	if err := s.store.FailCreate(ctx, opID, reason); err != nil {
		return err
	}
	if errors.Is(cause, whapi.ErrRateLimited) {
		s.settleAttempt(ctx, claim, models.AttemptRefused)
		// The client puts DefaultRetryAfter on a 429 without a usable
		// Retry-After header: then the whole window is waited.
		wait := CreateWindow
		if ae != nil && ae.RetryAfter > 0 && ae.RetryAfter != whapi.DefaultRetryAfter {
			wait = ae.RetryAfter
		}
		now := s.now()
		until := now.Add(wait)
		if err := s.store.BlockCreates(ctx, until); err != nil {
			return err
		}
		s.log.WarnContext(ctx, "channel create refused by WHAPI (429): no create is sent until then", "until", until.UTC().Format(time.RFC3339), "err", cause)
		if err := s.store.CountRefusal(ctx, actor, "channel.create_refused_whapi", fmt.Sprintf("user %d", userID),
			"WHAPI answered a create with 429 (its budget is spent)", until, s.CreateBudget.Window, now); err != nil {
			return err
		}
		return s.createRefused(ctx, &models.LimitError{Scope: models.ScopeUpstream, Next: until})
	}
	s.settleAttempt(ctx, claim, models.AttemptFailed)
	if errors.Is(cause, whapi.ErrNoToken) || errors.Is(cause, whapi.ErrUnauthorized) {
		return fmt.Errorf("%w: the partner token was refused", ErrRefused)
	}
	return fmt.Errorf("%w: %s", ErrRefused, reason)
}

// findRemote looks for the WHAPI channel whose name carries our id.
func (s *Service) findRemote(ctx context.Context, install string, channelID int64) (*whapi.Channel, error) {
	all, err := s.whapi.ListAllChannels(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if id, ok := markerID(install, all[i].Name); ok && id == channelID {
			return &all[i], nil
		}
	}
	return nil, nil
}

// ExtendInput is an admin's (or the auto top-up's) extend.
type ExtendInput struct {
	ChannelID int64
	Days      int64
	Comment   string
	// dueBefore, for the auto top-up, reserves the days only while the
	// channel is still due: no paid days, or activeTill before it
	// (models.Store.ReserveTopUp).
	dueBefore *time.Time
}

// ValidateExtend checks the days and the comment; its FieldErrors
// are in the language ctx carries.
func ValidateExtend(ctx context.Context, in ExtendInput) (ExtendInput, error) {
	fe := FieldErrors{}
	if in.Days < 1 || in.Days > MaxExtendDays {
		fe["days"] = i18n.T(ctx, "prov.extend.days", "Max", plainNumber(ctx, MaxExtendDays))
	}
	c, err := cleanText(in.Comment, "comment", MaxComment, true)
	if err != nil {
		fe["comment"] = fieldMsg(ctx, err)
	}
	in.Comment = c
	if len(fe) > 0 {
		return in, fe
	}
	return in, nil
}

// Extend moves days from the owner's balance to a channel: it debits the
// balance (conditional update + ledger row), calls WHAPI's extend, then
// reads back activeTill; the first paid extend of a trial channel also
// switches it to live mode. A refused extend gives the days back; an
// unanswered one is settled from what WHAPI shows.
func (s *Service) Extend(ctx context.Context, actor models.Actor, in ExtendInput) (*models.Channel, error) {
	in, err := ValidateExtend(ctx, in)
	if err != nil {
		return nil, err
	}
	unlock := s.locks.lock(in.ChannelID)
	defer unlock()
	x, work, done, err := s.sendExtend(ctx, actor, in)
	defer done()
	if err != nil {
		return nil, err
	}
	return s.readBack(work, x, nil)
}

// extendSent is an extend WHAPI took (confirmed) or may have taken
// (outcome unknown), whose read-back is still to come: readBack.
type extendSent struct {
	// ch is the channel as the extend was reserved from (its activeTill
	// WHAPI's), op the extend's operation.
	ch *models.Channel
	op *models.Operation
	// confirmed: WHAPI answered success and the extend is booked
	// (ConfirmExtend); booked is the channel as that left it. Otherwise
	// the outcome is unknown and the days stay reserved until a reading
	// of WHAPI shows the extension.
	confirmed bool
	booked    *models.Channel
}

// sendExtend is Extend up to WHAPI's answer, for a caller that holds the
// channel's lock: it checks, reserves the days, calls WHAPI and books a
// success, or settles a refusal (an error, nothing sent back). work is
// the context the rest of the workflow runs in once something is
// reserved (detached from the caller's, with WorkTimeout); done releases
// it and is never nil.
func (s *Service) sendExtend(ctx context.Context, actor models.Actor, in ExtendInput) (x *extendSent, work context.Context, done context.CancelFunc, err error) {
	done = func() {}
	ch, err := s.permitted(ctx, in.ChannelID, ActExtend)
	if err != nil {
		return nil, ctx, done, err
	}
	// An unanswered extend is judged from the activeTill it started from,
	// so that must be WHAPI's.
	if ch, err = s.confirmedChannel(ctx, ch); err != nil {
		return nil, ctx, done, err
	}
	var op *models.Operation
	if in.dueBefore != nil {
		op, err = s.store.ReserveTopUp(ctx, actor, in.ChannelID, in.Days, in.Comment, *in.dueBefore)
	} else {
		op, err = s.store.ReserveExtend(ctx, actor, in.ChannelID, in.Days, in.Comment)
	}
	if err != nil {
		return nil, ctx, done, err
	}
	ctx, done = s.detach(ctx)
	if err := s.store.MarkSent(ctx, op.ID); err != nil {
		return nil, ctx, done, err
	}
	err = s.whapi.ExtendChannel(ctx, ch.RemoteID(), int(in.Days), in.Comment)
	switch {
	case err == nil:
		if err := s.store.ConfirmExtend(ctx, op.ID, s.channelEvent(ctx, webhookout.ChannelExtended)); err != nil {
			return nil, ctx, done, err
		}
		booked, err := s.store.ChannelByID(ctx, ch.ID)
		if err != nil {
			return nil, ctx, done, err
		}
		return &extendSent{ch: ch, op: op, confirmed: true, booked: booked}, ctx, done, nil
	case extendNotApplied(err):
		var soon *whapi.ExtendTooSoonError
		if errors.As(err, &soon) {
			// Extended moments ago: WHAPI takes another extend after its
			// cool-down. The days go back, and the channel records when,
			// so no one (a person, the auto top-up, another process) asks
			// WHAPI again before then. The partner's balance is fine.
			now := s.now()
			until := now.Add(soon.RetryAfter)
			if derr := s.store.DeferExtend(ctx, op.ID, until); derr != nil {
				return nil, ctx, done, derr
			}
			return nil, ctx, done, tooSoon(ctx, until, now)
		}
		if ferr := s.store.FailExtend(ctx, op.ID, "refused upstream"); ferr != nil {
			return nil, ctx, done, ferr
		}
		if errors.Is(err, whapi.ErrBalanceShort) {
			// Only a refusal that says so (whapi: a 402, or a text about
			// the balance) raises the partner-balance warning.
			now := s.now().UTC()
			if serr := s.store.SetPartnerShort(ctx, &now); serr != nil {
				return nil, ctx, done, serr
			}
			return nil, ctx, done, ErrPartnerShort
		}
		return nil, ctx, done, fmt.Errorf("%w: the channel was not extended", ErrRefused)
	}
	// No answer, a 5xx, or a failure reported under a 2xx status
	// (whapi.ErrFailedIn2xx): the extend may or may not have been applied,
	// so the days stay reserved until WHAPI shows the extension.
	s.log.WarnContext(ctx, "channel extend: outcome unknown", "channel", ch.ID, "op", op.ID, "err", err)
	return &extendSent{ch: ch, op: op}, ctx, done, nil
}

// readBack finishes an extend sendExtend sent, for a caller that holds the
// channel's lock, from listed (WHAPI's reading of the channel in a page of
// GET /channels/list taken after the extend answered) or, when that is
// nil or may be stale, from GET /channels/{id}.
//
// A confirmed extend records what WHAPI shows (activeTill; a first paid
// extend switches the channel to live: record). An extend whose outcome
// is unknown is booked only when the reading shows the extension
// (extendShows); otherwise, or when WHAPI cannot be read, it stays open
// (ErrOutcomeUnknown) for Reconcile, the days reserved.
func (s *Service) readBack(ctx context.Context, x *extendSent, listed *whapi.Channel) (*models.Channel, error) {
	if x.confirmed {
		if listed == nil {
			return s.afterExtend(ctx, x.ch.ID)
		}
		cur, err := s.store.ChannelByID(ctx, x.ch.ID)
		if err != nil {
			return nil, err
		}
		if !sameBooking(cur, x.booked) {
			// Changed since it was booked (synced, extended, started,
			// stopped): the list's reading may be older than that
			// change, so WHAPI is asked afresh.
			return s.afterExtend(ctx, x.ch.ID)
		}
		if err := s.record(ctx, cur, listed); err != nil {
			return nil, err
		}
		return s.store.ChannelByID(ctx, x.ch.ID)
	}
	remote := listed
	if remote == nil {
		var err error
		if remote, err = s.whapi.GetChannel(ctx, x.ch.RemoteID()); err != nil {
			return nil, ErrOutcomeUnknown
		}
	}
	if !extendShows(x.op, x.ch, remote) {
		return nil, ErrOutcomeUnknown
	}
	if err := s.store.ConfirmExtend(ctx, x.op.ID, s.channelEvent(ctx, webhookout.ChannelExtended)); err != nil {
		return nil, err
	}
	cur, err := s.store.ChannelByID(ctx, x.ch.ID)
	if err != nil {
		return nil, err
	}
	// The reading that showed the extension is WHAPI's state after it:
	// it is recorded as the read-back.
	if err := s.record(ctx, cur, remote); err != nil {
		return nil, err
	}
	return s.store.ChannelByID(ctx, x.ch.ID)
}

// sameBooking reports whether cur is still the channel as its extend left
// it (booked): nothing has read, changed or extended it since.
func sameBooking(cur, booked *models.Channel) bool {
	return !cur.TillConfirmed && cur.Status == booked.Status && cur.Stopped == booked.Stopped &&
		cur.DaysAllocated == booked.DaysAllocated && cur.UpdatedAt.Equal(booked.UpdatedAt)
}

// extendNotApplied reports a definite "no": WHAPI answered and refused.
// Our decision (whapi/README.md): any 4xx or a 503 on extend means not
// extended, whatever the body's shape; other 5xx, timeouts, resets and a
// failure reported under a 2xx (safe reading: such an answer says nothing
// about what WHAPI did) leave the outcome unknown. Why it refused (too
// soon after the last extend, the partner's balance short, or unsaid) is
// the WHAPI client's reading (whapi.ErrTooSoon, whapi.ErrBalanceShort).
func extendNotApplied(err error) bool {
	if isStatus(err, 503) {
		return true
	}
	return !whapi.OutcomeUnknown(err)
}

func isStatus(err error, status int) bool {
	var ae *whapi.APIError
	return errors.As(err, &ae) && ae.Status == status
}

// extendApplied reads the channel at WHAPI and judges whether the extend of
// op happened: activeTill moved by more than half the days from where it
// stood before (only whapidesk extends its channels, one at a time each).
func (s *Service) extendApplied(ctx context.Context, op *models.Operation, ch *models.Channel) (bool, error) {
	remote, err := s.whapi.GetChannel(ctx, ch.RemoteID())
	if err != nil {
		return false, err
	}
	return extendShows(op, ch, remote), nil
}

// extendShows judges from remote, a reading of channel ch at WHAPI taken
// after its extend op was sent, whether that extend happened: activeTill
// moved by more than half the days from where it stood before.
func extendShows(op *models.Operation, ch *models.Channel, remote *whapi.Channel) bool {
	before := ch.CreatedAt
	if op.TillBefore != nil {
		before = *op.TillBefore
	}
	threshold := before.Add(time.Duration(op.Days) * day / 2)
	return remote.ActiveTillTime().After(threshold)
}

// afterExtend reads back activeTill and records it (record: a channel
// meant to run that WHAPI holds stopped is started, and a trial channel's
// first paid days switch it to live mode, as the docs require). A channel
// whose days had run out is started so: WHAPI keeps it stopped after the
// extend until it is started (README: partners revive a stopped channel
// with start; reference §5: "extend + start resumes"), and its linked
// phone's messages would not flow until then. If that fails, Reconcile's
// next sync starts it, and its connect page wakes a line WHAPI shows
// asleep (NOT_INIT) meanwhile.
func (s *Service) afterExtend(ctx context.Context, channelID int64) (*models.Channel, error) {
	ch, err := s.store.ChannelByID(ctx, channelID)
	if err != nil {
		return nil, err
	}
	remote, err := s.whapi.GetChannel(ctx, ch.RemoteID())
	if err != nil {
		s.log.WarnContext(ctx, "read-back after extend failed; Reconcile will sync", "channel", ch.ID, "err", err)
		return ch, nil
	}
	if err := s.record(ctx, ch, remote); err != nil {
		return nil, err
	}
	return s.store.ChannelByID(ctx, ch.ID)
}

// goLive switches a channel with paid days that WHAPI shows in trial mode
// to live, as the docs require, and reports whether it did (the switch
// restarts the channel). An answer that leaves the outcome open (none, a
// 5xx, or a failure reported under a 2xx) is settled by reading the channel
// again: only a mode WHAPI shows counts, and *remote becomes that reading.
// A failure is logged; the next sync retries.
func (s *Service) goLive(ctx context.Context, ch *models.Channel, remote *whapi.Channel) bool {
	if remote.Mode != whapi.ModeTrial {
		return false
	}
	err := s.whapi.SetMode(ctx, ch.RemoteID(), whapi.ModeLive)
	if err == nil {
		remote.Mode = whapi.ModeLive
		return true
	}
	if whapi.OutcomeUnknown(err) {
		again, gerr := s.whapi.GetChannel(ctx, ch.RemoteID())
		if gerr == nil && again.Mode != whapi.ModeTrial {
			s.log.InfoContext(ctx, "the switch to live mode was not confirmed, but WHAPI shows it", "channel", ch.ID, "err", err)
			*remote = *again
			return true
		}
		if gerr == nil {
			*remote = *again
		}
	}
	s.log.WarnContext(ctx, "switching a paid channel to live mode failed; the next sync retries", "channel", ch.ID, "err", err)
	return false
}

// Delete deletes a channel at WHAPI and credits its unused paid days back
// to the owner. A channel already gone at WHAPI is cleaned up locally.
func (s *Service) Delete(ctx context.Context, actor models.Actor, channelID int64) (int64, error) {
	unlock := s.locks.lock(channelID)
	defer unlock()
	ch, err := s.permitted(ctx, channelID, ActDelete)
	if err != nil {
		return 0, err
	}
	// The days given back are counted from activeTill: it must be WHAPI's
	// (ReserveDelete refuses it otherwise).
	if _, err = s.confirmedChannel(ctx, ch); err != nil {
		return 0, err
	}
	op, err := s.store.ReserveDelete(ctx, actor, channelID)
	if err != nil || op == nil {
		return 0, err
	}
	// The row as the reservation found it: no extend open, none possible
	// from now on, its activeTill WHAPI's — another instance may have
	// extended the channel since ch was read.
	if ch, err = s.store.ChannelByID(ctx, channelID); err != nil {
		return 0, err
	}
	ctx, cancel := s.detach(ctx)
	defer cancel()
	if err := s.store.MarkSent(ctx, op.ID); err != nil {
		return 0, err
	}
	err = s.whapi.DeleteChannel(ctx, ch.RemoteID())
	switch {
	case err == nil || errors.Is(err, whapi.ErrNotFound):
		days := UnusedDays(ch, s.now())
		return days, s.store.ConfirmDelete(ctx, op.ID, days, s.channelEvent(ctx, webhookout.ChannelDeleted))
	case !whapi.OutcomeUnknown(err):
		if ferr := s.store.FailDelete(ctx, op.ID, "refused upstream"); ferr != nil {
			return 0, ferr
		}
		return 0, fmt.Errorf("%w: the channel was not deleted", ErrRefused)
	}
	// No answer, a 5xx, or a failure under a 2xx: gone only if WHAPI says so.
	s.log.WarnContext(ctx, "channel delete: outcome unknown", "channel", ch.ID, "err", err)
	if _, gerr := s.whapi.GetChannel(ctx, ch.RemoteID()); errors.Is(gerr, whapi.ErrNotFound) {
		days := UnusedDays(ch, s.now())
		return days, s.store.ConfirmDelete(ctx, op.ID, days, s.channelEvent(ctx, webhookout.ChannelDeleted))
	}
	return 0, ErrOutcomeUnknown
}

// permitted loads a channel and checks that its lifecycle allows action a
// now (Permit): the caller gets the error every surface answers with.
func (s *Service) permitted(ctx context.Context, channelID int64, a Action) (*models.Channel, error) {
	ch, err := s.store.ChannelByID(ctx, channelID)
	if err != nil {
		return nil, err
	}
	if err := s.Permit(ctx, ch, a); err != nil {
		return nil, err
	}
	return ch, nil
}

// confirmedChannel returns ch, synced first from WHAPI when its activeTill
// was not read back after the last extend (an answer lost, or a crash
// before the read-back). The caller holds the channel's lock.
func (s *Service) confirmedChannel(ctx context.Context, ch *models.Channel) (*models.Channel, error) {
	if ch.TillConfirmed || ch.RemoteID() == "" {
		return ch, nil
	}
	synced, err := s.syncLocked(ctx, ch)
	if err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return nil, err
		}
		s.log.WarnContext(ctx, "sync before a change failed", "channel", ch.ID, "err", err)
		return nil, ErrUnavailable
	}
	return synced, nil
}

// Sync refreshes a channel's status, mode and active-till from WHAPI, if
// its lifecycle allows a sync (Permit; otherwise that refusal). A
// channel WHAPI no longer has is marked gone, its unused days returned. A
// channel with paid days that WHAPI still shows in trial mode is switched
// to live, as the docs require (the switch after its first paid extend may
// have failed, or the process may have stopped before it). It takes the
// channel's lock, so an answer read before an extend cannot overwrite the
// one read after it.
func (s *Service) Sync(ctx context.Context, channelID int64) (*models.Channel, error) {
	unlock := s.locks.lock(channelID)
	defer unlock()
	ch, err := s.permitted(ctx, channelID, ActSync)
	if err != nil {
		return nil, err
	}
	if ch, err = s.syncLocked(ctx, ch); err == nil {
		s.syncHook(ctx, ch)
	}
	return ch, err
}

// syncHook registers the webhook of a synced channel that lacks one (see
// ensureHook), and reports whether it did. A failure is logged; the next
// sync tries again.
func (s *Service) syncHook(ctx context.Context, ch *models.Channel) bool {
	done, err := s.ensureHook(ctx, ch)
	if err != nil {
		s.log.WarnContext(ctx, "webhook registration failed; the next sync retries", "channel", ch.ID, "err", err)
	}
	return done
}

// syncListed is Sync for Reconcile, which checked the partner token once
// for the whole run: only the channel's state is checked again (it may
// have changed since the channel was listed). hooked reports that the
// channel's webhook was registered.
func (s *Service) syncListed(ctx context.Context, channelID int64) (ch *models.Channel, hooked bool, err error) {
	unlock := s.locks.lock(channelID)
	defer unlock()
	if ch, err = s.store.ChannelByID(ctx, channelID); err != nil {
		return nil, false, err
	}
	if err := CheckState(ch, ActSync); err != nil {
		return nil, false, err
	}
	if ch, err = s.syncLocked(ctx, ch); err != nil {
		return nil, false, err
	}
	return ch, s.syncHook(ctx, ch), nil
}

// syncLocked is Sync of ch, loaded by a caller that holds the channel's
// lock; a channel its lifecycle does not let sync is returned as it is. It
// returns the channel as stored after the sync.
func (s *Service) syncLocked(ctx context.Context, ch *models.Channel) (*models.Channel, error) {
	if CheckState(ch, ActSync) != nil {
		return ch, nil
	}
	remote, err := s.whapi.GetChannel(ctx, ch.RemoteID())
	switch {
	case errors.Is(err, whapi.ErrNotFound):
		if err := s.store.MarkChannelGone(ctx, ch.ID, UnusedDays(ch, s.now()), s.channelEvent(ctx, webhookout.ChannelDeleted)); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if err := s.record(ctx, ch, remote); err != nil {
			return nil, err
		}
	}
	return s.store.ChannelByID(ctx, ch.ID)
}

// record stores what WHAPI shows of a channel it holds (status, mode,
// times, stopped), after two repairs. A running channel that whapidesk
// means to run (not stopped here) but WHAPI holds stopped with days ahead
// is started once (startMeant): a channel revived by an extend, a start
// whose answer was lost, or a stop made outside whapidesk. And a channel
// with paid days that WHAPI still shows in trial mode is switched to live,
// as the docs require (the switch after its first paid extend may have
// failed, or the process may have stopped before it) — but only while it
// runs: a mode change restarts a channel, and a stopped one must stay
// stopped (whether it would start it is undocumented).
func (s *Service) record(ctx context.Context, ch *models.Channel, remote *whapi.Channel) error {
	rc := remoteOf(remote)
	// ch is the channel as it was when WHAPI was read: an extend settled
	// since (by another instance: this process's lock is its own) makes
	// the reading too old to store.
	readAt := ch.DaysAllocated
	rc.ReadAt = &readAt
	if meantToRun(ch) && rc.Stopped && rc.ActiveTill.After(s.now()) {
		rc = s.startMeant(ctx, ch, rc)
	}
	if ch.DaysAllocated > 0 && !(rc.Stopped && rc.ActiveTill.After(s.now())) {
		s.goLive(ctx, ch, remote)
		rc.Mode = remote.Mode
	}
	return s.store.SyncChannel(ctx, ch.ID, rc)
}
