package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

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
// an admin: never a token, a channel's WHAPI id or a webhook's secret,
// and never WHAPI's own error text (whapi.APIError.Message).
type DoctorCheck struct {
	Name    string
	Outcome Outcome
	Detail  string
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
		rep.Checks = []DoctorCheck{{CheckToken, OutcomeFail, "the settings cannot be read from the database: " + err.Error()}}
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
			{CheckToken, OutcomeFail, "not configured: save the partner token on WHAPI Settings"},
			{CheckManager, OutcomeSkip, "not asked: no partner token is saved"},
			{CheckProject, OutcomeSkip, "not checked: no partner token is saved"},
			{CheckClock, OutcomeSkip, "not checked: no partner token is saved"},
		}
	}
	saved := "saved (" + st.TokenHint + ")"
	switch {
	case p.err == nil:
		return []DoctorCheck{
			{CheckToken, OutcomePass, saved + " and accepted by WHAPI"},
			{CheckManager, OutcomePass, "answered in " + roundMS(p.elapsed)},
			projectCheck(st.ProjectID, p.list),
			clockCheck(p.list.Date, p.now),
		}
	case errors.Is(p.err, whapi.ErrNoToken):
		// The token is saved but could not be read: another secret key.
		return []DoctorCheck{
			{CheckToken, OutcomeFail, saved + ", but it cannot be decrypted: the secret key " +
				"(WHAPIDESK_SECRET_KEY, or secret.key beside the database) is not the one it was saved with"},
			{CheckManager, OutcomeSkip, "not asked: the partner token cannot be read"},
			{CheckProject, OutcomeSkip, "not checked: the partner token cannot be read"},
			{CheckClock, OutcomeSkip, "not checked: the partner token cannot be read"},
		}
	case errors.Is(p.err, whapi.ErrUnauthorized):
		return []DoctorCheck{
			{CheckToken, OutcomeFail, saved + ", but WHAPI refused it (" + statusOf(p.err) + "): paste the whole partner token again on WHAPI Settings"},
			{CheckManager, OutcomePass, "answered in " + roundMS(p.elapsed)},
			{CheckProject, OutcomeSkip, "not checked: WHAPI refused the partner token"},
			{CheckClock, OutcomeSkip, "not checked: WHAPI refused the partner token"},
		}
	}
	return []DoctorCheck{
		{CheckToken, OutcomeSkip, saved + ", not checked: the manager did not answer"},
		{CheckManager, OutcomeFail, whyNot(p.err)},
		{CheckProject, OutcomeSkip, "not checked: the manager did not answer"},
		{CheckClock, OutcomeSkip, "not checked: the manager did not answer"},
	}
}

// projectCheck says whether WHAPI lists the configured project ("default"
// is WHAPI's alias of its default project).
func projectCheck(id string, list *whapi.ProjectList) DoctorCheck {
	for _, p := range list.Projects {
		if p.ID == id || (id == "default" && p.IsDefault) {
			name := ""
			if n := projectName(p.Name); n != "" {
				name = " (“" + n + "”)"
			}
			return DoctorCheck{CheckProject, OutcomePass, "WHAPI lists " + id + name}
		}
	}
	if len(list.Projects) == 0 {
		return DoctorCheck{CheckProject, OutcomeFail, "WHAPI lists no project for this token: create one in WHAPI's dashboard, then pick it on WHAPI Settings"}
	}
	return DoctorCheck{CheckProject, OutcomeFail, id + " is not among the projects WHAPI lists, so no channel can be created: " +
		"pick one of them on WHAPI Settings (Test connection lists them)"}
}

// clockCheck compares this server's clock (now, when the answer came) with
// the manager's (date, from its answer's Date header; whole seconds).
func clockCheck(date, now time.Time) DoctorCheck {
	if date.IsZero() {
		return DoctorCheck{CheckClock, OutcomeWarn, "not compared: WHAPI's answer carried no Date header"}
	}
	skew := now.Sub(date)
	abs, way := skew, "ahead of"
	if skew < 0 {
		abs, way = -skew, "behind"
	}
	text := "this server's clock is " + roundS(abs) + " " + way + " WHAPI's"
	switch {
	case abs > skewFail:
		return DoctorCheck{CheckClock, OutcomeFail, text + ": set it right (NTP); extend cool-downs and settling need the clocks within a minute"}
	case abs > skewWarn:
		return DoctorCheck{CheckClock, OutcomeWarn, text + ": keep it in time with NTP"}
	}
	// Date has whole seconds and the answer took a while: within 2 s is
	// as close as this can tell.
	if abs <= 2*time.Second {
		return DoctorCheck{CheckClock, OutcomePass, "this server's clock agrees with WHAPI's (within 2 s)"}
	}
	return DoctorCheck{CheckClock, OutcomePass, text}
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
		return DoctorCheck{CheckGate, OutcomeFail, "the channels cannot be read from the database: " + dbErr.Error()}
	}
	if len(running) == 0 {
		return DoctorCheck{CheckGate, OutcomeWarn, "no channel to test the gate with yet"}
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
		return DoctorCheck{CheckGate, OutcomeFail, which + ": its token cannot be decrypted with this secret key"}
	}
	start := time.Now()
	h, err := s.whapi.Gate(ch.APIURL).Health(ctx, token)
	elapsed := time.Since(start)
	switch {
	case err == nil:
		return DoctorCheck{CheckGate, OutcomePass, which + " answered in " + roundMS(elapsed) + ": " + lineWords(h.Status.Text)}
	case errors.Is(err, whapi.ErrUnauthorized):
		return DoctorCheck{CheckGate, OutcomeFail, which + ": the gate refused its token (" + statusOf(err) + ")"}
	}
	return DoctorCheck{CheckGate, OutcomeFail, which + ": " + whyNot(err)}
}

// channelWords names a channel for an admin: its name and our id, never
// WHAPI's.
func channelWords(ch *models.Channel) string {
	return "channel “" + ch.Name + "” (#" + strconv.FormatInt(ch.ID, 10) + ")"
}

// lineWords is a gate status in words, WHAPI's own word after it.
func lineWords(status string) string {
	words := map[string]string{
		whapi.StatusAuth:    "a phone is linked",
		whapi.StatusQR:      "waiting for a phone to be linked",
		whapi.StatusInit:    "starting",
		whapi.StatusLaunch:  "starting",
		whapi.StatusNotInit: "asleep",
		whapi.StatusStop:    "stopped",
	}[status]
	if words == "" {
		return "status " + status
	}
	return words + " (" + status + ")"
}

// probePublicURL asks the public address for /healthz, as WHAPI would
// reach it (no redirect followed: WHAPI posts webhooks to the address as
// it is). It is asked from this server, so a name that resolves only
// outside (or a firewall that lets WHAPI in) may answer differently there.
func (s *Service) probePublicURL(ctx context.Context) DoctorCheck {
	if s.publicURL == "" {
		return DoctorCheck{CheckPublicURL, OutcomeWarn, "not set: no webhooks, so status changes wait for the next poll " +
			"(set --public-url or WHAPIDESK_PUBLIC_URL)"}
	}
	target := s.publicURL + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, publicTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return DoctorCheck{CheckPublicURL, OutcomeFail, target + " is not an address: " + err.Error()}
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := time.Now()
	res, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return DoctorCheck{CheckPublicURL, OutcomeFail, target + " did not answer within " + roundS(publicTimeout)}
		}
		return DoctorCheck{CheckPublicURL, OutcomeFail, target + " did not answer: " + transportWords(err)}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64))
	elapsed := time.Since(start)
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return DoctorCheck{CheckPublicURL, OutcomeFail, target + " answered " + statusWords(res.StatusCode) +
			", a redirect to " + res.Header.Get("Location") + ": set the public URL to the address it redirects to"}
	case res.StatusCode != http.StatusOK:
		return DoctorCheck{CheckPublicURL, OutcomeFail, target + " answered " + statusWords(res.StatusCode) + ": is this the address of this app?"}
	case strings.TrimSpace(string(body)) != "ok":
		return DoctorCheck{CheckPublicURL, OutcomeFail, target + " answered, but not with this app's “ok”: is this the address of this app?"}
	}
	return DoctorCheck{CheckPublicURL, OutcomePass, target + " answered “ok” in " + roundMS(elapsed)}
}

// webhooksCheck counts the running channels whose webhook is registered
// under the public address (as the last registration WHAPI confirmed left
// it: models.ChannelGate).
func (s *Service) webhooksCheck(ctx context.Context, running []*models.Channel, dbErr error) DoctorCheck {
	switch {
	case s.publicURL == "":
		return DoctorCheck{CheckWebhooks, OutcomeSkip, "off: no public URL is set"}
	case dbErr != nil:
		return DoctorCheck{CheckWebhooks, OutcomeFail, "the channels cannot be read from the database: " + dbErr.Error()}
	case len(running) == 0:
		return DoctorCheck{CheckWebhooks, OutcomeSkip, "no running channel yet"}
	}
	hooked := 0
	for _, ch := range running {
		g, err := s.store.ChannelGate(ctx, ch.ID)
		if err != nil {
			return DoctorCheck{CheckWebhooks, OutcomeFail, "the webhooks cannot be read from the database: " + err.Error()}
		}
		if g.Registered(s.publicURL) {
			hooked++
		}
	}
	counts := strconv.Itoa(hooked) + " of " + strconv.Itoa(len(running))
	if hooked == len(running) {
		return DoctorCheck{CheckWebhooks, OutcomePass, "running channels with a webhook: " + counts}
	}
	return DoctorCheck{CheckWebhooks, OutcomeWarn, "running channels with a webhook: " + counts +
		"; the next sync (Sync now on the dashboard, or within 10 minutes) registers the others"}
}

// whyNot says in plain words why a WHAPI call got no usable answer: the
// status WHAPI answered (never its message, which pages must not show),
// or what kept the answer from coming.
func whyNot(err error) string {
	var ae *whapi.APIError
	switch {
	case errors.As(err, &ae):
		return "WHAPI answered " + statusWords(ae.Status)
	case errors.Is(err, whapi.ErrTimeout):
		return "no answer in time"
	case errors.Is(err, whapi.ErrInvalidInput):
		return "the configured address is not an http(s) URL"
	case errors.Is(err, whapi.ErrUpstream):
		return "the answer was not what WHAPI sends"
	}
	return "unreachable: " + transportWords(err)
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
func statusOf(err error) string {
	var ae *whapi.APIError
	if errors.As(err, &ae) {
		return strconv.Itoa(ae.Status)
	}
	return "refused"
}

// statusWords is an HTTP status as "502 Bad Gateway".
func statusWords(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return strconv.Itoa(code)
}

// roundMS is a short duration in milliseconds: "85 ms".
func roundMS(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}

// roundS is a duration in whole minutes and seconds: "3 min 20 s", "45 s".
func roundS(d time.Duration) string {
	d = d.Round(time.Second)
	m, sec := int64(d/time.Minute), int64((d%time.Minute)/time.Second)
	switch {
	case m == 0:
		return strconv.FormatInt(sec, 10) + " s"
	case sec == 0:
		return strconv.FormatInt(m, 10) + " min"
	}
	return strconv.FormatInt(m, 10) + " min " + strconv.FormatInt(sec, 10) + " s"
}
