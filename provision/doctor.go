package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/whapi"
)

// Doctor (issue 13, point 8): read-only checks of the connection to WHAPI,
// one line each, for `whapidesk doctor` and the WHAPI Settings page's "Test
// connection". It only reads: GET /projects on the manager, GET
// /health?wakeup=false on one channel's gate (a read that wakes no sleeping
// channel), GET /healthz at the public address, and the settings and
// channels in the database. It writes nothing, here or at WHAPI.

// Outcome is how one check of Doctor went.
type Outcome string

// Outcomes. Only OutcomeFail makes `whapidesk doctor` exit non-zero.
const (
	OutcomePass Outcome = "pass"
	OutcomeWarn Outcome = "warn"
	OutcomeFail Outcome = "fail"
	// OutcomeSkip: the check could not be made, because one before it
	// failed or there is nothing to check yet; the line says why.
	OutcomeSkip Outcome = "skip"
)

// Names of the checks, in the order a report lists them.
const (
	CheckToken     = "token"
	CheckManager   = "manager"
	CheckProject   = "project"
	CheckClock     = "clock"
	CheckGate      = "gate"
	CheckPublicURL = "public URL"
	CheckWebhooks  = "webhooks"
)

// Clock skew limits. The windows whapidesk keeps with WHAPI are minutes:
// WHAPI refuses a second extend of a channel within five minutes (the
// cool-down whapidesk waits out by its own clock), Reconcile leaves an
// unanswered change alone for SettleAfter (two minutes) before it judges
// it from what WHAPI shows, and days left and the days a delete gives back
// compare WHAPI's activeTill with this server's clock. A skew of a minute
// already blurs those windows; five minutes breaks them.
const (
	skewWarn = time.Minute
	skewFail = 5 * time.Minute
)

// publicTimeout bounds the GET of the public address's /healthz: the app
// answers it at once, and WHAPI does not wait long for a webhook either.
const publicTimeout = 5 * time.Second

// DoctorCheck is one line of a DoctorReport. Detail is in plain words for
// an admin, in English (the command line's and the log's words; DetailIn
// says it in a reader's language): never a token, a channel's WHAPI id or
// a webhook's secret, and never WHAPI's own error text
// (whapi.APIError.Message).
type DoctorCheck struct {
	Name    string
	Outcome Outcome
	Detail  string
	// id and args are Detail's catalog message and its arguments (name,
	// value pairs; a words value is said in the reader's language too).
	id   string
	args []any
}

// words is a part of a doctor's line said in a reader's language: a
// duration, a line's state, why WHAPI gave no answer.
type words func(l *i18n.Localizer) string

// check is a doctor's line: its detail the catalog's message id with
// args, kept to be said in any language, and said in English now.
func check(name string, o Outcome, id string, args ...any) DoctorCheck {
	c := DoctorCheck{Name: name, Outcome: o, id: id, args: args}
	c.Detail = c.DetailIn(i18n.For(i18n.Default))
	return c
}

// DetailIn is the line's detail in l's language.
func (c DoctorCheck) DetailIn(l *i18n.Localizer) string {
	if c.id == "" {
		return c.Detail
	}
	return say(l, c.id, c.args...)
}

// say is the message id in l's language, its words arguments said in it
// too.
func say(l *i18n.Localizer, id string, args ...any) string {
	said := make([]any, len(args))
	for i, a := range args {
		if w, ok := a.(words); ok {
			a = w(l)
		}
		said[i] = a
	}
	return l.T(id, said...)
}

// DoctorReport is what Doctor found: every check, in a fixed order.
type DoctorReport struct {
	Checks []DoctorCheck
	// At is when the checks ran, by the service's clock.
	At time.Time
}

// Count is how many checks had outcome o.
func (r DoctorReport) Count(o Outcome) int {
	n := 0
	for _, c := range r.Checks {
		if c.Outcome == o {
			n++
		}
	}
	return n
}

// Doctor checks, read-only, what whapidesk needs of WHAPI and of its own
// public address:
//
//   - token: a partner token is saved, and the manager accepts it;
//   - manager: the manager answers (GET /projects);
//   - project: the configured project is one WHAPI lists;
//   - clock: this server's clock against the manager's (its Date header);
//   - gate: one running channel's own gate answers (GET /health with
//     wakeup=false), a linked channel preferred;
//   - public URL: set, and answering its /healthz with "ok";
//   - webhooks: how many running channels have their webhook registered
//     under the public URL.
//
// The manager, the gate and the public address are asked at once, so a
// report takes as long as the slowest of them. Unlike TestConnection, it
// records nothing: not even WHAPI's list of projects.
func (s *Service) Doctor(ctx context.Context) DoctorReport {
	return s.doctor(ctx, nil)
}

// doctor is Doctor; with mgr set, the manager was asked already (by
// TestConnectionReport) and its answer is used instead of asking again.
func (s *Service) doctor(ctx context.Context, mgr *managerProbe) DoctorReport {
	rep := DoctorReport{At: s.now()}
	st, err := s.store.Settings(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "doctor: reading the settings failed", "err", err)
		rep.Checks = []DoctorCheck{check(CheckToken, OutcomeFail, "prov.doctor.settings_unreadable", "Err", isolated(err.Error()))}
		return rep
	}
	running, dbErr := s.runningChannels(ctx)

	var wg sync.WaitGroup
	var gate, public DoctorCheck
	if mgr == nil {
		mgr = &managerProbe{}
		if st.Configured() {
			wg.Go(func() { *mgr = s.probeManager(ctx) })
		}
	}
	wg.Go(func() { gate = s.probeGate(ctx, running, dbErr) })
	wg.Go(func() { public = s.probePublicURL(ctx) })
	wg.Wait()

	rep.Checks = append(rep.Checks, mgr.checks(st)...)
	rep.Checks = append(rep.Checks, gate, public, s.webhooksCheck(ctx, running, dbErr))
	for _, c := range rep.Checks {
		if c.Outcome == OutcomeFail {
			s.log.WarnContext(ctx, "doctor: check failed", "check", c.Name, "detail", c.Detail)
		}
	}
	return rep
}

// managerProbe is the manager's answer to GET /projects, and when it came
// by this server's clock.
type managerProbe struct {
	asked   bool
	list    *whapi.ProjectList
	err     error
	elapsed time.Duration
	now     time.Time
}

func (s *Service) probeManager(ctx context.Context) managerProbe {
	start := time.Now()
	list, err := s.whapi.Projects(ctx)
	return managerProbe{asked: true, list: list, err: err, elapsed: time.Since(start), now: s.now()}
}

// checks are the token, manager, project and clock lines.
func (p managerProbe) checks(st *models.Settings) []DoctorCheck {
	if !p.asked {
		return []DoctorCheck{
			check(CheckToken, OutcomeFail, "prov.doctor.token.not_configured"),
			check(CheckManager, OutcomeSkip, "prov.doctor.manager.not_asked_no_token"),
			check(CheckProject, OutcomeSkip, "prov.doctor.not_checked.no_token"),
			check(CheckClock, OutcomeSkip, "prov.doctor.not_checked.no_token"),
		}
	}
	hint := isolated(st.TokenHint) // "…a1b2": its ellipsis stays in front in a right-to-left sentence
	switch {
	case p.err == nil:
		return []DoctorCheck{
			check(CheckToken, OutcomePass, "prov.doctor.token.accepted", "Hint", hint),
			check(CheckManager, OutcomePass, "prov.doctor.manager.answered", "Took", roundMS(p.elapsed)),
			projectCheck(st.ProjectID, p.list),
			clockCheck(p.list.Date, p.now),
		}
	case errors.Is(p.err, whapi.ErrNoToken):
		// The token is saved but could not be read: another secret key.
		return []DoctorCheck{
			check(CheckToken, OutcomeFail, "prov.doctor.token.undecryptable", "Hint", hint),
			check(CheckManager, OutcomeSkip, "prov.doctor.manager.not_asked_unreadable"),
			check(CheckProject, OutcomeSkip, "prov.doctor.not_checked.unreadable"),
			check(CheckClock, OutcomeSkip, "prov.doctor.not_checked.unreadable"),
		}
	case errors.Is(p.err, whapi.ErrUnauthorized):
		return []DoctorCheck{
			check(CheckToken, OutcomeFail, "prov.doctor.token.refused", "Hint", hint, "Status", statusOf(p.err)),
			check(CheckManager, OutcomePass, "prov.doctor.manager.answered", "Took", roundMS(p.elapsed)),
			check(CheckProject, OutcomeSkip, "prov.doctor.not_checked.refused"),
			check(CheckClock, OutcomeSkip, "prov.doctor.not_checked.refused"),
		}
	}
	return []DoctorCheck{
		check(CheckToken, OutcomeSkip, "prov.doctor.token.no_manager", "Hint", hint),
		check(CheckManager, OutcomeFail, "prov.doctor.why", "Why", whyNot(p.err)),
		check(CheckProject, OutcomeSkip, "prov.doctor.not_checked.no_manager"),
		check(CheckClock, OutcomeSkip, "prov.doctor.not_checked.no_manager"),
	}
}

// projectCheck says whether WHAPI lists the configured project ("default"
// is WHAPI's alias of its default project).
func projectCheck(id string, list *whapi.ProjectList) DoctorCheck {
	for _, p := range list.Projects {
		if p.ID == id || (id == "default" && p.IsDefault) {
			if n := projectName(p.Name); n != "" {
				return check(CheckProject, OutcomePass, "prov.doctor.project.listed_named", "ID", isolated(id), "Name", isolated(n))
			}
			return check(CheckProject, OutcomePass, "prov.doctor.project.listed", "ID", isolated(id))
		}
	}
	if len(list.Projects) == 0 {
		return check(CheckProject, OutcomeFail, "prov.doctor.project.none")
	}
	return check(CheckProject, OutcomeFail, "prov.doctor.project.not_listed", "ID", isolated(id))
}

// isolated is a Latin id, a name or an address in a doctor's line: set
// apart from a right-to-left sentence (i18n.Localizer.IsolateRTL).
func isolated(s string) words {
	return func(l *i18n.Localizer) string { return l.IsolateRTL(s) }
}

// clockCheck compares this server's clock (now, when the answer came) with
// the manager's (date, from its answer's Date header; whole seconds).
func clockCheck(date, now time.Time) DoctorCheck {
	if date.IsZero() {
		return check(CheckClock, OutcomeWarn, "prov.doctor.clock.no_date")
	}
	skew := now.Sub(date)
	abs, way := skew, "prov.doctor.clock.ahead"
	if skew < 0 {
		abs, way = -skew, "prov.doctor.clock.behind"
	}
	text := words(func(l *i18n.Localizer) string { return l.T(way, "Skew", roundS(abs)(l)) })
	switch {
	case abs > skewFail:
		return check(CheckClock, OutcomeFail, "prov.doctor.clock.fail", "Text", text)
	case abs > skewWarn:
		return check(CheckClock, OutcomeWarn, "prov.doctor.clock.warn", "Text", text)
	}
	// Date has whole seconds and the answer took a while: within 2 s is
	// as close as this can tell.
	if abs <= 2*time.Second {
		return check(CheckClock, OutcomePass, "prov.doctor.clock.agrees", "Within", roundS(2*time.Second))
	}
	return check(CheckClock, OutcomePass, "prov.doctor.clock.skew", "Text", text)
}

// runningChannels are the channels that WHAPI holds and that run (a phone
// may be linked to them): those that should have a webhook and whose gate
// answers. Read-only.
func (s *Service) runningChannels(ctx context.Context) ([]*models.Channel, error) {
	ids, err := s.store.SyncableChannelIDs(ctx)
	if err != nil {
		return nil, err
	}
	var out []*models.Channel
	for _, id := range ids {
		ch, err := s.store.ChannelByID(ctx, id)
		if errors.Is(err, models.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if hookable(ch) {
			out = append(out, ch)
		}
	}
	return out, nil
}

// probeGate asks one running channel's own gate for its health, without
// waking it: a linked channel when there is one (its gate is the one
// customers use), else the first.
func (s *Service) probeGate(ctx context.Context, running []*models.Channel, dbErr error) DoctorCheck {
	if dbErr != nil {
		return check(CheckGate, OutcomeFail, "prov.doctor.channels_unreadable", "Err", isolated(dbErr.Error()))
	}
	if len(running) == 0 {
		return check(CheckGate, OutcomeWarn, "prov.doctor.gate.none")
	}
	ch := running[0]
	for _, c := range running {
		if c.Linked {
			ch = c
			break
		}
	}
	which := channelWords(ch)
	token, err := s.store.ChannelToken(ch)
	if err != nil {
		return check(CheckGate, OutcomeFail, "prov.doctor.gate.undecryptable", "Channel", which)
	}
	start := time.Now()
	h, err := s.whapi.Gate(ch.APIURL).Health(ctx, token)
	elapsed := time.Since(start)
	switch {
	case err == nil:
		return check(CheckGate, OutcomePass, "prov.doctor.gate.answered", "Channel", which, "Took", roundMS(elapsed), "Line", lineWords(h.Status.Text))
	case errors.Is(err, whapi.ErrUnauthorized):
		return check(CheckGate, OutcomeFail, "prov.doctor.gate.refused", "Channel", which, "Status", statusOf(err))
	}
	return check(CheckGate, OutcomeFail, "prov.doctor.gate.failed", "Channel", which, "Why", whyNot(err))
}

// channelWords names a channel for an admin: its name and our id, never
// WHAPI's.
func channelWords(ch *models.Channel) words {
	return func(l *i18n.Localizer) string {
		return l.T("prov.doctor.channel", "Name", l.IsolateRTL(ch.Name), "ID", plainDigits(l, ch.ID))
	}
}

// lineWordIDs are the gate statuses' words.
var lineWordIDs = map[string]string{
	whapi.StatusAuth:    "prov.doctor.line.linked",
	whapi.StatusQR:      "prov.doctor.line.waiting",
	whapi.StatusInit:    "prov.doctor.line.starting",
	whapi.StatusLaunch:  "prov.doctor.line.starting",
	whapi.StatusNotInit: "prov.doctor.line.asleep",
	whapi.StatusStop:    "prov.doctor.line.stopped",
}

// lineWords is a gate status in words, WHAPI's own word after it.
func lineWords(status string) words {
	id := lineWordIDs[status]
	return func(l *i18n.Localizer) string {
		if id == "" {
			return l.T("prov.doctor.line.unknown", "Status", l.IsolateRTL(status))
		}
		return l.T("prov.doctor.line.with_status", "Words", l.T(id), "Status", l.IsolateRTL(status))
	}
}

// probePublicURL asks the public address for /healthz, as WHAPI would
// reach it (no redirect followed: WHAPI posts webhooks to the address as
// it is). It is asked from this server, so a name that resolves only
// outside (or a firewall that lets WHAPI in) may answer differently there.
func (s *Service) probePublicURL(ctx context.Context) DoctorCheck {
	if s.publicURL == "" {
		return check(CheckPublicURL, OutcomeWarn, "prov.doctor.public.unset")
	}
	target := s.publicURL + "/healthz"
	at := isolated(target)
	ctx, cancel := context.WithTimeout(ctx, publicTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return check(CheckPublicURL, OutcomeFail, "prov.doctor.public.not_address", "Target", at, "Err", isolated(err.Error()))
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := time.Now()
	res, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return check(CheckPublicURL, OutcomeFail, "prov.doctor.public.timeout", "Target", at, "Wait", roundS(publicTimeout))
		}
		return check(CheckPublicURL, OutcomeFail, "prov.doctor.public.no_answer", "Target", at, "Err", isolated(transportWords(err)))
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64))
	elapsed := time.Since(start)
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return check(CheckPublicURL, OutcomeFail, "prov.doctor.public.redirect", "Target", at, "Status", statusWords(res.StatusCode),
			"Location", isolated(res.Header.Get("Location")))
	case res.StatusCode != http.StatusOK:
		return check(CheckPublicURL, OutcomeFail, "prov.doctor.public.status", "Target", at, "Status", statusWords(res.StatusCode))
	case strings.TrimSpace(string(body)) != "ok":
		return check(CheckPublicURL, OutcomeFail, "prov.doctor.public.not_ok", "Target", at)
	}
	return check(CheckPublicURL, OutcomePass, "prov.doctor.public.ok", "Target", at, "Took", roundMS(elapsed))
}

// webhooksCheck counts the running channels whose webhook is registered
// under the public address (as the last registration WHAPI confirmed left
// it: models.ChannelGate).
func (s *Service) webhooksCheck(ctx context.Context, running []*models.Channel, dbErr error) DoctorCheck {
	switch {
	case s.publicURL == "":
		return check(CheckWebhooks, OutcomeSkip, "prov.doctor.webhooks.off")
	case dbErr != nil:
		return check(CheckWebhooks, OutcomeFail, "prov.doctor.channels_unreadable", "Err", isolated(dbErr.Error()))
	case len(running) == 0:
		return check(CheckWebhooks, OutcomeSkip, "prov.doctor.webhooks.none")
	}
	hooked := 0
	for _, ch := range running {
		g, err := s.store.ChannelGate(ctx, ch.ID)
		if err != nil {
			return check(CheckWebhooks, OutcomeFail, "prov.doctor.webhooks.unreadable", "Err", isolated(err.Error()))
		}
		if g.Registered(s.publicURL) {
			hooked++
		}
	}
	n := func(v int) words { return func(l *i18n.Localizer) string { return plainDigits(l, int64(v)) } }
	if hooked == len(running) {
		return check(CheckWebhooks, OutcomePass, "prov.doctor.webhooks.all", "Hooked", n(hooked), "Running", n(len(running)))
	}
	return check(CheckWebhooks, OutcomeWarn, "prov.doctor.webhooks.some", "Hooked", n(hooked), "Running", n(len(running)))
}

// whyNot says in plain words why a WHAPI call got no usable answer: the
// status WHAPI answered (never its message, which pages must not show),
// or what kept the answer from coming.
func whyNot(err error) words {
	var ae *whapi.APIError
	id, args := "prov.doctor.why_not.unreachable", []any{"Err", isolated(transportWords(err))}
	switch {
	case errors.As(err, &ae):
		id, args = "prov.doctor.why_not.status", []any{"Status", statusWords(ae.Status)}
	case errors.Is(err, whapi.ErrTimeout):
		id, args = "prov.doctor.why_not.timeout", nil
	case errors.Is(err, whapi.ErrInvalidInput):
		id, args = "prov.doctor.why_not.bad_url", nil
	case errors.Is(err, whapi.ErrUpstream):
		id, args = "prov.doctor.why_not.upstream", nil
	}
	return func(l *i18n.Localizer) string { return say(l, id, args...) }
}

// transportWords is what a failed connection says: the network error
// (address, DNS, TLS), without the request's URL.
func transportWords(err error) string {
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return dns.Error()
	case errors.As(err, &op):
		return op.Error()
	}
	return err.Error()
}

// statusOf is the HTTP status an error carries, as "401", or "refused".
func statusOf(err error) words {
	var ae *whapi.APIError
	if errors.As(err, &ae) {
		return func(l *i18n.Localizer) string { return plainDigits(l, int64(ae.Status)) }
	}
	return func(l *i18n.Localizer) string { return l.T("prov.doctor.refused") }
}

// statusWords is an HTTP status as "502 Bad Gateway" in English (Go's
// reason phrases are English), as its number alone in another language.
func statusWords(code int) words {
	return func(l *i18n.Localizer) string {
		if t := http.StatusText(code); t != "" && l.Tag() == i18n.Default {
			return fmt.Sprintf("%d %s", code, t)
		}
		return plainDigits(l, int64(code))
	}
}

// roundMS is a short duration in milliseconds: "85 ms".
func roundMS(d time.Duration) words {
	return func(l *i18n.Localizer) string { return l.T("prov.doctor.ms", "N", plainDigits(l, d.Milliseconds())) }
}

// roundS is a duration in whole minutes and seconds: "3 min 20 s", "45 s".
func roundS(d time.Duration) words {
	d = d.Round(time.Second)
	m, sec := int64(d/time.Minute), int64((d%time.Minute)/time.Second)
	return func(l *i18n.Localizer) string {
		switch {
		case m == 0:
			return l.T("prov.doctor.s", "S", plainDigits(l, sec))
		case sec == 0:
			return l.T("prov.doctor.min", "M", plainDigits(l, m))
		}
		return l.T("prov.doctor.min_s", "M", plainDigits(l, m), "S", plainDigits(l, sec))
	}
}
