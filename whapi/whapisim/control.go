package whapisim

import (
	"errors"
	"net/http"
	"strings"
)

// The simulator's own control routes: what a person trying the demo does
// to the simulated WHAPI by hand, over HTTP, where a test calls a method
// (LinkChannel, UnlinkChannel). They are not WHAPI's, so they live under
// their own prefix, served only by the main root (ServeHTTP), never by a
// second gate host; no queued Fault hits them. They take no token: whoever
// reaches the simulator is playing the phone (the app mounts the simulator
// only in its demo).
//
//	POST /_sim/channels/{id}/link    {"phone": "…"} optional: a phone scans the QR code
//	POST /_sim/channels/{id}/unlink  the phone removes the linked device
//
// Answers: 200 {"success":true,…}; 404 for an unknown or deleted channel;
// 409 when the channel is not showing a QR code to scan, or already has
// (link) or has no (unlink) phone; 400 for a bad body or phone; errors in
// WHAPI's error body, like every other answer of the simulator.
const controlPrefix = "/_sim/"

// DemoPhone is the number a control link gives the channel when the
// request names none: a made-up one, in the range reserved for fiction
// (+1 202 555-0100 to -0199).
const DemoPhone = "12025550142"

// control serves a control route.
func (s *Sim) control(r *http.Request, body []byte) reply {
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, controlPrefix), "/")
	if len(segs) != 3 || segs[0] != "channels" || segs[1] == "" || (segs[2] != "link" && segs[2] != "unlink") {
		return errReply(http.StatusNotFound, "Not found", "no such control route: "+r.Method+" "+r.URL.Path)
	}
	if r.Method != http.MethodPost {
		rep := errReply(http.StatusMethodNotAllowed, "Method not allowed", r.Method+" is not allowed on "+r.URL.Path)
		rep.header = newHTTPHeader("Allow", http.MethodPost)
		return rep
	}
	id := segs[1]
	c := &call{r: r, body: body}
	m, rep := parseObject(c)
	if rep != nil {
		return *rep
	}
	var err error
	out := map[string]any{"success": true, "channel_id": id}
	switch segs[2] {
	case "link":
		for k := range m {
			if k != "phone" {
				return badRequest("unknown field \"" + k + "\"")
			}
		}
		phone, present, ok := strField(m, "phone")
		if !ok {
			return badRequest(`"phone" must be a string of 7 to 15 digits`)
		}
		if !present || phone == "" {
			phone = s.defaultPhone(id)
		}
		err = s.LinkChannel(id, phone)
		out["phone"] = phone
	case "unlink":
		if len(m) > 0 {
			return badRequest("this route takes no body")
		}
		err = s.UnlinkChannel(id)
	}
	switch {
	case err == nil:
		return jsonReply(http.StatusOK, out)
	case errors.Is(err, ErrChannelNotFound):
		return errReply(http.StatusNotFound, "Specified channel not found", "")
	case errors.Is(err, ErrInvalidPhone):
		return badRequest(`"phone" must be a string of 7 to 15 digits`)
	case errors.Is(err, ErrNoQR):
		return errReply(http.StatusConflict, "The channel is not showing a QR code",
			"a phone can scan it only while /health says QR (not while it starts, is stopped or has failed)")
	case errors.Is(err, ErrAlreadyLinked):
		return errReply(http.StatusConflict, "The channel is already authenticated", "")
	case errors.Is(err, ErrNotLinked):
		return errReply(http.StatusConflict, "No phone is linked to the channel", "")
	}
	return errReply(http.StatusInternalServerError, "Internal Error", "")
}

// defaultPhone is the number a control link uses when none is given: the
// channel's own phone (as created), else DemoPhone.
func (s *Sim) defaultPhone(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.channels[id]; ch != nil && ch.Phone != "" {
		return ch.Phone
	}
	return DemoPhone
}
