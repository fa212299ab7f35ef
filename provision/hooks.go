package provision

import (
	"context"
	"errors"
	"strings"

	"whapidesk/models"
	"whapidesk/whapi"
)

// Webhooks from WHAPI (issue 13). With a public address (main's
// --public-url), every channel's gate gets a webhook of ours right after
// the channel is made, and any channel without one gets it on the next
// sync: WHAPI then tells of a status (channel post), a QR code (channel
// patch), a phone linked (users post) or unlinked (users delete) at once,
// and the dashboard, the API and an open connect page know it without
// asking. Polling stays as it was: the connect page still asks the gate
// (through the same cache, which an event refreshes), and a poll that sees
// a change the webhook never told has the next sync look at the webhook
// again.

// HookPath is where WHAPI's webhooks arrive, under the public address:
// HookPath + the channel's webhook secret (the handlers' route).
const HookPath = "/hooks/whapi/"

// hookEvents are the events whapidesk asks for: every method WHAPI sends
// for channel and users (reference §4).
var hookEvents = []whapi.WebhookEvent{
	{Type: whapi.HookChannel, Method: whapi.HookPost},
	{Type: whapi.HookChannel, Method: whapi.HookPatch},
	{Type: whapi.HookUsers, Method: whapi.HookPost},
	{Type: whapi.HookUsers, Method: whapi.HookDelete},
}

// Errors of the webhook receiver.
var (
	// ErrUnknownHook: no channel has a webhook with this secret.
	ErrUnknownHook = errors.New("no channel has this webhook")
	// ErrBadHookEvent: the body is not an event as WHAPI sends them, or
	// names another channel than the webhook's.
	ErrBadHookEvent = errors.New("not an event WHAPI sends")
)

// errHookNotKept: WHAPI answered the PATCH without our webhook in its list.
var errHookNotKept = errors.New("provision: WHAPI's settings do not show the webhook after the update")

// SetPublicURL sets the address at which WHAPI reaches this app (e.g.
// "https://desk.example.com", no trailing slash needed); "" turns webhook
// registration off. main validates it. Set it before serving.
func (s *Service) SetPublicURL(u string) { s.publicURL = strings.TrimRight(u, "/") }

// hookable reports whether a channel should have a webhook: WHAPI holds
// it and a phone may be linked to it (a running channel).
func hookable(ch *models.Channel) bool {
	return ruleOf(ch.Status).atWhapi && CheckState(ch, ActConnect) == nil
}

// hookAfterCreate registers a new channel's webhook. A failure is logged
// and never fails the create: the next sync tries again.
func (s *Service) hookAfterCreate(ctx context.Context, ch *models.Channel) {
	if s.publicURL == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.HookTimeout)
	defer cancel()
	unlock := s.locks.lock(ch.ID)
	defer unlock()
	if _, err := s.ensureHook(ctx, ch); err != nil {
		s.log.WarnContext(ctx, "webhook registration after create failed; the next sync retries", "channel", ch.ID, "err", err)
	}
}

// ensureHook registers the channel's webhook when it has none under the
// public address, or when polling saw a change the webhook did not tell
// (then it is looked at first, and registered again only when WHAPI no
// longer has it). It reports whether it registered one. The caller holds
// the channel's lock: read, merge and write must not interleave.
//
// The registration reads the settings (GET /settings), keeps every
// webhook that is not ours as WHAPI gave it, drops ours (any under our
// hook path, or with our secret), adds the new one and writes the list
// back (PATCH /settings with webhooks only, so no other setting changes).
// The new secret's hash is stored before the PATCH, so an event sent at
// once is accepted; the webhook counts as registered once WHAPI's answer
// shows it.
func (s *Service) ensureHook(ctx context.Context, ch *models.Channel) (bool, error) {
	base := s.publicURL
	if base == "" || !hookable(ch) {
		return false, nil
	}
	g, err := s.store.ChannelGate(ctx, ch.ID)
	if err != nil {
		return false, err
	}
	if g.Registered(base) && !g.HookRecheck {
		return false, nil
	}
	token, err := s.store.ChannelToken(ch)
	if err != nil {
		return false, err
	}
	cur, err := s.whapi.Gate(ch.APIURL).GetSettings(ctx, token)
	if err != nil {
		return false, err
	}
	if g.Registered(base) && hasOurHook(cur.Webhooks, base, *g.HookHash) {
		return false, s.store.HookChecked(ctx, ch.ID) // intact: polling raced the event
	}
	secret, hash, err := models.NewSecret()
	if err != nil {
		return false, err
	}
	if err := s.store.BeginHook(ctx, ch.ID, hash); err != nil {
		return false, err
	}
	ours := whapi.Webhook{URL: base + HookPath + secret, Events: hookEvents, Mode: whapi.HookModeBody}
	list := []whapi.Webhook{}
	for _, w := range cur.Webhooks {
		if !isOurHook(w.URL, base, g) {
			list = append(list, w)
		}
	}
	list = append(list, ours)
	up, err := s.whapi.Gate(ch.APIURL).PatchSettings(ctx, token, whapi.SettingsPatch{Webhooks: list})
	if err != nil {
		return false, err
	}
	if !hasOurHook(up.AfterUpdate.Webhooks, base, hash) {
		return false, errHookNotKept
	}
	if err := s.store.ConfirmHook(ctx, ch.ID, hash, base); err != nil {
		return false, err
	}
	s.log.InfoContext(ctx, "webhook registered at WHAPI", "channel", ch.ID, "kept", len(list)-1)
	return true, nil
}

// hookSecretOf returns the secret at the end of a webhook URL of ours
// under base, and false for any other URL.
func hookSecretOf(url, base string) (string, bool) {
	secret, ok := strings.CutPrefix(url, base+HookPath)
	return secret, ok && models.WellFormedSecret(secret)
}

// hasOurHook reports whether hooks hold our webhook of the secret whose
// hash is hash, with every event we ask for, in mode body.
func hasOurHook(hooks []whapi.Webhook, base, hash string) bool {
	for _, w := range hooks {
		secret, ok := hookSecretOf(w.URL, base)
		if !ok || models.SecretHash(secret) != hash || (w.Mode != "" && w.Mode != whapi.HookModeBody) {
			continue
		}
		all := true
		for _, ev := range hookEvents {
			all = all && w.Has(ev.Type, ev.Method)
		}
		if all {
			return true
		}
	}
	return false
}

// isOurHook reports whether a webhook URL is one of ours for the channel
// of g: under our hook path (at the public address now, or the one it was
// registered under), or ending with its current or pending secret. Ours
// are replaced; every other webhook is kept.
func isOurHook(url, base string, g *models.ChannelGate) bool {
	if strings.HasPrefix(url, base+HookPath) || (g.HookBase != "" && strings.HasPrefix(url, g.HookBase+HookPath)) {
		return true
	}
	i := strings.LastIndex(url, "/")
	if i < 0 || !models.WellFormedSecret(url[i+1:]) {
		return false
	}
	h := models.SecretHash(url[i+1:])
	return (g.HookHash != nil && *g.HookHash == h) || (g.PendingHash != nil && *g.PendingHash == h)
}

// HookEvent is one event from a channel's webhook, as ParseHookEvent read
// it.
type HookEvent struct{ p *whapi.WebhookPayload }

// ParseHookEvent reads a webhook body, or fails with ErrBadHookEvent.
func ParseHookEvent(body []byte) (*HookEvent, error) {
	p, err := whapi.ParseWebhook(body)
	if err != nil {
		return nil, ErrBadHookEvent
	}
	return &HookEvent{p: p}, nil
}

// ReceiveHook applies an event to the channel whose webhook secret is
// secret: ErrUnknownHook when there is none (nothing is written), and
// ErrBadHookEvent when the event names another channel. It never calls
// WHAPI and takes no channel lock, so WHAPI gets its answer at once.
//
// A status (channel post) is applied in the order of the gate's clock:
// AUTH means linked (with the account's number), QR not linked, any other
// status leaves the link as it is. users post links, users delete unlinks
// (they carry no time, so one that contradicts the last status is a late
// replay and changes nothing). A QR code (channel patch) becomes the one
// the connect page shows. Whatever the event, what the connect page had
// cached of the channel is dropped, and what the event told put in its
// place, so the page and the API show it on their next look. Events of
// other types are accepted and ignored, as are events for a channel that
// is gone.
func (s *Service) ReceiveHook(ctx context.Context, secret string, ev *HookEvent) error {
	// What the event tells is as old as its arrival: the connect page's
	// cache counts its age from then, not from when it was stored.
	received := s.now()
	ch, err := s.store.ChannelByHookSecret(ctx, secret)
	if errors.Is(err, models.ErrNotFound) {
		return ErrUnknownHook
	}
	if err != nil {
		return err
	}
	p := ev.p
	if p.ChannelID != "" && p.ChannelID != ch.RemoteID() {
		return ErrBadHookEvent
	}
	if !ruleOf(ch.Status).atWhapi {
		return nil
	}
	var obs models.GateObservation
	var seen *whapi.Health // what the connect page may show, once applied
	switch {
	case p.Type == whapi.HookChannel && p.Method == whapi.HookPost:
		obs, seen = healthObservation(p.Health), p.Health
	case p.Type == whapi.HookUsers && p.Method == whapi.HookPost:
		linked := true
		obs = models.GateObservation{Linked: &linked, Phone: p.User.Phone()}
		seen = &whapi.Health{Status: whapi.ChannelStatus{Text: whapi.StatusAuth}, User: p.User}
	case p.Type == whapi.HookUsers && p.Method == whapi.HookDelete:
		linked := false
		obs = models.GateObservation{Linked: &linked}
	case p.Type == whapi.HookChannel && p.Method == whapi.HookPatch:
		s.learnQR(ctx, ch, p.QR)
		return nil
	default:
		return nil
	}
	obs.Hook = true
	res, err := s.store.ApplyGate(ctx, ch.ID, obs)
	if err != nil {
		return err
	}
	// This instance's health first, so that its viewers see the event
	// at once; then the shared QR (a database write).
	s.connect.forget(ch.ID)
	if res.Applied && seen != nil {
		s.connect.learn(ch.ID, seen, received)
	}
	s.dropQR(ctx, ch.ID)
	return nil
}

// healthObservation is what a status tells of a channel: AUTH linked
// (with the account's number), QR not linked, anything else nothing of
// the link.
func healthObservation(h *whapi.Health) models.GateObservation {
	o := models.GateObservation{Status: h.Status.Text}
	if at, ok := h.At(); ok {
		o.At = at
	}
	switch h.Status.Text {
	case whapi.StatusAuth:
		linked := true
		o.Linked = &linked
		if h.User != nil {
			o.Phone = h.User.Phone()
		}
	case whapi.StatusQR:
		linked := false
		o.Linked = &linked
	}
	return o
}

// learnQR makes a QR code from a webhook the one the connect page shows,
// unless the channel is linked (the code is then of no use).
func (s *Service) learnQR(ctx context.Context, ch *models.Channel, q *whapi.QR) {
	if ch.Linked || q.Status != whapi.QRStatusOK {
		return
	}
	png, err := q.PNG()
	if err != nil {
		return
	}
	// Written through to the shared row: every instance shows it at once.
	if err := s.store.PutQR(ctx, ch.ID, png, s.now().Add(qrLifetime(q))); err != nil {
		s.log.WarnContext(ctx, "webhook: storing the new QR failed", "channel", ch.ID, "err", err)
	}
}
