package whapisim

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// apiKind says which credential a route needs.
type apiKind int

const (
	apiManager apiKind = iota + 1 // partner token
	apiGate                       // channel token
)

// call is one request being handled; the handler runs with s.mu held.
type call struct {
	r      *http.Request
	body   []byte
	query  url.Values
	now    time.Time
	params []string // path wildcards, in order
	ch     *channel // the authenticated channel, on gate routes
}

// reply is a complete answer, built before anything is written.
type reply struct {
	status int
	ctype  string
	body   []byte
	header http.Header
	// late, when set, makes the reply once s.mu is released: work that
	// reads nothing of the simulator's state (drawing a QR code) is not
	// done under its lock, where it would hold up every other request.
	late func() reply
}

type handlerFunc func(s *Sim, c *call) reply

// route is one path pattern; "{}" segments match any non-empty segment.
type route struct {
	segs    []string
	api     apiKind
	methods map[string]handlerFunc
}

// routes returns the routing table. Literal segments are listed before
// wildcards at the same position, and the first match wins.
func routes() []route {
	ns := notSimulated
	return []route{
		// Manager (Partner API).
		{segs: []string{"projects"}, api: apiManager, methods: map[string]handlerFunc{"GET": (*Sim).listProjects, "PUT": ns}},
		{segs: []string{"projects", "{}"}, api: apiManager, methods: map[string]handlerFunc{"GET": ns, "PATCH": ns, "DELETE": ns}},
		// There is no documented GET /channels, so it is 405 here.
		{segs: []string{"channels"}, api: apiManager, methods: map[string]handlerFunc{"PUT": (*Sim).createChannel}},
		{segs: []string{"channels", "list"}, api: apiManager, methods: map[string]handlerFunc{"GET": (*Sim).listChannels}},
		{segs: []string{"channels", "list", "{}"}, api: apiManager, methods: map[string]handlerFunc{"GET": (*Sim).listChannels}},
		{segs: []string{"channels", "{}"}, api: apiManager, methods: map[string]handlerFunc{"GET": (*Sim).getChannel, "PATCH": (*Sim).updateChannel, "DELETE": (*Sim).deleteChannel}},
		{segs: []string{"channels", "{}", "extend"}, api: apiManager, methods: map[string]handlerFunc{"POST": (*Sim).extendChannel}},
		{segs: []string{"channels", "{}", "mode"}, api: apiManager, methods: map[string]handlerFunc{"PATCH": (*Sim).changeMode}},
		{segs: []string{"channels", "{}", "start"}, api: apiManager, methods: map[string]handlerFunc{"POST": (*Sim).startChannel}},
		{segs: []string{"channels", "{}", "stop"}, api: apiManager, methods: map[string]handlerFunc{"POST": (*Sim).stopChannel}},
		{segs: []string{"channels", "{}", "restart"}, api: apiManager, methods: map[string]handlerFunc{"POST": (*Sim).restartChannel}},
		{segs: []string{"partners", "{}", "settings"}, api: apiManager, methods: map[string]handlerFunc{"GET": ns, "PATCH": ns}},
		// Gate (per channel).
		{segs: []string{"health"}, api: apiGate, methods: map[string]handlerFunc{"GET": (*Sim).health}},
		{segs: []string{"users", "login"}, api: apiGate, methods: map[string]handlerFunc{"GET": (*Sim).loginQR}},
		{segs: []string{"users", "login", "image"}, api: apiGate, methods: map[string]handlerFunc{"GET": (*Sim).loginImage}},
		{segs: []string{"users", "login", "rowdata"}, api: apiGate, methods: map[string]handlerFunc{"GET": (*Sim).loginRowdata}},
		{segs: []string{"users", "login", "mobile"}, api: apiGate, methods: map[string]handlerFunc{"POST": ns}},
		{segs: []string{"users", "login", "{}"}, api: apiGate, methods: map[string]handlerFunc{"GET": (*Sim).pairingCode}},
		{segs: []string{"users", "logout"}, api: apiGate, methods: map[string]handlerFunc{"POST": (*Sim).logout}},
		{segs: []string{"users", "profile"}, api: apiGate, methods: map[string]handlerFunc{"GET": ns, "PATCH": ns}},
		{segs: []string{"settings"}, api: apiGate, methods: map[string]handlerFunc{"GET": (*Sim).getSettings, "PATCH": (*Sim).patchSettings, "DELETE": ns}},
		{segs: []string{"settings", "events"}, api: apiGate, methods: map[string]handlerFunc{"GET": ns}},
		{segs: []string{"settings", "webhook_test"}, api: apiGate, methods: map[string]handlerFunc{"POST": ns}},
		{segs: []string{"limits"}, api: apiGate, methods: map[string]handlerFunc{"GET": ns}},
		{segs: []string{"messages", "text"}, api: apiGate, methods: map[string]handlerFunc{"POST": (*Sim).sendText}},
	}
}

// match finds the route for path and returns it with its wildcard values.
func (s *Sim) match(path string) (*route, []string) {
	if !strings.HasPrefix(path, "/") {
		return nil, nil
	}
	segs := strings.Split(path[1:], "/")
	for i := range s.routes {
		rt := &s.routes[i]
		if len(rt.segs) != len(segs) {
			continue
		}
		var params []string
		ok := true
		for j, p := range rt.segs {
			switch {
			case p == "{}" && segs[j] != "":
				params = append(params, segs[j])
			case p != segs[j]:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok {
			return rt, params
		}
	}
	return nil, nil
}

// ServeHTTP serves the manager and the gate API. Every request is recorded;
// queued faults are applied first. Aborting faults panic with
// http.ErrAbortHandler, which an http.Server handles by closing the
// connection; call ServeHTTP through a server (e.g. httptest.NewServer).
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r, false) }

// serve serves a request to the main root (manager and gate), or, when
// second is true, to a second gate host (GateHost).
func (s *Sim) serve(w http.ResponseWriter, r *http.Request, second bool) {
	defer s.persist() // the state file keeps what the request changed
	defer s.flush()   // the webhooks hear what the request changed
	// The body is read up to MaxBody; past it the server answers 413 and
	// closes the connection, so a client cannot keep sending.
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	tooLarge := errors.As(readErr, &tooBig)
	if tooLarge {
		readErr = nil
	}

	s.mu.Lock()
	rec := &Request{
		Time:          s.now(),
		Method:        r.Method,
		Path:          r.URL.Path,
		RawQuery:      r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"),
		Host:          r.Host,
	}
	rec.Body, rec.BodyTruncated = s.recordedBody(body)
	rec.BodyTruncated = rec.BodyTruncated || tooLarge
	s.record(rec)
	var f *Fault
	if !isControl(r.URL.Path) { // faults are WHAPI's, not the controls'
		f = s.takeFault(r.Method, r.URL.Path)
	}
	if f != nil {
		rec.Fault = f.Kind
	}
	s.mu.Unlock()

	handle := func() reply {
		switch {
		case readErr != nil:
			return errReply(http.StatusBadRequest, "Wrong request parameters", "the request body could not be read")
		case tooLarge:
			return errReply(http.StatusRequestEntityTooLarge, "Request body too large", "")
		}
		if isControl(r.URL.Path) && !second {
			return s.control(r, body)
		}
		return s.handle(r, body, second)
	}

	if f != nil {
		switch f.Kind {
		case FaultStatus:
			s.finish(w, rec, f.errorReply(http.StatusInternalServerError))
			return
		case FaultErrorIn2xx:
			s.finish(w, rec, f.errorReply(http.StatusOK))
			return
		case FaultAppliedWithError:
			handle() // the change happens; its answer is replaced
			s.finish(w, rec, f.errorReply(http.StatusOK))
			return
		case FaultQRExpire:
			s.finish(w, rec, f.rewriteExpire(handle()))
			return
		case FaultMalformed:
			s.finish(w, rec, reply{status: http.StatusOK, ctype: "application/json", body: []byte(`{"success":tru`)})
			return
		case FaultHang:
			wait(r.Context(), f.Delay)
			s.abort(rec, 0)
		case FaultLatency:
			if !wait(r.Context(), f.Delay) {
				s.abort(rec, 0)
			}
		case FaultLostAfterApply:
			rep := handle()
			s.abort(rec, rep.status)
		}
	}
	s.finish(w, rec, handle())
}

// wait sleeps d (forever if d <= 0) or until ctx ends; it reports whether
// the whole d passed.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		<-ctx.Done()
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// finish writes rep and records its status.
func (s *Sim) finish(w http.ResponseWriter, rec *Request, rep reply) {
	s.mu.Lock()
	rec.Status = rep.status
	s.mu.Unlock()
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	if rep.ctype != "" {
		w.Header().Set("Content-Type", rep.ctype)
	}
	// Every HTTP server dates its answers by its own clock (RFC 9110
	// §6.6.1); the simulator's is Options.Now, so a test that moves it
	// sees WHAPI's clock move (whapidesk doctor compares clocks).
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// abort records the request as unanswered and closes the connection.
func (s *Sim) abort(rec *Request, status int) {
	s.mu.Lock()
	rec.Status = status
	rec.Aborted = true
	s.mu.Unlock()
	panic(http.ErrAbortHandler)
}

// handle routes, authorizes and runs the handler with s.mu held (and then
// a reply's late part without it). On a
// second gate host (second) only the gate API is served, and only for the
// channels placed on the host the request was addressed to; the main root
// serves the channels placed nowhere else.
func (s *Sim) handle(r *http.Request, body []byte, second bool) reply {
	rt, params := s.match(r.URL.Path)
	if rt != nil && second && rt.api != apiGate {
		rt = nil // a gate host has no partner API
	}
	if rt == nil {
		return errReply(http.StatusNotFound, "Not found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	}
	h, ok := rt.methods[r.Method]
	if !ok {
		allow := make([]string, 0, len(rt.methods))
		for m := range rt.methods {
			allow = append(allow, m)
		}
		slices.Sort(allow)
		rep := errReply(http.StatusMethodNotAllowed, "Method not allowed", r.Method+" is not allowed on "+r.URL.Path)
		rep.header = newHTTPHeader("Allow", strings.Join(allow, ", "))
		return rep
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errReply(http.StatusBadRequest, "Wrong request parameters", "malformed query string")
	}

	rep := func() reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		c := &call{r: r, body: body, query: q, now: s.now(), params: params}
		tok, ok := bearer(r, q)
		switch rt.api {
		case apiManager:
			if !ok || s.partnerToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.partnerToken)) != 1 {
				return errReply(http.StatusUnauthorized, "Unauthorized", "invalid or missing partner token")
			}
		case apiGate:
			ch := s.byToken[tok]
			if !ok || ch == nil || ch.Deleted || !servedHere(ch, r.Host, second) {
				return errReply(http.StatusUnauthorized, "Unauthorized", "invalid or missing channel token")
			}
			c.ch = ch
		}
		rep := h(s, c)
		s.observeAll(c.now)
		return rep
	}()
	if rep.late != nil {
		rep = rep.late()
	}
	return rep
}

// servedHere reports whether the gate host a request reached serves ch:
// the main root serves the channels not placed elsewhere, a second gate
// host those placed on its host.
func servedHere(ch *channel, host string, second bool) bool {
	if !second {
		return ch.gate == ""
	}
	h, err := gateHostOf(ch.gate)
	return err == nil && h != "" && strings.EqualFold(h, host)
}

// bearer extracts the raw token. An Authorization header, when present,
// decides alone (our choice): it must be exactly one header of the form
// "Bearer <token>" — case, spacing and repetition exact. Without the header
// the token is taken from a single ?token= query parameter (the specs'
// tokenAuth scheme).
func bearer(r *http.Request, q url.Values) (string, bool) {
	if vals := r.Header.Values("Authorization"); len(vals) > 0 {
		if len(vals) != 1 {
			return "", false
		}
		tok, ok := strings.CutPrefix(vals[0], "Bearer ")
		return tok, ok && tok != ""
	}
	if vals := q["token"]; len(vals) == 1 && vals[0] != "" {
		return vals[0], true
	}
	return "", false
}

// apiError is WHAPI's error body.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
}

func errReply(status int, msg, details string) reply {
	return jsonReply(status, apiError{Error: apiErrorBody{Code: status, Message: msg, Details: details}})
}

func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		// Only simulator bugs get here.
		b = []byte(`{"error":{"code":500,"message":"Internal Error"}}`)
		status = http.StatusInternalServerError
	}
	return reply{status: status, ctype: "application/json", body: b}
}

func successReply() reply {
	return reply{status: http.StatusOK, ctype: "application/json", body: []byte(`{"success":true}`)}
}

func notSimulated(_ *Sim, c *call) reply {
	return errReply(http.StatusNotImplemented, "Not implemented in the simulator",
		c.r.Method+" "+c.r.URL.Path+" is a WHAPI endpoint that whapisim does not simulate")
}

// errorReply is the error answer of a fault, in its shape: Status (def if
// zero), Code (the status if zero, or 500 under a 2xx), Message (the usual
// text for the status if empty).
func (f *Fault) errorReply(def int) reply {
	st := f.Status
	if st == 0 {
		st = def
	}
	ok := st >= 200 && st < 300
	code := f.Code
	switch {
	case code != 0:
	case ok:
		code = http.StatusInternalServerError
	default:
		code = st
	}
	msg := f.Message
	switch {
	case msg != "":
	case ok:
		msg = "Request failed"
	default:
		msg = faultMessage(st)
	}
	switch f.Shape {
	case ShapeFlat:
		return jsonReply(st, struct {
			Code  int    `json:"code"`
			Error string `json:"error"`
		}{code, msg})
	case ShapeMessage:
		return jsonReply(st, struct {
			Message string `json:"message"`
		}{msg})
	case ShapeText:
		return reply{status: st, ctype: "text/plain; charset=utf-8", body: []byte(msg + "\n")}
	case ShapeHTML:
		title := msg
		if f.Message == "" {
			title = strconv.Itoa(st) + " " + http.StatusText(st)
		}
		page := "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
			"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
		return reply{status: st, ctype: "text/html", body: []byte(page)}
	case ShapeEmpty:
		return reply{status: st}
	case ShapeSuccessFalse:
		return jsonReply(st, struct {
			Success bool `json:"success"`
		}{false})
	}
	return jsonReply(st, apiError{Error: apiErrorBody{Code: code, Message: msg, Details: f.Details}})
}

// rewriteExpire gives the "expire" of a JSON answer that has one the value
// f.Expire, or drops it when f.Expire is "".
func (f *Fault) rewriteExpire(rep reply) reply {
	if rep.ctype != "application/json" {
		return rep
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(rep.body, &m) != nil {
		return rep
	}
	if _, ok := m["expire"]; !ok {
		return rep
	}
	if f.Expire == "" {
		delete(m, "expire")
	} else {
		m["expire"] = json.RawMessage(f.Expire)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return rep
	}
	rep.body = b
	return rep
}

// faultMessage is the error message of an injected status.
func faultMessage(status int) string {
	switch status {
	case http.StatusInternalServerError:
		return "Internal Error"
	case http.StatusServiceUnavailable:
		return "All servers are currently busy. Please try again later"
	case http.StatusTooManyRequests:
		return "Too many requests"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

// parseObject reads a JSON object body. An empty body is an empty object. A
// non-empty body must be sent as application/json (our choice: WHAPI's
// examples always send it, and a body of another type is not read as JSON).
func parseObject(c *call) (map[string]json.RawMessage, *reply) {
	if len(strings.TrimSpace(string(c.body))) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	mt, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		rep := errReply(http.StatusBadRequest, "Wrong request parameters", "the body must be application/json")
		return nil, &rep
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(c.body, &m); err != nil || m == nil {
		rep := errReply(http.StatusBadRequest, "Wrong request parameters", "the body must be a JSON object")
		return nil, &rep
	}
	return m, nil
}

// strField reads an optional string field by its exact (case-sensitive) key;
// ok is false when the field is present but not a string (null included).
func strField(m map[string]json.RawMessage, key string) (v string, present, ok bool) {
	raw, present := m[key]
	if !present {
		return "", false, true
	}
	if err := json.Unmarshal(raw, &v); err != nil || string(raw) == "null" {
		return "", true, false
	}
	return v, true, true
}

// numField reads an optional number field by its exact key; ok is false when
// the field is present but not a JSON number.
func numField(m map[string]json.RawMessage, key string) (v float64, present, ok bool) {
	raw, present := m[key]
	if !present {
		return 0, false, true
	}
	if err := json.Unmarshal(raw, &v); err != nil || string(raw) == "null" {
		return 0, true, false
	}
	return v, true, true
}

// intQuery reads an optional integer query parameter within [lo, hi].
func intQuery(q url.Values, key string, def, lo, hi int) (int, bool) {
	vals, ok := q[key]
	if !ok {
		return def, true
	}
	if len(vals) != 1 {
		return 0, false
	}
	n, err := strconv.Atoi(vals[0])
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// boolQuery reads an optional boolean query parameter ("true" or "false").
func boolQuery(q url.Values, key string, def bool) (bool, bool) {
	vals, ok := q[key]
	if !ok {
		return def, true
	}
	if len(vals) != 1 {
		return false, false
	}
	switch vals[0] {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
