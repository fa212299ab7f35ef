package provision

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"whapidesk/models"
	"whapidesk/whapi"
)

// ConnectState is what the connect page shows now.
type ConnectState struct {
	// Phase is PhaseWaiting while a QR is shown (PNG), else where the
	// channel stands: preparing, connected, expired, or a state that
	// allows no connect (its lifecycle phase).
	Phase     Phase
	PNG       []byte    // the QR image, when Phase is PhaseWaiting
	ExpiresAt time.Time // when this QR stops working
	Phone     string    // the linked number, when connected
}

// healthTTL bounds how often viewers of one channel make whapidesk ask the
// gate whether it is ready or linked: at most once per healthTTL.
const healthTTL = 2 * time.Second

// How long a QR is shown (and cached) when WHAPI's "expire" cannot be used
// as it is (whapi/README.md: some answers lack it): a missing, zero or
// negative expire shows the code for qrDefaultLifetime (WhatsApp rotates its
// codes about every 20 s, so the code is at worst shown a little after it
// stopped working, and the page then fetches the next); a longer one is cut
// to qrMaxLifetime, so a wrong value never leaves a dead code up for long.
const (
	qrDefaultLifetime = 20 * time.Second
	qrMaxLifetime     = 120 * time.Second
)

// qrLifetime is how long to show q: its expire, within the bounds above.
func qrLifetime(q *whapi.QR) time.Duration {
	d := q.ExpiresIn()
	switch {
	case d <= 0:
		return qrDefaultLifetime
	case d > qrMaxLifetime:
		return qrMaxLifetime
	}
	return d
}

// connectCache coalesces the gate calls of every viewer of a channel: one
// health call per healthTTL and one QR call per QR lifetime, whatever the
// number of open tabs (issue: QR fetches coalesce). A webhook's event
// replaces what it holds of the channel (ReceiveHook), so viewers see the
// event at once and without a gate call.
type connectCache struct {
	flight singleflight.Group
	mu     sync.Mutex
	health map[int64]cachedHealth
	qr     map[int64]cachedQR
	// reconnected is when each channel's broken session was last logged
	// out (Reconnect).
	reconnected map[int64]time.Time
}

type cachedHealth struct {
	h  *whapi.Health
	at time.Time
}

type cachedQR struct {
	png     []byte
	expires time.Time
}

func (c *connectCache) init() {
	if c.health == nil {
		c.health = map[int64]cachedHealth{}
		c.qr = map[int64]cachedQR{}
		c.reconnected = map[int64]time.Time{}
	}
}

// forget drops what is cached of a channel (linked, deleted, or WHAPI
// told something new of it).
func (c *connectCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	delete(c.health, id)
	delete(c.qr, id)
}

// learn caches a channel's health that a webhook told at at, as if the
// gate had just been asked: viewers see it without asking again.
func (c *connectCache) learn(id int64, h *whapi.Health, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.health[id] = cachedHealth{h: h, at: at}
}

// ConnectState tells the connect page what to show for a channel: its
// line is preparing, a QR to scan (fetched at most once per QR lifetime
// for all viewers), or connected with the linked number.
func (s *Service) ConnectState(ctx context.Context, channelID int64) (*ConnectState, error) {
	ch, err := s.store.ChannelByID(ctx, channelID)
	if err != nil {
		return nil, err
	}
	if r := ruleFor(ch); CheckState(ch, ActConnect) != nil || !r.atWhapi {
		return &ConnectState{Phase: r.phase}, nil // nothing to ask the gate (a stopped line included: it must not be woken)
	}
	token, err := s.store.ChannelToken(ch)
	if err != nil {
		return nil, err
	}
	h, err := s.health(ctx, ch, token)
	if err != nil {
		return nil, err
	}
	if err := s.observePoll(ctx, ch, h); err != nil {
		return nil, err
	}
	switch h.Status.Text {
	case whapi.StatusAuth:
		phone := ""
		if h.User != nil {
			phone = h.User.Phone()
		}
		return &ConnectState{Phase: PhaseConnected, Phone: phone}, nil
	case whapi.StatusQR:
	case whapi.StatusStop:
		// Stopped at WHAPI though whapidesk means it to run: its days ran
		// out, or it was stopped outside whapidesk, or a start is not
		// through yet. Never woken from here (a stop may be meant); the
		// next sync starts a line meant to run (record).
		if ViewAt(ch, s.now()).Phase == PhaseExpired {
			return &ConnectState{Phase: PhaseExpired}, nil
		}
		return &ConnectState{Phase: PhaseStopped}, nil
	case whapi.StatusError, whapi.StatusSyncError:
		// WHAPI's fix is a logout and a new link: Reconnect.
		return &ConnectState{Phase: PhaseReconnect}, nil
	case whapi.StatusNotInit:
		return s.wake(ctx, ch, token)
	default: // INIT, LAUNCH: starting up
		return &ConnectState{Phase: PhasePreparing}, nil
	}
	qr, err := s.qr(ctx, ch, token)
	if errors.Is(err, whapi.ErrConflict) { // linked meanwhile
		s.connect.forget(ch.ID)
		return &ConnectState{Phase: PhaseConnected, Phone: ch.LinkedPhone}, nil
	}
	if err != nil {
		return nil, err
	}
	if qr == nil {
		return &ConnectState{Phase: PhasePreparing}, nil
	}
	return &ConnectState{Phase: PhaseWaiting, PNG: qr.png, ExpiresAt: qr.expires}, nil
}

// wake starts a channel that is asleep (NOT_INIT) though whapidesk means
// it to run. A channel extended after its days ran out is started with
// POST /start right after the extend (afterExtend), so this is only the
// fallback the docs imply when that start did not get through: polling
// /health?wakeup=false never starts a line, so no QR would ever come, and
// the QR call's wakeup=true "launches a stopped/sleeping channel first".
// The page shows "preparing" until the line is up, then the QR, or
// connected if a phone is still linked. A line WHAPI reports STOP is never
// woken here: a stop may be meant.
func (s *Service) wake(ctx context.Context, ch *models.Channel, token string) (*ConnectState, error) {
	qr, err := s.qr(ctx, ch, token)
	switch {
	case errors.Is(err, whapi.ErrConflict): // linked: it starts with its session
		return &ConnectState{Phase: PhasePreparing}, nil
	case err != nil:
		return nil, err
	case qr == nil:
		return &ConnectState{Phase: PhasePreparing}, nil
	}
	return &ConnectState{Phase: PhaseWaiting, PNG: qr.png, ExpiresAt: qr.expires}, nil
}

// observePoll records what the gate's status says of the link when it
// differs from what the channel has: linked with the number (AUTH), or
// not linked (QR). It goes through the store's ordering, so a status read
// before a newer webhook's is not applied over it.
func (s *Service) observePoll(ctx context.Context, ch *models.Channel, h *whapi.Health) error {
	o := healthObservation(h)
	if o.Linked == nil || (*o.Linked == ch.Linked && (!ch.Linked || o.Phone == "" || o.Phone == ch.LinkedPhone)) {
		return nil // nothing new: no write (a poll every 2 s costs no query more)
	}
	_, err := s.store.ApplyGate(ctx, ch.ID, o)
	return err
}

// health asks the channel's gate (never waking the channel) how the line
// is, at most once per healthTTL for all viewers of the channel.
func (s *Service) health(ctx context.Context, ch *models.Channel, token string) (*whapi.Health, error) {
	id, gate := ch.ID, s.whapi.Gate(ch.APIURL)
	now := s.now()
	s.connect.mu.Lock()
	s.connect.init()
	if c, ok := s.connect.health[id]; ok && now.Sub(c.at) < healthTTL {
		s.connect.mu.Unlock()
		return c.h, nil
	}
	s.connect.mu.Unlock()
	v, err, _ := s.connect.flight.Do("health:"+strconv.FormatInt(id, 10), func() (any, error) {
		// Shared by every waiting viewer: one closed tab must not fail the rest.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		h, err := gate.Health(ctx, token)
		if err != nil {
			return nil, err
		}
		s.connect.mu.Lock()
		s.connect.health[id] = cachedHealth{h: h, at: s.now()}
		s.connect.mu.Unlock()
		return h, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*whapi.Health), nil
}

// qr returns the channel's current QR, fetched from its gate at most once
// per QR lifetime for all viewers; nil while the gate has none yet.
func (s *Service) qr(ctx context.Context, ch *models.Channel, token string) (*cachedQR, error) {
	id, gate := ch.ID, s.whapi.Gate(ch.APIURL)
	now := s.now()
	s.connect.mu.Lock()
	s.connect.init()
	if c, ok := s.connect.qr[id]; ok && now.Before(c.expires) {
		s.connect.mu.Unlock()
		return &c, nil
	}
	s.connect.mu.Unlock()
	v, err, _ := s.connect.flight.Do("qr:"+strconv.FormatInt(id, 10), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		q, err := gate.LoginQR(ctx, token)
		if err != nil {
			return nil, err
		}
		if q.Status != whapi.QRStatusOK {
			return (*cachedQR)(nil), nil
		}
		png, err := q.PNG()
		if err != nil {
			return nil, err
		}
		// Cached until WHAPI's own expiry (within qrLifetime's bounds):
		// asking earlier would only fetch the same code again.
		c := cachedQR{png: png, expires: s.now().Add(qrLifetime(q))}
		s.connect.mu.Lock()
		s.connect.qr[id] = c
		s.connect.mu.Unlock()
		return &c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*cachedQR), nil
}

// QRImage returns the PNG of the channel's current QR (from the cache the
// connect page filled), or ErrNoQR.
func (s *Service) QRImage(ctx context.Context, channelID int64) ([]byte, time.Time, error) {
	st, err := s.ConnectState(ctx, channelID)
	if err != nil {
		return nil, time.Time{}, err
	}
	if st.Phase != PhaseWaiting {
		return nil, time.Time{}, ErrNoQR
	}
	return st.PNG, st.ExpiresAt, nil
}

// ErrNoQR: there is no code to scan right now (preparing, or linked).
var ErrNoQR = errors.New("there is no code to scan right now")

// The limits of pairing codes: each code WHAPI gives may notify the
// phone, so at most PairingPerChannel per channel and PairingPerCustomer
// per customer (across their channels) in any rolling PairingWindow,
// whatever WHAPI answered (each one reached WHAPI).
const (
	PairingPerChannel  = 5
	PairingPerCustomer = 15
	PairingWindow      = 10 * time.Minute
)

// PairingCode asks for the code to type in WhatsApp ("Link with phone
// number") for the customer's phone number. Each request is claimed in
// the database before WHAPI is asked (models.ClaimPairingCode): past
// PairingLimits it is refused with *RetryLaterError (CodePairingLimit)
// saying when another code can be asked for, and WHAPI is not called.
func (s *Service) PairingCode(ctx context.Context, actor models.Actor, channelID int64, phone string) (string, error) {
	p, err := NormalizePhone(phone)
	if err != nil || p == "" {
		msg := "enter your WhatsApp number with the country code"
		if err != nil {
			msg = err.Error()
		}
		return "", FieldErrors{"phone": msg}
	}
	ch, err := s.store.ChannelByID(ctx, channelID)
	if err != nil {
		return "", err
	}
	if CheckState(ch, ActConnect) != nil || !ruleOf(ch.Status).atWhapi {
		return "", ErrNoQR
	}
	token, err := s.store.ChannelToken(ch)
	if err != nil {
		return "", err
	}
	err = s.store.ClaimPairingCode(ctx, actor, ch, s.PairingLimits, s.now())
	var le *models.LimitError
	if errors.As(err, &le) {
		s.log.WarnContext(ctx, "pairing code refused: limit", "channel", ch.ID, "scope", le.Scope,
			"used", le.Used, "allowed", le.Allowed, "next", le.Next.Format(time.RFC3339))
		return "", &RetryLaterError{After: max(time.Second, le.Next.Sub(s.now())), Code: CodePairingLimit,
			Again: "you can ask for another code", Detail: fmt.Sprintf("%d codes in %s per %s", le.Allowed, HumanDuration(s.PairingLimits.Window), le.Scope)}
	}
	if err != nil {
		return "", err
	}
	code, err := s.whapi.Gate(ch.APIURL).PairingCode(ctx, token, p)
	switch {
	case errors.Is(err, whapi.ErrConflict):
		return "", ErrAlreadyLinked
	case errors.Is(err, whapi.ErrRefused):
		return "", ErrNoQR // not ready for a code yet
	}
	return code, err
}

// reconnectEvery is how often a channel's broken session may be logged
// out (Reconnect): once a minute, whatever the number of tabs and clicks.
// A logout and a new QR take seconds; more often only churns the line.
const reconnectEvery = time.Minute

// Reconnect is WHAPI's documented fix for a line whose gate reports ERROR
// or SYNC_ERROR: log the broken session out (POST /users/logout on the
// gate), after which a fresh QR comes, for the owner to link their phone
// again. It asks the gate first, never from the cache, and logs out only a
// line in one of those errors, so a stale button never unlinks a healthy
// phone (done is false then: the connect page shows what the line does
// now). Nothing
// is lost — the channel's days and slot stay — so it asks no confirmation;
// a channel is logged out at most once per reconnectEvery
// (RetryLaterError). A logout WHAPI answers 409 (already logged out) is as
// good as done; an unanswered one counts when the gate no longer reports
// the error (ErrUnconfirmed when it cannot be asked).
func (s *Service) Reconnect(ctx context.Context, actor models.Actor, channelID int64) (done bool, err error) {
	ch, err := s.store.ChannelByID(ctx, channelID)
	if err != nil {
		return false, err
	}
	if CheckState(ch, ActConnect) != nil || !ruleFor(ch).atWhapi {
		return false, ErrNoQR
	}
	if err := s.reconnectAllowed(ch.ID, false); err != nil {
		return false, err
	}
	token, err := s.store.ChannelToken(ch)
	if err != nil {
		return false, err
	}
	ctx, cancel := s.detach(ctx)
	defer cancel()
	defer s.connect.forget(ch.ID)
	h, err := s.whapi.Gate(ch.APIURL).Health(ctx, token)
	if err != nil {
		s.log.WarnContext(ctx, "reconnect: line state unknown", "channel", ch.ID, "err", err)
		return false, ErrUnavailable
	}
	if !broken(h) {
		return false, nil
	}
	if err := s.reconnectAllowed(ch.ID, true); err != nil {
		return false, err
	}
	err = s.whapi.Gate(ch.APIURL).Logout(ctx, token)
	switch {
	case err == nil, errors.Is(err, whapi.ErrConflict):
	case whapi.OutcomeUnknown(err):
		again, herr := s.whapi.Gate(ch.APIURL).Health(ctx, token)
		switch {
		case herr != nil:
			s.log.WarnContext(ctx, "reconnect: logout outcome unknown", "channel", ch.ID, "err", err, "health", herr)
			return false, ErrUnconfirmed
		case broken(again):
			return false, fmt.Errorf("%w: the line was not logged out", ErrRefused)
		}
	default:
		s.log.WarnContext(ctx, "reconnect: logout refused", "channel", ch.ID, "err", err)
		return false, fmt.Errorf("%w: the line was not logged out", ErrRefused)
	}
	// Logged out, the line waits for a new scan (a QR): recorded as a poll
	// would, through the store's ordering (ApplyGate, the one writer of the
	// link).
	unlinked := false
	if _, err := s.store.ApplyGate(ctx, ch.ID, models.GateObservation{Status: whapi.StatusQR, Linked: &unlinked}); err != nil {
		return false, err
	}
	return true, s.store.RecordAudit(ctx, actor, "channel.reconnect", auditTarget(ch), "logged out after "+h.Status.Text)
}

// broken reports a gate error whose fix is a logout and a new link.
func broken(h *whapi.Health) bool {
	return h.Status.Text == whapi.StatusError || h.Status.Text == whapi.StatusSyncError
}

// reconnectAllowed refuses a reconnect of a channel logged out less than
// reconnectEvery ago; take records this one.
func (s *Service) reconnectAllowed(id int64, take bool) error {
	now := s.now()
	s.connect.mu.Lock()
	defer s.connect.mu.Unlock()
	s.connect.init()
	if last, ok := s.connect.reconnected[id]; ok && now.Sub(last) < reconnectEvery {
		return &RetryLaterError{After: reconnectEvery - now.Sub(last), What: "this line was reconnected a moment ago"}
	}
	if take {
		s.connect.reconnected[id] = now
	}
	return nil
}

// ErrAlreadyLinked: a phone is linked to the channel already.
var ErrAlreadyLinked = errors.New("a phone is already linked to this line")
