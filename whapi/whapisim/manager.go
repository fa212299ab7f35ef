package whapisim

import (
	"crypto/rand"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

// maxExtendDays bounds one extend call (our choice: WHAPI documents no bound;
// this only keeps time arithmetic far from overflow).
const maxExtendDays = 36500

// channelOut is the manager's Channel object (reference §2.0), field names
// exactly as WHAPI sends them; times are epoch milliseconds.
type channelOut struct {
	ID         string `json:"id"`
	APIURL     string `json:"apiUrl"`
	CreationTS int64  `json:"creationTS"`
	OwnerID    string `json:"ownerId"`
	ActiveTill int64  `json:"activeTill"`
	Token      string `json:"token"`
	Server     int    `json:"server"`
	Stopped    bool   `json:"stopped"`
	Trial      *int64 `json:"trial"`
	Blocked    bool   `json:"blocked"`
	Status     string `json:"status"`
	Mode       string `json:"mode"`
	Name       string `json:"name"`
	ProjectID  string `json:"projectId"`
	Phone      string `json:"phone,omitempty"`
}

type channelList struct {
	Channels []channelOut `json:"channels"`
	Count    int          `json:"count"`
	Total    int          `json:"total"`
	Offset   int          `json:"offset"`
}

type projectOut struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	CreationTS int64    `json:"creationTS"`
	OwnerID    string   `json:"ownerId"`
	Users      []string `json:"users"`
	IsDefault  bool     `json:"isDefault"`
}

type projectList struct {
	Projects []projectOut `json:"projects"`
	Count    int          `json:"count"`
	Total    int          `json:"total"`
	Offset   int          `json:"offset"`
}

// msTime drops the monotonic reading and everything below a millisecond, so
// the times kept agree with the epoch-millisecond values sent.
func msTime(t time.Time) time.Time {
	return t.Round(0).Truncate(time.Millisecond)
}

func (s *Sim) channelJSON(ch *channel, now time.Time) channelOut {
	out := channelOut{
		ID:         ch.ID,
		APIURL:     s.gateURL,
		CreationTS: ch.CreationTS.UnixMilli(),
		OwnerID:    s.ownerID,
		ActiveTill: ch.ActiveTill.UnixMilli(),
		Token:      ch.Token,
		Server:     6,
		Stopped:    now.After(ch.ActiveTill),
		Status:     "active",
		Mode:       ch.Mode,
		Name:       ch.Name,
		ProjectID:  ch.ProjectID,
		Phone:      ch.Phone,
	}
	if !ch.Trial.IsZero() {
		ms := ch.Trial.UnixMilli()
		out.Trial = &ms
	}
	return out
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func badRequest(details string) reply {
	return errReply(http.StatusBadRequest, "Wrong request parameters", details)
}

// project resolves a project id; "default" is WHAPI's alias of the default
// project. s.mu must be held.
func (s *Sim) project(id string) *project {
	if id == "default" && len(s.projects) > 0 {
		return &s.projects[0]
	}
	for i := range s.projects {
		if s.projects[i].id == id {
			return &s.projects[i]
		}
	}
	return nil
}

// channelParam looks up the channel named by the first path wildcard. An id
// that does not fit WHAPI's ChannelID pattern is 400 (our choice, as a spec
// validator would answer); an unknown or deleted channel is 404.
func (s *Sim) channelParam(c *call) (*channel, *reply) {
	id := c.params[0]
	if !reChannelID.MatchString(id) {
		rep := badRequest("invalid channel id")
		return nil, &rep
	}
	ch := s.channels[id]
	if ch == nil || ch.Deleted {
		rep := errReply(http.StatusNotFound, "Specified channel not found", "")
		return nil, &rep
	}
	return ch, nil
}

// pageQuery validates count (1..500, default 100), offset (>= 0) and uid.
func pageQuery(c *call) (count, offset int, uid string, rep *reply) {
	count, ok := intQuery(c.query, "count", 100, 1, 500)
	if !ok {
		r := badRequest("count must be an integer from 1 to 500")
		return 0, 0, "", &r
	}
	offset, ok = intQuery(c.query, "offset", 0, 0, math.MaxInt32)
	if !ok {
		r := badRequest("offset must be a non-negative integer")
		return 0, 0, "", &r
	}
	if vals, present := c.query["uid"]; present {
		if len(vals) != 1 || !reUserID.MatchString(vals[0]) {
			r := badRequest("invalid uid")
			return 0, 0, "", &r
		}
		uid = vals[0]
	}
	return count, offset, uid, nil
}

func page[T any](all []T, count, offset int) []T {
	if offset >= len(all) {
		return []T{}
	}
	return all[offset:min(len(all), offset+count)]
}

// listProjects serves GET /projects.
func (s *Sim) listProjects(c *call) reply {
	count, offset, uid, rep := pageQuery(c)
	if rep != nil {
		return *rep
	}
	all := []projectOut{}
	if uid == "" || uid == "me" || uid == s.ownerID {
		for i, p := range s.projects {
			all = append(all, projectOut{
				ID: p.id, Name: p.name, CreationTS: p.created.UnixMilli(),
				OwnerID: s.ownerID, Users: []string{}, IsDefault: i == 0,
			})
		}
	}
	return jsonReply(http.StatusOK, projectList{Projects: page(all, count, offset), Count: count, Total: len(all), Offset: offset})
}

// listChannels serves GET /channels/list and GET /channels/list/{ProjectID}.
// count in the answer is the requested page size, total the number of
// channels, as in WHAPI's Iterator.
func (s *Sim) listChannels(c *call) reply {
	count, offset, uid, rep := pageQuery(c)
	if rep != nil {
		return *rep
	}
	projectID := ""
	if len(c.params) == 1 {
		p := s.project(c.params[0])
		if p == nil {
			return errReply(http.StatusNotFound, "Specified project not found", "")
		}
		projectID = p.id
		uid = "" // uid is a parameter of /channels/list only
	}
	all := []channelOut{}
	if uid == "" || uid == "me" || uid == s.ownerID {
		for _, ch := range s.liveChannels(projectID) {
			all = append(all, s.channelJSON(ch, c.now))
		}
	}
	return jsonReply(http.StatusOK, channelList{Channels: page(all, count, offset), Count: count, Total: len(all), Offset: offset})
}

// getChannel serves GET /channels/{ChannelID}.
func (s *Sim) getChannel(c *call) reply {
	ch, rep := s.channelParam(c)
	if rep != nil {
		return *rep
	}
	return jsonReply(http.StatusOK, s.channelJSON(ch, c.now))
}

// customFields validates the "Channel custom fields" body of create and
// update. Keys are matched exactly: "projectid" is not "projectId".
func customFields(c *call) (name, projectID, phone string, rep *reply) {
	m, rep := parseObject(c)
	if rep != nil {
		return "", "", "", rep
	}
	fail := func(d string) (string, string, string, *reply) {
		r := badRequest(d)
		return "", "", "", &r
	}
	name, present, ok := strField(m, "name")
	if !present || !ok || strings.TrimSpace(name) == "" {
		return fail(`"name" is required and must be a non-empty string`)
	}
	projectID, present, ok = strField(m, "projectId")
	if !present || !ok || projectID == "" {
		return fail(`"projectId" is required and must be a non-empty string`)
	}
	// The spec's phone pattern is ^([\d]{7,15})?$, so "" is allowed.
	phone, _, ok = strField(m, "phone")
	if !ok || (phone != "" && !rePhone.MatchString(phone)) {
		return fail(`"phone" must be 7 to 15 digits`)
	}
	for _, k := range []string{"recurrentPaymentId", "prevRecurrentPaymentId"} {
		if _, _, ok := strField(m, k); !ok {
			return fail(strconv.Quote(k) + " must be a string")
		}
	}
	return name, projectID, phone, nil
}

// createChannel serves PUT /channels.
func (s *Sim) createChannel(c *call) reply {
	name, pid, phone, rep := customFields(c)
	if rep != nil {
		return *rep
	}
	p := s.project(pid)
	if p == nil {
		return errReply(http.StatusNotFound, "Specified project not found", "")
	}

	// Rate limit: at most createLimit creations in any rolling CreateWindow
	// (the docs do not say whether the window rolls; rolling is the stricter
	// reading). Only successful creations count. Retry-After (our choice) is
	// the whole seconds until the oldest creation leaves the window.
	kept := s.creations[:0]
	for _, t := range s.creations {
		if c.now.Sub(t) < CreateWindow {
			kept = append(kept, t)
		}
	}
	s.creations = kept
	if len(s.creations) >= s.createLimit {
		secs := int(math.Ceil(s.creations[0].Add(CreateWindow).Sub(c.now).Seconds()))
		rep := errReply(http.StatusTooManyRequests, "Too many requests",
			"more than "+strconv.Itoa(s.createLimit)+" channels created within 30 minutes, try again later")
		rep.header = newHTTPHeader("Retry-After", strconv.Itoa(max(secs, 1)))
		return rep
	}
	s.creations = append(s.creations, c.now)

	now := msTime(c.now)
	ch := &channel{ChannelState: ChannelState{
		Name:       name,
		Phone:      phone,
		ProjectID:  p.id,
		Mode:       "trial",
		CreationTS: now,
		ActiveTill: now,
	}}
	for ch.ID == "" || s.channels[ch.ID] != nil {
		ch.ID = randString(upper, 6) + "-" + randString(upperDigit, 5)
	}
	for ch.Token == "" || s.byToken[ch.Token] != nil {
		ch.Token = randString(alnum, 32)
	}
	if s.trialDays > 0 {
		// As in WHAPI's example: trial = creation + 5 days, activeTill = trial + 1 day.
		ch.Trial = now.Add(time.Duration(s.trialDays) * day)
		ch.ActiveTill = ch.Trial.Add(day)
	}
	ch.seed = make([]byte, 32)
	_, _ = rand.Read(ch.seed) // crypto/rand.Read never fails
	// Creation starts the instance (our choice), so a passive /health poller
	// sees INIT → LAUNCH → QR.
	s.boot(ch, c.now, true)

	s.channels[ch.ID] = ch
	s.byToken[ch.Token] = ch
	s.order = append(s.order, ch)
	return jsonReply(http.StatusOK, s.channelJSON(ch, c.now))
}

// updateChannel serves PATCH /channels/{ChannelID}; the spec requires name
// and projectId here too.
func (s *Sim) updateChannel(c *call) reply {
	ch, rep := s.channelParam(c)
	if rep != nil {
		return *rep
	}
	name, pid, phone, rep := customFields(c)
	if rep != nil {
		return *rep
	}
	p := s.project(pid)
	if p == nil {
		return errReply(http.StatusNotFound, "Specified project not found", "")
	}
	ch.Name, ch.ProjectID, ch.Phone = name, p.id, phone
	return successReply()
}

// extendChannel serves POST /channels/{ChannelID}/extend.
func (s *Sim) extendChannel(c *call) reply {
	ch, rep := s.channelParam(c)
	if rep != nil {
		return *rep
	}
	m, rep := parseObject(c)
	if rep != nil {
		return *rep
	}
	d, present, ok := numField(m, "days")
	if !present || !ok || d != math.Trunc(d) || d < 1 || d > maxExtendDays {
		return badRequest(`"days" is required and must be a positive whole number`)
	}
	comment, present, ok := strField(m, "comment")
	if !present || !ok || strings.TrimSpace(comment) == "" {
		return badRequest(`"comment" is required and must be a non-empty string`)
	}
	if _, _, ok := numField(m, "amount"); !ok {
		return badRequest(`"amount" must be a number`)
	}
	if cur, present, ok := strField(m, "currency"); !ok || present && !slices.Contains([]string{"USD", "RUB", "BRL", "MXN", "INR"}, cur) {
		return badRequest(`"currency" must be one of USD, RUB, BRL, MXN, INR`)
	}
	days := int(d)
	if days > s.balance {
		// The code for an insufficient balance is undocumented; 400 is our choice.
		return errReply(http.StatusBadRequest, "Not enough days on the balance", "")
	}

	now := msTime(c.now)
	if c.now.After(ch.ActiveTill) {
		// The instance stopped when the channel expired (our choice): after
		// the extend it is NOT_INIT until woken (/health or /users/login
		// with wakeup=true) or restarted by a mode change.
		ch.booted = false
	}
	// activeTill = max(activeTill, now) + days (undocumented; our choice).
	ch.ActiveTill = later(ch.ActiveTill, now).Add(time.Duration(days) * day)
	ch.ExtendedDays += days
	s.balance -= days
	return successReply()
}

// changeMode serves PATCH /channels/{ChannelID}/mode. An empty or missing
// mode means live, as the spec says.
func (s *Sim) changeMode(c *call) reply {
	ch, rep := s.channelParam(c)
	if rep != nil {
		return *rep
	}
	m, rep := parseObject(c)
	if rep != nil {
		return *rep
	}
	mode, _, ok := strField(m, "mode")
	if !ok {
		return badRequest(`"mode" must be a string`)
	}
	if mode == "" {
		mode = "live"
	}
	if !slices.Contains([]string{"trial", "dev", "dev_archive", "live"}, mode) {
		return badRequest(`"mode" must be one of trial, dev, dev_archive, live`)
	}
	ch.Mode = mode
	// "After the mode is changed, the channel restarts." An expired channel
	// has no running instance to restart.
	if !c.now.After(ch.ActiveTill) {
		s.boot(ch, c.now, false)
	}
	return successReply()
}

// deleteChannel serves DELETE /channels/{ChannelID}. It returns the unused
// paid days to the balance (our reading of an undocumented rule): whole days
// left after max(now, trial end), never more than the days extended (trial
// days are free, so they are never refunded).
func (s *Sim) deleteChannel(c *call) reply {
	ch, rep := s.channelParam(c)
	if rep != nil {
		return *rep
	}
	from := later(c.now, ch.Trial)
	refund := 0
	if ch.ActiveTill.After(from) {
		refund = int(ch.ActiveTill.Sub(from) / day)
	}
	refund = min(refund, ch.ExtendedDays)
	if refund > 0 {
		s.balance += refund
		ch.RefundedDays = refund
	}
	ch.Deleted = true
	delete(s.byToken, ch.Token)
	return successReply()
}
