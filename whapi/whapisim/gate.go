package whapisim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"
)

// gateStatus is the channel status of /health. The codes of INIT, LAUNCH,
// QR and ERROR are from WHAPI's examples, AUTH = 4 was observed by third
// parties; NOT_INIT = 0, STOP = 6 and SYNC_ERROR = 7 are our choice
// (clients must key on the text).
type gateStatus int

const (
	stNotInit   gateStatus = 0
	stInit      gateStatus = 1
	stLaunch    gateStatus = 2
	stQR        gateStatus = 3
	stAuth      gateStatus = 4
	stError     gateStatus = 5
	stStop      gateStatus = 6
	stSyncError gateStatus = 7
)

func (g gateStatus) text() string {
	switch g {
	case stError:
		return "ERROR"
	case stSyncError:
		return "SYNC_ERROR"
	case stInit:
		return "INIT"
	case stLaunch:
		return "LAUNCH"
	case stQR:
		return "QR"
	case stAuth:
		return "AUTH"
	case stStop:
		return "STOP"
	}
	return "NOT_INIT"
}

// boot starts (full: INIT for the first half of the startup delay, then
// LAUNCH) or restarts (LAUNCH for the whole delay) the channel's instance.
// A new QR sequence starts when it is up.
func (s *Sim) boot(ch *channel, now time.Time, full bool) {
	ch.booted = true
	ch.bootAt = now
	ch.initUntil = now
	if full {
		ch.initUntil = now.Add(s.startupDelay / 2)
	}
	ch.launchUntil = now.Add(s.startupDelay)
	ch.qrEpoch = ch.launchUntil
}

// gateState derives the channel status from the clock.
func (s *Sim) gateState(ch *channel, now time.Time) gateStatus {
	switch {
	case now.After(ch.ActiveTill):
		return stStop // "End of trial or subscription"
	case ch.Halted:
		return stStop // "manual stop"
	case !ch.booted:
		return stNotInit
	case now.Before(ch.initUntil):
		return stInit
	case now.Before(ch.launchUntil):
		return stLaunch
	case ch.GateError == stError.text():
		return stError
	case ch.GateError == stSyncError.text():
		return stSyncError
	case ch.Linked:
		return stAuth
	}
	return stQR
}

// stopped is the manager's "stopped" flag: the line does not run, because
// its days ran out, POST /stop stopped it, or it was extended after its
// days ran out and nothing has started it since (reference §5: "extend +
// start resumes").
func (s *Sim) stopped(ch *channel, now time.Time) bool {
	return now.After(ch.ActiveTill) || ch.Halted || !ch.booted
}

// launchable reports whether a wakeup launches the channel: it has days
// and is stopped (WHAPI's wakeup parameter "launches a stopped/sleeping
// channel first"; our reading takes a channel stopped by POST /stop as
// stopped too, so a client that must keep a line stopped never calls a
// gate endpoint with wakeup=true on it).
func (s *Sim) launchable(ch *channel, now time.Time) bool {
	return !now.After(ch.ActiveTill) && (ch.Halted || !ch.booted)
}

// launch starts a stopped channel: INIT, LAUNCH, then QR, or AUTH when its
// session survived.
func (s *Sim) launch(ch *channel, now time.Time) {
	ch.Halted = false
	s.boot(ch, now, true)
}

type statusOut struct {
	Code int    `json:"code"`
	Text string `json:"text"`
}

type userOut struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type healthOut struct {
	ChannelID string    `json:"channel_id"`
	StartAt   int64     `json:"start_at"` // epoch seconds
	Uptime    int64     `json:"uptime"`   // seconds
	Version   string    `json:"version"`
	Status    statusOut `json:"status"`
	User      *userOut  `json:"user,omitempty"`
}

// health serves GET /health. wakeup (default true) starts a stopped
// channel that has days (see launchable); wakeup=false never starts
// anything.
func (s *Sim) health(c *call) reply {
	wakeup, ok := boolQuery(c.query, "wakeup", true)
	if !ok {
		return badRequest(`"wakeup" must be true or false`)
	}
	if vals, present := c.query["channel_type"]; present && (len(vals) != 1 || vals[0] != "web" && vals[0] != "mobile") {
		return badRequest(`"channel_type" must be web or mobile`)
	}
	ch := c.ch
	if wakeup && s.launchable(ch, c.now) {
		s.launch(ch, c.now)
	}
	return jsonReply(http.StatusOK, s.healthOf(ch, c.now))
}

// healthOf is the channel's health now, as /health and the channel post
// webhook show it.
func (s *Sim) healthOf(ch *channel, now time.Time) healthOut {
	st := s.gateState(ch, now)
	out := healthOut{ChannelID: ch.ID, Version: GateVersion, Status: statusOut{Code: int(st), Text: st.text()}}
	if st != stNotInit && st != stStop {
		out.StartAt = ch.bootAt.Unix()
		out.Uptime = int64(now.Sub(ch.bootAt) / time.Second)
	}
	if st == stAuth || st == stSyncError {
		out.User = &userOut{ID: ch.LinkedPhone, Name: ch.LinkedPhone}
	}
	return out
}

type qrOut struct {
	Status  string `json:"status"`
	Base64  string `json:"base64,omitempty"`
	Rowdata string `json:"rowdata,omitempty"`
	Expire  int    `json:"expire,omitempty"` // seconds left
}

// loginState applies wakeup and decides what a login endpoint answers:
// a reply (400, 409, or the QR object with status ERROR or WAITING), or nil
// when a QR is showing.
//
// Our choices: wakeup (default true) launches a stopped channel that has
// days (see launchable); an expired channel cannot be launched without days,
// and it and a line in ERROR answer 200 {"status":"ERROR"}, as does a
// stopped one asked with wakeup=false; a channel not yet showing a QR
// (NOT_INIT, INIT, LAUNCH) answers 200 {"status":"WAITING"} [INF]; a
// linked channel answers 409, even while restarting.
func (s *Sim) loginState(c *call) *reply {
	wakeup, ok := boolQuery(c.query, "wakeup", true)
	if !ok {
		rep := badRequest(`"wakeup" must be true or false`)
		return &rep
	}
	ch := c.ch
	if wakeup && s.launchable(ch, c.now) {
		s.launch(ch, c.now)
	}
	st := s.gateState(ch, c.now)
	if st == stStop || st == stError {
		rep := jsonReply(http.StatusOK, qrOut{Status: "ERROR"})
		return &rep
	}
	if ch.Linked {
		rep := errReply(http.StatusConflict, "Channel already authenticated", "")
		return &rep
	}
	if st != stQR {
		rep := jsonReply(http.StatusOK, qrOut{Status: "WAITING"})
		return &rep
	}
	return nil
}

// currentQR returns the payload of the QR showing now and the whole seconds
// until it expires (rounded up, so never 0 while it is valid). QR periods of
// qrLifetime are counted from when the channel reached QR; each has its own
// payload.
func (s *Sim) currentQR(ch *channel, now time.Time) (rowdata string, expire int) {
	el := now.Sub(ch.qrEpoch)
	idx := int64(el / s.qrLifetime)
	left := s.qrLifetime - el%s.qrLifetime
	expire = int(math.Ceil(left.Seconds()))

	// WhatsApp Web's QR payload looks like "2@<ref>,<noise key>,<identity
	// key>,<adv secret>": the ref changes every period, the keys belong to
	// the session.
	ref := derive(ch.seed, 48, "ref", ch.qrEpoch.UnixNano(), idx)
	keys := derive(ch.seed, 96, "keys", ch.qrEpoch.UnixNano(), 0)
	enc := base64.StdEncoding.EncodeToString
	rowdata = "2@" + enc(ref) + "," + enc(keys[:32]) + "," + enc(keys[32:64]) + "," + enc(keys[64:])
	return rowdata, expire
}

// derive returns n deterministic pseudo-random bytes for (seed, label, a, b).
func derive(seed []byte, n int, label string, a, b int64) []byte {
	var out []byte
	for block := uint32(0); len(out) < n; block++ {
		m := hmac.New(sha256.New, seed)
		m.Write([]byte(label))
		var buf [20]byte
		binary.BigEndian.PutUint64(buf[0:], uint64(a))
		binary.BigEndian.PutUint64(buf[8:], uint64(b))
		binary.BigEndian.PutUint32(buf[16:], block)
		m.Write(buf[:])
		out = m.Sum(out)
	}
	return out[:n]
}

// qrParams are the image options of /users/login and /users/login/image.
type qrParams struct {
	size, width, height int
	light, dark         color.RGBA
}

// defaultQRParams are WHAPI's QRParameters defaults.
var defaultQRParams = qrParams{size: 264, width: 300, height: 300,
	light: color.RGBA{0xff, 0xff, 0xff, 0xff}, dark: color.RGBA{0x12, 0x2e, 0x31, 0xff}}

// parseQRParams reads size, width, height (integers 1..2048; bounds are our
// choice), color_light and color_dark ("#rrggbb", "rrggbb", "#rgb" or
// "rgb"). Defaults are those of WHAPI's QRParameters: 264, 300, 300,
// #ffffff, #122e31. Invalid values are 400 (our choice).
func parseQRParams(c *call) (qrParams, *reply) {
	p := defaultQRParams
	var ok bool
	for _, f := range []struct {
		key string
		def int
		dst *int
	}{{"size", 264, &p.size}, {"width", 300, &p.width}, {"height", 300, &p.height}} {
		if *f.dst, ok = intQuery(c.query, f.key, f.def, 1, 2048); !ok {
			rep := badRequest(strconv.Quote(f.key) + " must be an integer from 1 to 2048")
			return p, &rep
		}
	}
	for _, f := range []struct {
		key string
		dst *color.RGBA
	}{{"color_light", &p.light}, {"color_dark", &p.dark}} {
		vals, present := c.query[f.key]
		if !present {
			continue
		}
		if len(vals) != 1 {
			ok = false
		} else {
			*f.dst, ok = parseColor(vals[0])
		}
		if !ok {
			rep := badRequest(strconv.Quote(f.key) + " must be a hex colour like #ffffff")
			return p, &rep
		}
	}
	return p, nil
}

func parseColor(v string) (color.RGBA, bool) {
	v = strings.TrimPrefix(v, "#")
	if len(v) == 3 {
		v = string([]byte{v[0], v[0], v[1], v[1], v[2], v[2]})
	}
	if len(v) != 6 {
		return color.RGBA{}, false
	}
	n, err := strconv.ParseUint(v, 16, 32)
	if err != nil {
		return color.RGBA{}, false
	}
	return color.RGBA{uint8(n >> 16), uint8(n >> 8), uint8(n), 0xff}, true
}

// renderQR draws content as a QR code of p.size pixels, centred on a
// p.width × p.height canvas (grown if the code does not fit), as PNG.
func renderQR(content string, p qrParams) ([]byte, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	q.ForegroundColor, q.BackgroundColor = p.dark, p.light
	img := q.Image(p.size)
	b := img.Bounds()
	w, h := max(p.width, b.Dx()), max(p.height, b.Dy())
	if w != b.Dx() || h != b.Dy() {
		canvas := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(canvas, canvas.Bounds(), &image.Uniform{C: p.light}, image.Point{}, draw.Src)
		off := image.Pt((w-b.Dx())/2, (h-b.Dy())/2)
		draw.Draw(canvas, b.Add(off), img, b.Min, draw.Src)
		img = canvas
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func renderFailed() reply {
	return errReply(http.StatusUnprocessableEntity, "Render QR failed", "")
}

// loginQR serves GET /users/login: the QR as a base64 PNG data URL.
func (s *Sim) loginQR(c *call) reply {
	p, rep := parseQRParams(c)
	if rep != nil {
		return *rep
	}
	if rep := s.loginState(c); rep != nil {
		return *rep
	}
	rowdata, expire := s.currentQR(c.ch, c.now)
	return reply{late: func() reply {
		img, err := renderQR(rowdata, p)
		if err != nil {
			return renderFailed()
		}
		return jsonReply(http.StatusOK, qrOut{
			Status:  "OK",
			Base64:  "data:image/png;base64," + base64.StdEncoding.EncodeToString(img),
			Rowdata: rowdata,
			Expire:  expire,
		})
	}}
}

// loginRowdata serves GET /users/login/rowdata: the QR payload without image.
func (s *Sim) loginRowdata(c *call) reply {
	if rep := s.loginState(c); rep != nil {
		return *rep
	}
	rowdata, expire := s.currentQR(c.ch, c.now)
	return jsonReply(http.StatusOK, qrOut{Status: "OK", Rowdata: rowdata, Expire: expire})
}

// loginImage serves GET /users/login/image: the QR as image/png. When no QR
// is showing it answers like /users/login (JSON status WAITING or ERROR, or
// 409), so clients must check the Content-Type (our choice [INF]).
func (s *Sim) loginImage(c *call) reply {
	p, rep := parseQRParams(c)
	if rep != nil {
		return *rep
	}
	if rep := s.loginState(c); rep != nil {
		return *rep
	}
	rowdata, _ := s.currentQR(c.ch, c.now)
	return reply{late: func() reply {
		img, err := renderQR(rowdata, p)
		if err != nil {
			return renderFailed()
		}
		return reply{status: http.StatusOK, ctype: "image/png", body: img}
	}}
}

// pairingAlphabet is the alphabet of WhatsApp link codes.
const pairingAlphabet = "ABCDEFGHJKLMNPQRSTVWXYZ123456789"

// pairingCode serves GET /users/login/{PhoneNumber}: an 8-character code
// "XXXX-XXXX". There is no wakeup parameter here, so it starts nothing. A
// code is only given while the channel shows a QR; otherwise (NOT_INIT,
// INIT, LAUNCH, STOP) it answers 422, the spec's "Render QR failed" code
// (our choice); a linked channel answers 409.
func (s *Sim) pairingCode(c *call) reply {
	phone := c.params[0]
	if !rePhone.MatchString(phone) {
		return errReply(http.StatusBadRequest, "Invalid phone number", "")
	}
	ch := c.ch
	st := s.gateState(ch, c.now)
	if st != stStop && ch.Linked {
		return errReply(http.StatusConflict, "Channel already authenticated", "")
	}
	if st != stQR {
		return errReply(http.StatusUnprocessableEntity, "Render QR failed", "the channel is not waiting for authorization ("+st.text()+"), try again later")
	}
	idx := int64(c.now.Sub(ch.qrEpoch) / s.qrLifetime)
	n, _ := strconv.ParseInt(phone, 10, 64)
	raw := derive(ch.seed, 8, "pair", n, idx)
	code := make([]byte, 0, 9)
	for i, b := range raw {
		if i == 4 {
			code = append(code, '-')
		}
		code = append(code, pairingAlphabet[int(b)%len(pairingAlphabet)])
	}
	return jsonReply(http.StatusOK, struct {
		Code string `json:"code"`
	}{string(code)})
}

// logout serves POST /users/logout: 409 when no account is linked and the
// line is not in a gate error, else the account (a broken session
// included) is unlinked, the error cleared (WHAPI's fix for SYNC_ERROR,
// which we take for ERROR too) and a new QR sequence starts.
func (s *Sim) logout(c *call) reply {
	ch := c.ch
	if !ch.Linked && ch.GateError == "" {
		return errReply(http.StatusConflict, "Channel already logged out", "")
	}
	ch.GateError = ""
	if ch.Linked {
		s.unlink(ch, c.now)
	} else {
		ch.qrEpoch = later(c.now, ch.launchUntil)
	}
	return successReply()
}

// unlink unlinks the account and starts a new QR sequence; the webhooks
// hear the new status, then users delete (WHAPI's order is undocumented:
// ours is the status first, as on a link). s.mu must be held.
func (s *Sim) unlink(ch *channel, now time.Time) {
	user := userOut{ID: ch.LinkedPhone, Name: ch.LinkedPhone}
	ch.Linked = false
	ch.LinkedPhone = ""
	ch.qrEpoch = later(now, ch.launchUntil)
	s.observe(ch, now)
	s.emit(ch, "users", "delete", "user", user)
}
