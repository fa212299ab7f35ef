package whapisim

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultProjectID is the id of the only project a Sim knows when
// Options.ProjectIDs is empty. It fits WHAPI's ProjectID pattern (20
// alphanumerics) and is deliberately not whapidesk's default project
// setting (the client's 19-character id, which a real partner account does
// not know either): a new install, the demo and any test that does not
// list projects meet an unknown project id first and must pick one from
// GET /projects. It is a constant, not drawn at random, so that a project
// picked in the demo is still WHAPI's after a restart. Tests that need
// whapidesk's default to be known list it in Options.ProjectIDs.
const DefaultProjectID = "Sim7projQx4Lm2Vn8RtK"

// Default values used when the corresponding Options field is zero.
const (
	// DefaultTrialDays is the trial length of new channels (WHAPI's 5 days).
	DefaultTrialDays = 5
	// DefaultQRLifetime is how long each QR code is valid.
	DefaultQRLifetime = 20 * time.Second
	// DefaultStartupDelay is how long a new channel takes to show a QR code.
	DefaultStartupDelay = 3 * time.Second
	// DefaultGateURL is the apiUrl WHAPI reports for channels.
	DefaultGateURL = "https://gate.whapi.cloud/"
	// DefaultCreateLimit is WHAPI's limit of channel creations per CreateWindow.
	DefaultCreateLimit = 20
	// DefaultExtendCoolDown is how long after an extend WHAPI refuses
	// another extend of the same channel: five minutes, as its changelog
	// announces.
	DefaultExtendCoolDown = 5 * time.Minute
)

// CreateWindow is the rolling window in which at most Options.CreateLimit
// channels may be created before PUT /channels answers 429.
const CreateWindow = 30 * time.Minute

// GateVersion is the version the simulated gate reports in /health.
const GateVersion = "1.8.7-whapisim"

// Errors returned by the test hooks. Match them with errors.Is.
var (
	// ErrChannelNotFound means no channel (or only a deleted one) has the id.
	ErrChannelNotFound = errors.New("whapisim: channel not found")
	// ErrInvalidPhone means the phone is not 7 to 15 digits.
	ErrInvalidPhone = errors.New("whapisim: phone must be 7 to 15 digits")
	// ErrAlreadyLinked means the channel is already linked to a phone.
	ErrAlreadyLinked = errors.New("whapisim: channel already authenticated")
	// ErrNoQR means the channel is not showing a QR code (it is starting,
	// not started, or expired), so nothing can be scanned.
	ErrNoQR = errors.New("whapisim: channel is not waiting for a QR scan")
	// ErrBadGateURL means a gate host's URL is not an absolute http(s) URL.
	ErrBadGateURL = errors.New("whapisim: a gate host URL must be an absolute http(s) URL")
	// ErrNotLinked means the channel has no phone linked.
	ErrNotLinked = errors.New("whapisim: no phone is linked to the channel")
)

var (
	reChannelID = regexp.MustCompile(`^(?:[A-Z]{6}-[A-Z0-9]{5}|[A-Z0-9]{12})$`)
	rePhone     = regexp.MustCompile(`^\d{7,15}$`)
	reUserID    = regexp.MustCompile(`^(?:[a-zA-Z0-9]{28}|me)$`)
)

// Options configures a Sim. The zero value is usable: it gives the documented
// WHAPI defaults (5-day trial, 20 creations per 30 minutes, 20 s QR lifetime).
type Options struct {
	// PartnerToken is the raw partner token (without "Bearer "). Manager calls
	// must carry exactly "Authorization: Bearer " + PartnerToken, or
	// ?token=PartnerToken. An empty token authorizes nothing.
	PartnerToken string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TrialDays is the trial length of new channels; zero means 5, a negative
	// value means no trial (like NoTrial).
	TrialDays int
	// NoTrial gives new channels no trial: trial is null and activeTill is the
	// creation time, so the channel stops unless extended at once.
	NoTrial bool
	// BalanceDays is the partner's day balance at start.
	BalanceDays int
	// QRLifetime is how long each QR code is valid; zero means 20 s.
	QRLifetime time.Duration
	// StartupDelay is how long a channel spends in INIT and LAUNCH after it is
	// created or woken (and in LAUNCH after a restart); zero means 3 s, a
	// negative value means no delay.
	StartupDelay time.Duration
	// ProjectIDs are the partner's projects, the first being the default one.
	// Empty means []string{DefaultProjectID}: one valid project that is not
	// whapidesk's default setting. Ids are taken as given, even
	// when they do not fit WHAPI's ProjectID pattern.
	ProjectIDs []string
	// GateURL is the apiUrl reported for channels; empty means
	// "https://gate.whapi.cloud/".
	GateURL string
	// CreateLimit is how many channels may be created in any CreateWindow;
	// zero or negative means 20.
	CreateLimit int
	// ExtendCoolDown is how long after a successful extend another extend
	// of the same channel is refused (429); zero means 5 minutes, a
	// negative value means no cool-down.
	ExtendCoolDown time.Duration
	// HookClient sends the webhook deliveries; nil means a client of its
	// own (10 s per attempt, no redirects followed).
	HookClient *http.Client
	// HookBackoff is the step of the linear backoff between the attempts of
	// a failed delivery (the n-th retry waits n steps, at most the
	// channel's max_callback_backoff_delay_ms); zero means the channel's
	// callback_backoff_delay_ms (3 s on a new channel), as WHAPI does.
	// Tests shorten it.
	HookBackoff time.Duration
	// HookAttempts bounds the attempts of one delivery; zero or negative
	// means DefaultHookAttempts (WHAPI retries "until 200 OK"; the bound is
	// ours).
	HookAttempts int
	// StateFile, when set, is where the simulator keeps its state between
	// runs (state.go): Open loads it when it exists, and every change is
	// written back to it. Only Open takes it; New panics when it is set.
	StateFile string
	// StateErrors is told when writing StateFile fails (the simulator goes
	// on in memory); nil ignores such failures.
	StateErrors func(error)
	// MaxRequests bounds the request log (Requests): only the latest
	// MaxRequests requests are kept. Zero or negative means
	// DefaultMaxRequests.
	MaxRequests int
	// MaxRecordedBody bounds the copy of each request body kept in the log
	// (Request.Body, Request.BodyTruncated); zero or negative means
	// DefaultMaxRecordedBody.
	MaxRecordedBody int
}

// ChannelState is a snapshot of one simulated channel, for tests.
type ChannelState struct {
	ID, Token, Name, Phone, ProjectID, Mode string
	// CreationTS, ActiveTill and Trial are the manager's times; Trial is the
	// zero time when the channel has no trial.
	CreationTS, ActiveTill, Trial time.Time
	// Linked reports a WhatsApp account is linked; LinkedPhone is its number.
	Linked      bool
	LinkedPhone string
	// Deleted reports the channel was deleted through the API.
	Deleted bool
	// ExtendedDays is the sum of days moved to the channel by extend.
	ExtendedDays int
	// RefundedDays is how many days the delete (or a stop with saveDays)
	// returned to the balance.
	RefundedDays int
	// LastExtend is when the channel was last extended (zero if never).
	LastExtend time.Time
	// APIURL is the gate host the channel lives on, as create and get
	// report it: Options.GateURL, or the apiUrl PlaceChannel gave it.
	APIURL string
	// Halted reports that POST /channels/{id}/stop stopped the channel and
	// nothing has started it since (start, or a wakeup).
	Halted bool
	// GateError is the gate error BreakChannel put the line in ("ERROR" or
	// "SYNC_ERROR"), "" when none; a logout clears it.
	GateError string
}

// Request is one request the simulator received.
type Request struct {
	// Time is the simulator clock when the request arrived.
	Time time.Time
	// Method, Path and RawQuery are the request line; Authorization is the
	// request's (first) Authorization header, verbatim. Host is the host
	// the request was addressed to (its Host header): it tells the main
	// root from a second gate host (GateHost).
	Method, Path, RawQuery, Authorization, Host string
	// Body is the request body as received, at most
	// Options.MaxRecordedBody bytes of it (BodyTruncated says when the
	// rest was cut off).
	Body          []byte
	BodyTruncated bool
	// Status is the HTTP status the simulator produced (0 if it produced
	// none, as with FaultHang). When Aborted is true the client never got it.
	Status int
	// Fault is the kind of injected fault that hit this request, or 0.
	Fault FaultKind
	// Aborted reports that the connection was closed without an answer.
	Aborted bool
}

// FaultKind says what an injected Fault does.
type FaultKind int

// The fault kinds.
const (
	// FaultStatus answers Fault.Status (500 if zero) with a WHAPI error body
	// and changes nothing.
	FaultStatus FaultKind = iota + 1
	// FaultLatency sleeps Fault.Delay (real time), then serves the request
	// normally; if the request's context ends first (the client gave up),
	// the connection is aborted and nothing is applied.
	FaultLatency
	// FaultHang changes nothing and hangs until the request context ends or
	// Fault.Delay passes (if non-zero), then aborts the connection.
	FaultHang
	// FaultLostAfterApply serves the request normally (the change happens)
	// and then aborts the connection, so the client sees a network error.
	FaultLostAfterApply
	// FaultMalformed answers 200 with malformed JSON and changes nothing.
	FaultMalformed
	// FaultErrorIn2xx answers Fault.Status (200 if zero; it must be a 2xx)
	// with the error body of Fault.Shape, and changes nothing: a failure
	// reported under a success status, as WHAPI's newer pages say happens.
	FaultErrorIn2xx
	// FaultAppliedWithError serves the request normally (the change
	// happens), then answers Fault.Status (200 if zero) with the error body
	// of Fault.Shape instead of the real answer: WHAPI did the change but
	// says it failed (or a proxy timed out after WHAPI had done it).
	FaultAppliedWithError
	// FaultQRExpire serves the request normally, then gives the "expire" of
	// a QR answer (one that has the member) the raw JSON value Fault.Expire,
	// or drops the member when Fault.Expire is "": WHAPI's newer pages say
	// some QR answers lack it. Other answers pass unchanged.
	FaultQRExpire
)

// lastFaultKind is the highest valid FaultKind.
const lastFaultKind = FaultQRExpire

// ErrorShape is how an injected fault writes its error body (Fault.Shape).
// WHAPI documents only ShapeWHAPI; the others are seen from WHAPI itself and
// from the proxies in front of it (the shared WHAPI notes, "What the real
// service does that the first reading missed").
type ErrorShape int

// The error body shapes.
const (
	// ShapeWHAPI is WHAPI's documented body,
	// {"error":{"code":…,"message":"…","details":"…"}} (the default).
	ShapeWHAPI ErrorShape = iota
	// ShapeFlat is {"code":…,"error":"…"}.
	ShapeFlat
	// ShapeMessage is {"message":"…"}.
	ShapeMessage
	// ShapeText is the message as text/plain.
	ShapeText
	// ShapeHTML is the page nginx answers when the server behind it fails
	// (text/html), titled "<status> <reason>" or Fault.Message.
	ShapeHTML
	// ShapeEmpty is no body at all (and no Content-Type).
	ShapeEmpty
	// ShapeSuccessFalse is {"success":false}, without any text.
	ShapeSuccessFalse
)

// String returns the shape's name.
func (sh ErrorShape) String() string {
	switch sh {
	case ShapeWHAPI:
		return "ShapeWHAPI"
	case ShapeFlat:
		return "ShapeFlat"
	case ShapeMessage:
		return "ShapeMessage"
	case ShapeText:
		return "ShapeText"
	case ShapeHTML:
		return "ShapeHTML"
	case ShapeEmpty:
		return "ShapeEmpty"
	case ShapeSuccessFalse:
		return "ShapeSuccessFalse"
	}
	return "ErrorShape(" + strconv.Itoa(int(sh)) + ")"
}

// String returns the fault kind's name.
func (k FaultKind) String() string {
	switch k {
	case FaultStatus:
		return "FaultStatus"
	case FaultLatency:
		return "FaultLatency"
	case FaultHang:
		return "FaultHang"
	case FaultLostAfterApply:
		return "FaultLostAfterApply"
	case FaultMalformed:
		return "FaultMalformed"
	case FaultErrorIn2xx:
		return "FaultErrorIn2xx"
	case FaultAppliedWithError:
		return "FaultAppliedWithError"
	case FaultQRExpire:
		return "FaultQRExpire"
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// Fault is a queued misbehaviour. Faults are matched in queue order before
// normal handling (and before authorization); each hits at most Times
// requests.
//
// Aborting faults (FaultHang, FaultLostAfterApply) panic with
// http.ErrAbortHandler, which net/http turns into a closed connection. Note
// that Go's http.Transport silently retries an idempotent request (GET,
// HEAD, OPTIONS, TRACE) once when a reused connection closes without an
// answer, so a fault meant to be seen on such a request may need Times: 2.
type Fault struct {
	// Method is the request method to match; "" matches any.
	Method string
	// Path is a path prefix to match (e.g. "/channels"); "" matches any.
	Path string
	// Times is how many matching requests the fault hits; 0 means 1.
	Times int
	// Kind is what the fault does.
	Kind FaultKind
	// Status is the HTTP status of FaultStatus (0 means 500), and of
	// FaultErrorIn2xx and FaultAppliedWithError (0 means 200).
	Status int
	// Shape is how the error body of FaultStatus, FaultErrorIn2xx and
	// FaultAppliedWithError is written; the zero value is WHAPI's documented
	// body.
	Shape ErrorShape
	// Code is the code written in a ShapeWHAPI or ShapeFlat body; 0 means the
	// status, or 500 under a 2xx status.
	Code int
	// Message and Details, when set, are the text of the error body (the
	// "message", the flat "error", the plain text or the HTML title) and the
	// "details" of a ShapeWHAPI body, instead of the usual text for the
	// status. WHAPI's error texts are free text it chooses; tests put hostile
	// text here to show that whapidesk never passes it on.
	Message, Details string
	// Delay is the sleep of FaultLatency and the maximum hang of FaultHang
	// (0 = until the request context ends).
	Delay time.Duration
	// Expire is the raw JSON value FaultQRExpire gives a QR answer's
	// "expire", e.g. "0", "-5" or "1e12"; "" drops the member.
	Expire string
}

// Sim is an in-memory WHAPI.Cloud: the Partner (manager) API and the gate API
// of every channel, served from one root. It is safe for concurrent use.
type Sim struct {
	mu  sync.Mutex
	now func() time.Time

	partnerToken string
	balance      int
	trialDays    int
	qrLifetime   time.Duration
	startupDelay time.Duration
	gateURL      string
	createLimit  int
	extendWait   time.Duration // 0: no cool-down
	ownerID      string
	// newGate is the apiUrl new channels are placed on ("" = the main
	// root's, gateURL); see PlaceNewChannels.
	newGate string

	projects  []project
	channels  map[string]*channel
	order     []*channel // creation order, deleted ones included
	byToken   map[string]*channel
	creations []time.Time // creation times inside the rate window

	requests    []*Request
	maxRequests int
	maxRecorded int
	// counts counts the requests received since the last ResetRequests by
	// method and path, beyond the bounded log (CountRequests).
	counts map[reqKey]int
	faults []*Fault
	routes []route
	// messages are those accepted by POST /messages/text (messages.go).
	messages []Message

	// Webhook deliveries (hooks.go).
	hookClient   *http.Client
	hookBackoff  time.Duration
	hookAttempts int
	hookFaults   []*HookFault
	hookLog      []*HookDelivery
	outbox       []*delivery // events queued under s.mu, sent after it
	queues       map[string]*hookQueue
	hookCtx      context.Context
	hookStop     context.CancelFunc
	closed       bool

	// The state file (state.go): where the state goes after each change,
	// and what was written last.
	stateFile   string
	stateErrors func(error)
	saveMu      sync.Mutex
	saved       []byte
}

type project struct {
	id, name string
	created  time.Time
}

// channel is the simulator's state of one channel.
type channel struct {
	ChannelState
	seed []byte // per-channel secret for QR payloads and pairing codes

	// gate is the apiUrl of the second gate host the channel is placed on
	// (PlaceChannel), "" when the main root serves it.
	gate string

	// The gate instance. booted false is NOT_INIT.
	booted      bool
	bootAt      time.Time // start_at of the instance
	initUntil   time.Time // INIT before this
	launchUntil time.Time // LAUNCH before this
	qrEpoch     time.Time // QR periods are counted from here

	// settings are GET /settings' answer once changed (nil: a new
	// channel's, see settingsOf); webhooks its webhooks, parsed.
	settings map[string]json.RawMessage
	webhooks []hook
	// toldState and toldQR are the status and QR period the webhooks
	// last heard of.
	toldState gateStatus
	toldQR    int64
}

// New returns a simulator configured by opts. It panics when
// opts.StateFile is set: Open loads a state file, and reports a bad one.
func New(opts Options) *Sim {
	if opts.StateFile != "" {
		panic("whapisim: New with a StateFile; use Open")
	}
	return newSim(opts)
}

// newSim returns a simulator configured by opts, without any state file.
func newSim(opts Options) *Sim {
	s := &Sim{
		now:          opts.Now,
		partnerToken: opts.PartnerToken,
		balance:      opts.BalanceDays,
		trialDays:    opts.TrialDays,
		qrLifetime:   opts.QRLifetime,
		startupDelay: opts.StartupDelay,
		gateURL:      opts.GateURL,
		createLimit:  opts.CreateLimit,
		ownerID:      randString(alnum, 28),
		channels:     map[string]*channel{},
		byToken:      map[string]*channel{},
		routes:       routes(),
		hookClient:   opts.HookClient,
		hookBackoff:  opts.HookBackoff,
		hookAttempts: opts.HookAttempts,
		queues:       map[string]*hookQueue{},
		maxRequests:  opts.MaxRequests,
		maxRecorded:  opts.MaxRecordedBody,
		counts:       map[reqKey]int{},
	}
	if s.maxRequests <= 0 {
		s.maxRequests = DefaultMaxRequests
	}
	if s.maxRecorded <= 0 {
		s.maxRecorded = DefaultMaxRecordedBody
	}
	s.hookCtx, s.hookStop = context.WithCancel(context.Background())
	if s.hookClient == nil {
		s.hookClient = &http.Client{Timeout: hookTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if s.hookAttempts <= 0 {
		s.hookAttempts = DefaultHookAttempts
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case opts.NoTrial || s.trialDays < 0:
		s.trialDays = 0
	case s.trialDays == 0:
		s.trialDays = DefaultTrialDays
	}
	if s.qrLifetime <= 0 {
		s.qrLifetime = DefaultQRLifetime
	}
	switch {
	case s.startupDelay < 0:
		s.startupDelay = 0
	case s.startupDelay == 0:
		s.startupDelay = DefaultStartupDelay
	}
	if s.gateURL == "" {
		s.gateURL = DefaultGateURL
	}
	if s.createLimit <= 0 {
		s.createLimit = DefaultCreateLimit
	}
	switch {
	case opts.ExtendCoolDown == 0:
		s.extendWait = DefaultExtendCoolDown
	case opts.ExtendCoolDown > 0:
		s.extendWait = opts.ExtendCoolDown
	}
	ids := opts.ProjectIDs
	if len(ids) == 0 {
		ids = []string{DefaultProjectID}
	}
	created := s.now()
	for i, id := range ids {
		if id == "" || slices.ContainsFunc(s.projects, func(p project) bool { return p.id == id }) {
			continue
		}
		name := "Default project"
		if i > 0 {
			name = "Project " + id
		}
		s.projects = append(s.projects, project{id: id, name: name, created: created})
	}
	return s
}

// LinkChannel acts as if the phone scanned the channel's QR code: /health
// turns AUTH with user {id: phone}, and the login endpoints answer 409. The
// channel must be showing a QR code (health QR), as a real scan needs one;
// otherwise it returns ErrNoQR. It also returns ErrChannelNotFound,
// ErrInvalidPhone or ErrAlreadyLinked.
func (s *Sim) LinkChannel(id, phone string) error {
	if !rePhone.MatchString(phone) {
		return ErrInvalidPhone
	}
	defer s.persist()
	defer s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[id]
	if ch == nil || ch.Deleted {
		return ErrChannelNotFound
	}
	now := s.now()
	if ch.Linked {
		return ErrAlreadyLinked
	}
	if s.gateState(ch, now) != stQR {
		return ErrNoQR
	}
	ch.Linked = true
	ch.LinkedPhone = phone
	// The webhooks hear the new status (AUTH), then users post: after a
	// scan "health goes QR → AUTH and webhook users.post fires"
	// (reference §6).
	s.observe(ch, now)
	s.emit(ch, "users", "post", "user", userOut{ID: phone, Name: phone})
	return nil
}

// UnlinkChannel acts as if the phone removed the linked device: the
// channel turns back to QR (a new QR sequence) and the webhooks hear it.
// It returns ErrChannelNotFound, or ErrNotLinked when no phone is linked.
func (s *Sim) UnlinkChannel(id string) error {
	defer s.persist()
	defer s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[id]
	if ch == nil || ch.Deleted {
		return ErrChannelNotFound
	}
	if !ch.Linked {
		return ErrNotLinked
	}
	s.unlink(ch, s.now())
	return nil
}

// BreakChannel puts the channel's line in a gate error, as WHAPI reports a
// failed session: status "ERROR", or "SYNC_ERROR" (sending works, reading
// chats does not; the channel must be linked). /health reports it once the
// line is up. Its documented fix, POST /users/logout, clears it and starts
// a new QR sequence; a restart, or a stop and a start, do not (our choice:
// the docs name only the logout). It returns ErrChannelNotFound, or
// ErrNotLinked for SYNC_ERROR on a channel without a phone.
func (s *Sim) BreakChannel(id, status string) error {
	defer s.persist()
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[id]
	if ch == nil || ch.Deleted {
		return ErrChannelNotFound
	}
	switch status {
	case stError.text():
	case stSyncError.text():
		if !ch.Linked {
			return ErrNotLinked
		}
	default:
		return errors.New("whapisim: BreakChannel takes ERROR or SYNC_ERROR, not " + strconv.Quote(status))
	}
	ch.GateError = status
	return nil
}

// Balance returns the partner's day balance.
func (s *Sim) Balance() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.balance
}

// SetBalance sets the partner's day balance.
func (s *Sim) SetBalance(days int) {
	defer s.persist()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.balance = days
}

// Channel returns a snapshot of the channel with the given id, deleted or not.
func (s *Sim) Channel(id string) (ChannelState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[id]
	if ch == nil {
		return ChannelState{}, false
	}
	return s.snapshot(ch), true
}

// Channels returns snapshots of all channels, deleted ones included, in
// creation order.
func (s *Sim) Channels() []ChannelState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ChannelState, len(s.order))
	for i, ch := range s.order {
		out[i] = s.snapshot(ch)
	}
	return out
}

// snapshot is a channel's state for tests. s.mu must be held.
func (s *Sim) snapshot(ch *channel) ChannelState {
	st := ch.ChannelState
	st.APIURL = s.apiURL(ch)
	return st
}

// apiURL is the gate host a channel lives on. s.mu must be held.
func (s *Sim) apiURL(ch *channel) string {
	if ch.gate != "" {
		return ch.gate
	}
	return s.gateURL
}

// GateHost returns the gate API as a second gate host serves it, for a
// test to run on a server of its own (httptest.NewTLSServer(sim.GateHost())):
// it serves the gate endpoints of the channels placed on the host a request
// is addressed to (PlaceChannel with that server's URL), answers any other
// channel's token 401 as an unknown one, and has no partner API (404).
// Requests, faults and the clock are the Sim's.
func (s *Sim) GateHost() http.Handler { return gateHost{s} }

type gateHost struct{ s *Sim }

func (g gateHost) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.s.serve(w, r, true) }

// PlaceChannel moves the channel with the given id to the gate host at
// apiURL (a GateHost server's URL, e.g. srv.URL+"/"), as WHAPI may host a
// channel on another gate: create and get report apiURL as its apiUrl, only
// that host serves its gate calls, and the main root answers them 401. ""
// moves it back to the main root. It returns ErrChannelNotFound or
// ErrBadGateURL.
func (s *Sim) PlaceChannel(id, apiURL string) error {
	if _, err := gateHostOf(apiURL); err != nil {
		return err
	}
	defer s.persist()
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[id]
	if ch == nil || ch.Deleted {
		return ErrChannelNotFound
	}
	ch.gate = apiURL
	return nil
}

// PlaceNewChannels places every channel created from now on on the gate
// host at apiURL, as PlaceChannel does; "" places them on the main root
// again. It returns ErrBadGateURL.
func (s *Sim) PlaceNewChannels(apiURL string) error {
	if _, err := gateHostOf(apiURL); err != nil {
		return err
	}
	defer s.persist()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.newGate = apiURL
	return nil
}

// gateHostOf returns the host (host:port) of a gate URL, "" for "".
func gateHostOf(apiURL string) (string, error) {
	if apiURL == "" {
		return "", nil
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", ErrBadGateURL
	}
	return u.Host, nil
}

// Projects returns the ids of the partner's projects; the first is the
// default project.
func (s *Sim) Projects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.projects))
	for i, p := range s.projects {
		out[i] = p.id
	}
	return out
}

// SetPartnerToken replaces the partner token, as when WHAPI rotates or
// revokes it; the old token stops working at once.
func (s *Sim) SetPartnerToken(raw string) {
	defer s.persist()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partnerToken = raw
}

// InjectFault queues a fault. It panics if f.Kind is not one of the
// FaultKind constants, since such a fault could never act.
func (s *Sim) InjectFault(f Fault) {
	if f.Kind < FaultStatus || f.Kind > lastFaultKind {
		panic("whapisim: InjectFault with invalid Kind " + f.Kind.String())
	}
	if f.Shape < ShapeWHAPI || f.Shape > ShapeSuccessFalse {
		panic("whapisim: InjectFault with invalid Shape " + f.Shape.String())
	}
	if f.Expire != "" && !json.Valid([]byte(f.Expire)) {
		panic("whapisim: InjectFault with an Expire that is not JSON")
	}
	if f.Kind == FaultErrorIn2xx && f.Status != 0 && (f.Status < 200 || f.Status > 299) {
		panic("whapisim: FaultErrorIn2xx needs a 2xx Status (use FaultStatus for others)")
	}
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults drops all queued faults.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func matchFault(method, prefix, reqMethod, reqPath string) bool {
	return (method == "" || method == reqMethod) && (prefix == "" || len(reqPath) >= len(prefix) && reqPath[:len(prefix)] == prefix)
}

// takeFault pops one hit of the first queued fault matching the request.
// s.mu must be held.
func (s *Sim) takeFault(method, path string) *Fault {
	for i, f := range s.faults {
		if !matchFault(f.Method, f.Path, method, path) {
			continue
		}
		hit := *f
		f.Times--
		if f.Times <= 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return &hit
	}
	return nil
}

// liveChannels returns the channels not deleted, of one project ("" = all),
// in creation order. s.mu must be held.
func (s *Sim) liveChannels(projectID string) []*channel {
	var out []*channel
	for _, ch := range s.order {
		if !ch.Deleted && (projectID == "" || ch.ProjectID == projectID) {
			out = append(out, ch)
		}
	}
	return out
}

const (
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upper      = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	upperDigit = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// randString returns n characters drawn uniformly from alphabet with crypto/rand.
func randString(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("whapisim: crypto/rand failed: " + err.Error())
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// newHTTPHeader is a small helper so handlers can set extra headers.
func newHTTPHeader(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}
