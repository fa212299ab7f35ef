package provision

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"whapidesk/internal/i18n"
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

// connectCache coalesces the gate calls of every viewer of a channel. The
// QR is shared by every instance on the database (models.ChannelQR): one
// QR call per channel per QR lifetime in total, whatever the number of
// instances and open tabs (issue: QR fetches coalesce; issue 15: across
// instances). The health stays in each instance's memory: at most one
// health call per channel per healthTTL per instance. A webhook's event
// replaces what is held of the channel (ReceiveHook): the shared QR on
// every instance, the health on the instance that received it (others see
// the event within healthTTL).
type connectCache struct {
	// flight lets one request per instance at a time read the shared QR
	// (and fetch it), and ask the gate for the health.
	flight singleflight.Group
	mu     sync.Mutex
	health map[int64]cachedHealth
	// reconnected is when each channel's broken session was last logged
	// out (Reconnect).
	reconnected map[int64]time.Time
	// wait is how long a viewer waits for another instance's QR fetch
	// before showing "preparing" (0: qrWait); poll how often it looks
	// (0: qrPoll). Tests shorten them.
	wait, poll time.Duration
}

type cachedHealth struct {
	h  *whapi.Health
	at time.Time
}

type cachedQR struct {
	png     []byte
	expires time.Time
}

// The shared QR's fetch: the lease an instance takes before it asks the
// gate outlives the call's own timeout (qrFetchTimeout), so a live fetch
// never loses it; a lease left by an instance that died ends after
// qrLease, and the next viewer's instance fetches. The viewers of other
// instances meanwhile look at the row every qrPoll for up to qrWait (real
// time, and never past their request), then show "preparing" rather than
// call the gate themselves.
const (
	qrFetchTimeout = 15 * time.Second
	qrLease        = 20 * time.Second
	qrWait         = 3 * time.Second
	qrPoll         = 100 * time.Millisecond
)

func (c *connectCache) init() {
	if c.health == nil {
		c.health = map[int64]cachedHealth{}
		c.reconnected = map[int64]time.Time{}
	}
}

// forget drops this instance's health of a channel.
func (c *connectCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	delete(c.health, id)
}

// forget drops what is cached of a channel (linked, deleted, or WHAPI
// told something new of it): this instance's health, and the shared QR
// on every instance. A failed drop is logged; the QR then ends at its
// expiry, as WHAPI's own code does.
func (s *Service) forget(ctx context.Context, id int64) {
	s.connect.forget(id)
	s.dropQR(ctx, id)
}

// dropQR drops the channel's shared QR on every instance.
func (s *Service) dropQR(ctx context.Context, id int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.DropQR(ctx, id); err != nil {
		s.log.WarnContext(ctx, "connect page: dropping a channel's shared QR failed", "channel", id, "err", err)
	}
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
		s.forget(ctx, ch.ID)
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
		// A viewer that missed the cache just as the last flight stored its
		// answer starts this one: look again before asking the gate.
		s.connect.mu.Lock()
		if c, ok := s.connect.health[id]; ok && s.now().Sub(c.at) < healthTTL {
			s.connect.mu.Unlock()
			return c.h, nil
		}
		s.connect.mu.Unlock()
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
// per QR lifetime for all viewers on all instances; nil while the gate has
// none yet, or while another instance's fetch has not stored one within
// qrWait.
func (s *Service) qr(ctx context.Context, ch *models.Channel, token string) (*cachedQR, error) {
	res := s.connect.flight.DoChan("qr:"+strconv.FormatInt(ch.ID, 10), func() (any, error) {
		// Shared by every waiting viewer of this instance: one closed tab
		// must not fail the rest, nor a fetch under way.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), qrFetchTimeout)
		defer cancel()
		return s.sharedQR(ctx, ch, token)
	})
	select {
	case r := <-res:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*cachedQR), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// sharedQR serves the channel's shared QR while it is fresh; else it takes
// the fetch lease and asks the gate (fetchQR), or, when another instance
// holds the lease, waits up to qrWait for the code it stores.
func (s *Service) sharedQR(ctx context.Context, ch *models.Channel, token string) (*cachedQR, error) {
	wait, poll := s.connect.wait, s.connect.poll
	if wait <= 0 {
		wait = qrWait
	}
	if poll <= 0 {
		poll = qrPoll
	}
	giveUp := time.Now().Add(wait)
	for {
		row, err := s.store.ChannelQR(ctx, ch.ID)
		if err != nil {
			return nil, err
		}
		now := s.now()
		if row.Fresh(now) {
			return &cachedQR{png: row.PNG, expires: *row.ExpiresAt}, nil
		}
		if !row.Fetching(now) {
			gen, won, err := s.store.TakeQRLease(ctx, ch.ID, now, now.Add(qrLease))
			if err != nil {
				return nil, err
			}
			if won {
				return s.fetchQR(ctx, ch, token, gen)
			}
			// Another instance took it first (or stored a code): look again.
		}
		if !time.Now().Add(poll).Before(giveUp) {
			s.log.InfoContext(ctx, "connect page: another instance's QR fetch stored no code in time; showing preparing",
				"channel", ch.ID, "waited", wait)
			return nil, nil
		}
		t := time.NewTimer(poll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// fetchQR asks the gate for the QR under the lease sharedQR took (no
// transaction is open), stores it for every instance and frees the lease.
// A gate that has no code, or fails, frees the lease without one. A code
// stored or dropped meanwhile (a webhook's event, generation gen no
// more) wins over the fetched one: the viewers are shown what the row
// holds then.
func (s *Service) fetchQR(ctx context.Context, ch *models.Channel, token string, gen int64) (*cachedQR, error) {
	release := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.store.ReleaseQRLease(ctx, ch.ID); err != nil {
			// It ends after qrLease on its own.
			s.log.WarnContext(ctx, "connect page: freeing the QR fetch lease failed", "channel", ch.ID, "err", err)
		}
	}
	q, err := s.whapi.Gate(ch.APIURL).LoginQR(ctx, token)
	if err != nil {
		release()
		return nil, err
	}
	if q.Status != whapi.QRStatusOK {
		release()
		return nil, nil
	}
	png, err := q.PNG()
	if err != nil {
		release()
		return nil, err
	}
	// Kept until WHAPI's own expiry (within qrLifetime's bounds): asking
	// earlier would only fetch the same code again.
	c := cachedQR{png: png, expires: s.now().Add(qrLifetime(q))}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	stored, err := s.store.StoreFetchedQR(sctx, ch.ID, gen, png, c.expires)
	switch {
	case err != nil:
		// This viewer still gets the code; the others' instances fetch
		// again once the lease ends.
		s.log.WarnContext(ctx, "connect page: storing the shared QR failed", "channel", ch.ID, "err", err)
	case !stored:
		release()
		row, err := s.store.ChannelQR(sctx, ch.ID)
		if err != nil {
			return nil, err
		}
		if now := s.now(); row.Fresh(now) {
			return &cachedQR{png: row.PNG, expires: *row.ExpiresAt}, nil
		}
		return nil, nil // dropped: the next look fetches anew
	}
	return &c, nil
}

// QRImage returns the PNG of the channel's current QR (from the shared
// cache the connect page filled), or ErrNoQR.
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
		msg := i18n.T(ctx, "prov.phone.enter")
		if err != nil {
			msg = fieldMsg(ctx, err)
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
		return "", &RetryLaterError{After: max(time.Second, le.Next.Sub(s.now())), Code: CodePairingLimit, loc: i18n.From(ctx),
			Again: i18n.T(ctx, "prov.retry.another_code"), Detail: pairingDetail(ctx, le, s.PairingLimits.Window)}
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
	if err := s.reconnectAllowed(ctx, ch.ID, false); err != nil {
		return false, err
	}
	token, err := s.store.ChannelToken(ch)
	if err != nil {
		return false, err
	}
	ctx, cancel := s.detach(ctx)
	defer cancel()
	defer s.forget(ctx, ch.ID)
	h, err := s.whapi.Gate(ch.APIURL).Health(ctx, token)
	if err != nil {
		s.log.WarnContext(ctx, "reconnect: line state unknown", "channel", ch.ID, "err", err)
		return false, ErrUnavailable
	}
	if !broken(h) {
		return false, nil
	}
	if err := s.reconnectAllowed(ctx, ch.ID, true); err != nil {
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
func (s *Service) reconnectAllowed(ctx context.Context, id int64, take bool) error {
	now := s.now()
	s.connect.mu.Lock()
	defer s.connect.mu.Unlock()
	s.connect.init()
	if last, ok := s.connect.reconnected[id]; ok && now.Sub(last) < reconnectEvery {
		return &RetryLaterError{After: reconnectEvery - now.Sub(last), What: i18n.T(ctx, "prov.retry.reconnected"), loc: i18n.From(ctx)}
	}
	if take {
		s.connect.reconnected[id] = now
	}
	return nil
}

// ErrAlreadyLinked: a phone is linked to the channel already.
var ErrAlreadyLinked = errors.New("a phone is already linked to this line")

// pairingDetail says, for admins, which limit of pairing codes le is, in
// ctx's language.
func pairingDetail(ctx context.Context, le *models.LimitError, window time.Duration) string {
	l := i18n.From(ctx)
	id := "prov.retry.detail_codes_channel"
	if le.Scope == models.ScopeCustomer {
		id = "prov.retry.detail_codes_customer"
	}
	return l.T(id, "Allowed", plainDigits(l, le.Allowed), "Window", humanDuration(l, window))
}
