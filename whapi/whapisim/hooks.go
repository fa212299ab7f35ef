package whapisim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Defaults of webhook delivery.
const (
	// DefaultHookAttempts bounds the attempts of one delivery.
	DefaultHookAttempts = 10
	// hookTimeout bounds one delivery attempt.
	hookTimeout = 10 * time.Second
)

// HookDelivery is one event the simulator sent to a webhook (or was told
// to drop), for tests.
type HookDelivery struct {
	// ChannelID is the channel the event is about.
	ChannelID string
	// Type and Method name the event, e.g. "users" and "post".
	Type, Method string
	// URL is where it went (with the mode's suffix) and HTTPMethod how.
	URL, HTTPMethod string
	// Body is the event as sent.
	Body []byte
	// Attempts counts the HTTP attempts; Status is the last one's status
	// (0: no answer).
	Attempts, Status int
	// Delivered: an attempt was answered 200. Dropped: a HookFault dropped
	// it. Done: delivered, dropped, or out of attempts.
	Delivered, Dropped, Done bool
}

// HookFault drops or delays webhook deliveries: it hits the next Times
// deliveries (0 means 1) of events matching Type and Method ("" matches
// any).
type HookFault struct {
	Type, Method string
	Times        int
	// Drop: the event is never sent.
	Drop bool
	// Delay: the first attempt waits Delay (real time) on its own, so the
	// events after it may arrive first, as WHAPI's retries of a failed
	// delivery do.
	Delay time.Duration
}

// delivery is one event on its way.
type delivery struct {
	rec     *HookDelivery
	headers map[string]string
	delay   time.Duration
	backoff time.Duration // the linear step between attempts
	maxWait time.Duration // the cap of one wait
}

// hookQueue sends a channel's events in order, one first attempt after the
// other; an event that fails is retried on its own, so later events
// overtake it, as they would WHAPI's backoff.
type hookQueue struct {
	items   []*delivery
	running bool
}

// InjectHookFault queues a fault for the next matching webhook deliveries.
func (s *Sim) InjectHookFault(f HookFault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookFaults = append(s.hookFaults, &f)
}

// logHook adds a delivery to the log Hooks returns, which keeps the
// latest Options.MaxRequests of them (a demo's QR codes rotate for
// hours). s.mu must be held.
func (s *Sim) logHook(d *HookDelivery) {
	s.hookLog = appendBounded(s.hookLog, d, s.maxRequests)
}

// Hooks returns a copy of the webhook deliveries (the latest
// Options.MaxRequests), in the order the events happened.
func (s *Sim) Hooks() []HookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HookDelivery, len(s.hookLog))
	for i, d := range s.hookLog {
		out[i] = *d
		out[i].Body = slices.Clone(d.Body)
	}
	return out
}

// Tick looks at every channel that has webhooks and sends the events of
// what changed with time: a status reached (LAUNCH, QR, STOP) and a QR
// code rotated. Requests to the simulator do the same; a demo calls Tick
// every second, tests when they move the clock.
func (s *Sim) Tick() {
	defer s.persist()
	s.mu.Lock()
	now := s.now()
	s.observeAll(now)
	s.mu.Unlock()
	s.flush()
}

// observeAll observes every channel. s.mu must be held.
func (s *Sim) observeAll(now time.Time) {
	for _, ch := range s.order {
		s.observe(ch, now)
	}
}

// flush sends the events queued so far. It must be called without s.mu.
func (s *Sim) flush() {
	s.mu.Lock()
	out := s.outbox
	s.outbox = nil
	s.mu.Unlock()
	s.send(out)
}

// Close stops the deliveries under way; none is sent after it returns.
// With a state file, the state is written a last time.
func (s *Sim) Close() {
	defer s.persist()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hookStop()
	s.closed = true
}

// markNotified records the channel's current status and QR period as told,
// so only later changes are sent. s.mu must be held.
func (s *Sim) markNotified(ch *channel, now time.Time) {
	ch.toldState = s.gateState(ch, now)
	ch.toldQR = s.qrPeriod(ch, now)
}

// qrPeriod is the number of the QR code showing, -1 when none is.
func (s *Sim) qrPeriod(ch *channel, now time.Time) int64 {
	if s.gateState(ch, now) != stQR {
		return -1
	}
	return int64(now.Sub(ch.qrEpoch) / s.qrLifetime)
}

// observe queues the events of what changed on a channel since it was
// last told: a new status (channel post, with the health as /health shows
// it) and a new QR code (channel patch). s.mu must be held.
func (s *Sim) observe(ch *channel, now time.Time) {
	if ch.Deleted || len(ch.webhooks) == 0 {
		return
	}
	if st := s.gateState(ch, now); st != ch.toldState {
		ch.toldState = st
		s.emit(ch, "channel", "post", "health", s.healthOf(ch, now))
	}
	if p := s.qrPeriod(ch, now); p != ch.toldQR {
		ch.toldQR = p
		if p >= 0 {
			rowdata, expire := s.currentQR(ch, now)
			qr := qrOut{Status: "OK", Rowdata: rowdata, Expire: expire}
			if img, err := renderQR(rowdata, defaultQRParams); err == nil {
				qr.Base64 = "data:image/png;base64," + base64.StdEncoding.EncodeToString(img)
			}
			s.emit(ch, "channel", "patch", "qr", qr)
		}
	}
}

// emit queues one event for every webhook of the channel that wants it,
// in the shape of WHAPI's examples (reference §4): the payload under its
// key, "event": {"type", "event"} and "channel_id". s.mu must be held.
func (s *Sim) emit(ch *channel, typ, method, key string, payload any) {
	var backoff, maxWait float64
	st := settingsOf(ch)
	_ = json.Unmarshal(st["callback_backoff_delay_ms"], &backoff)
	_ = json.Unmarshal(st["max_callback_backoff_delay_ms"], &maxWait)
	for _, h := range ch.webhooks {
		if !h.wants(typ, method) {
			continue
		}
		body, err := json.Marshal(map[string]any{
			key:          payload,
			"event":      map[string]string{"type": typ, "event": method},
			"channel_id": ch.ID,
		})
		if err != nil {
			continue // only simulator bugs get here
		}
		target, verb := strings.TrimRight(h.URL, "/"), http.MethodPost
		switch h.Mode {
		case "path": // the URL ends with /<type>/<method>
			target += "/" + typ + "/" + method
		case "method": // the event's method is the HTTP method, the type ends the URL
			target, verb = target+"/"+typ, strings.ToUpper(method)
		default:
			target = h.URL
		}
		d := &delivery{
			rec:     &HookDelivery{ChannelID: ch.ID, Type: typ, Method: method, URL: target, HTTPMethod: verb, Body: body},
			headers: h.Headers,
			backoff: time.Duration(backoff) * time.Millisecond,
			maxWait: time.Duration(maxWait) * time.Millisecond,
		}
		if s.hookBackoff > 0 {
			d.backoff = s.hookBackoff
		}
		s.logHook(d.rec)
		if f := s.takeHookFault(typ, method); f != nil {
			if f.Drop {
				d.rec.Dropped, d.rec.Done = true, true
				continue
			}
			d.delay = f.Delay
		}
		s.outbox = append(s.outbox, d)
	}
}

// takeHookFault pops one hit of the first hook fault matching an event.
// s.mu must be held.
func (s *Sim) takeHookFault(typ, method string) *HookFault {
	for i, f := range s.hookFaults {
		if (f.Type != "" && f.Type != typ) || (f.Method != "" && f.Method != method) {
			continue
		}
		hit := *f
		if f.Times--; f.Times <= 0 {
			s.hookFaults = slices.Delete(s.hookFaults, i, i+1)
		}
		return &hit
	}
	return nil
}

// send starts the deliveries of out, in order per channel. It must be
// called without s.mu: the sending happens outside the lock.
func (s *Sim) send(out []*delivery) {
	if len(out) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for _, d := range out {
		q := s.queues[d.rec.ChannelID]
		if q == nil {
			q = &hookQueue{}
			s.queues[d.rec.ChannelID] = q
		}
		q.items = append(q.items, d)
		if !q.running {
			q.running = true
			go s.runQueue(q)
		}
	}
}

// runQueue sends a channel's events in order until its queue is empty.
func (s *Sim) runQueue(q *hookQueue) {
	for {
		s.mu.Lock()
		if len(q.items) == 0 || s.closed {
			q.running = false
			s.mu.Unlock()
			return
		}
		d := q.items[0]
		q.items = q.items[1:]
		s.mu.Unlock()
		if d.delay > 0 {
			go s.deliver(d, d.delay) // overtaken by the events after it
			continue
		}
		if !s.attempt(d) {
			go s.deliver(d, 0) // retried on its own
		}
	}
}

// deliver waits first (if at all) and then attempts d until it is
// answered 200 or its attempts run out, waiting n × the backoff (at most
// the channel's max_callback_backoff_delay_ms) after the n-th failure, as
// WHAPI's linear backoff does.
func (s *Sim) deliver(d *delivery, first time.Duration) {
	if first > 0 && !s.sleep(first) {
		return
	}
	s.mu.Lock()
	tried := d.rec.Attempts
	s.mu.Unlock()
	if tried == 0 && s.attempt(d) {
		return
	}
	for n := max(tried, 1); ; n++ {
		if n >= s.hookAttempts {
			s.mu.Lock()
			d.rec.Done = true
			s.mu.Unlock()
			return
		}
		if !s.sleep(min(time.Duration(n)*d.backoff, d.maxWait)) || s.attempt(d) {
			return
		}
	}
}

// sleep waits d unless the simulator is closed first.
func (s *Sim) sleep(d time.Duration) bool {
	s.mu.Lock()
	ctx := s.hookCtx
	s.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// attempt sends d once and reports whether it was answered 200.
func (s *Sim) attempt(d *delivery) bool {
	s.mu.Lock()
	ctx := s.hookCtx
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	status := 0
	req, err := http.NewRequestWithContext(ctx, d.rec.HTTPMethod, d.rec.URL, bytes.NewReader(d.rec.Body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "whapisim-webhooks/1")
		for k, v := range d.headers {
			req.Header.Set(k, v)
		}
		if resp, err := s.hookClient.Do(req); err == nil {
			status = resp.StatusCode
			_ = resp.Body.Close()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d.rec.Attempts++
	d.rec.Status = status
	if status == http.StatusOK {
		d.rec.Delivered, d.rec.Done = true, true
	}
	return d.rec.Delivered
}
