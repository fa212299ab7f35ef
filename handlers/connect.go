package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// The connect page: the QR code to scan, served from our own origin (the
// channel token never reaches the browser), renewed by itself, and turning
// into "Connected" once the phone is linked.
//
// How the page stays current without hammering anyone: the status partial
// polls GET …/connect/status every second and when its countdown ends. The
// poll names what the page shows (shown=) and since when it polls
// (since=); an unchanged state answers 204 (nothing swapped, nothing
// announced). Polling stops in every final state (connected, expired,
// failed, deleted, an error) and after connectPollWindow. Whatever the
// number of open tabs, provision.ConnectState makes at most one health
// call per 2 s and one QR call per QR lifetime for a channel; a poll in
// between reads what is cached, which a webhook from WHAPI replaces at
// once, so a page learns of a link within a second of the webhook.

// connectPollWindow is how long a connect page renews its code by itself.
const connectPollWindow = 10 * time.Minute

func connectPath(id int64, suffix string) string {
	return "/app/channels/" + strconv.FormatInt(id, 10) + "/connect" + suffix
}

// connectAnnouncements are the catalog ids of the status lines of the
// live region.
var connectAnnouncements = map[string]string{
	views.ConnectPreparing:   "connect.announce.preparing",
	views.ConnectQR:          "connect.announce.qr",
	views.ConnectConnected:   "connect.announce.connected",
	views.ConnectRenew:       "connect.announce.renew",
	views.ConnectIdle:        "connect.announce.idle",
	views.ConnectUnavailable: "connect.announce.unavailable",
	views.ConnectExpired:     "connect.announce.expired",
	views.ConnectStopped:     "connect.announce.stopped",
	views.ConnectReconnect:   "connect.announce.reconnect",
	views.ConnectFailed:      "connect.announce.failed",
	views.ConnectGone:        "connect.announce.gone",
}

// connectTitles are the catalog ids of the status card's heading.
var connectTitles = map[string]string{
	views.ConnectPreparing:   "connect.heading.scan",
	views.ConnectQR:          "connect.heading.scan",
	views.ConnectConnected:   "connect.heading.connected",
	views.ConnectRenew:       "connect.heading.scan",
	views.ConnectIdle:        "connect.heading.scan",
	views.ConnectUnavailable: "connect.heading.scan",
	views.ConnectExpired:     "connect.heading.expired",
	views.ConnectStopped:     "connect.heading.stopped",
	views.ConnectReconnect:   "connect.heading.reconnect",
	views.ConnectFailed:      "connect.heading.failed",
	views.ConnectGone:        "connect.heading.gone",
}

func connectCanPair(step string) bool {
	switch step {
	case views.ConnectPreparing, views.ConnectQR, views.ConnectRenew, views.ConnectUnavailable, views.ConnectIdle:
		return true
	}
	return false
}

// connectKey names what a status shows, so a poll can tell whether
// anything changed: the step, and for a QR code its expiry, for a linked
// phone its number.
func connectKey(s views.ConnectStatus, expires time.Time) string {
	switch s.Step {
	case views.ConnectQR:
		return s.Step + "-" + strconv.FormatInt(expires.UnixMilli(), 10)
	case views.ConnectConnected:
		return s.Step + "-" + s.Phone
	}
	return s.Step
}

// shownQRExpiry reads the expiry back from a QR key.
func shownQRExpiry(shown string) (time.Time, bool) {
	ms, ok := strings.CutPrefix(shown, views.ConnectQR+"-")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(n), true
}

func shownStep(shown string) string {
	step, _, _ := strings.Cut(shown, "-")
	return step
}

// connectStatusView builds the status partial of ch for a page polling
// since since that shows shown; unchanged is true when the page may keep
// what it shows (answer 204).
func (h *Handler) connectStatusView(c echo.Context, ch *models.Channel, since time.Time, shown string) (s views.ConnectStatus, unchanged bool) {
	ctx := c.Request().Context()
	now := h.svc.Now()
	s = views.ConnectStatus{ChannelName: ch.Name, ConnectURL: connectPath(ch.ID, ""), RetryURL: connectPath(ch.ID, "/status"),
		ReconnectURL: connectPath(ch.ID, "/reconnect"), CSRF: h.csrfToken(c)}
	var expires time.Time
	switch {
	case provision.IsGone(ch):
		s.Step = views.ConnectGone
	case now.Sub(since) >= connectPollWindow:
		s.Step = views.ConnectIdle
	default:
		st, err := h.svc.ConnectState(ctx, ch.ID)
		if err != nil {
			if errors.Is(err, models.ErrNotFound) {
				s.Step = views.ConnectGone
				break
			}
			// Logged for us; the customer sees plain words only.
			h.log.WarnContext(ctx, "connect page: line state unknown", "channel", ch.ID, "err", err)
			if exp, ok := shownQRExpiry(shown); ok && now.Before(exp) {
				return s, true // the code on screen still works: keep it
			}
			s.Step = views.ConnectUnavailable
			if shownStep(shown) == views.ConnectQR {
				s.Step = views.ConnectRenew
			}
			break
		}
		s.Step = st.Phase.ConnectStep()
		switch s.Step {
		case views.ConnectQR:
			expires = st.ExpiresAt
			s.ImageURL = fmt.Sprintf("/app/channels/%d/qr.png?v=%d", ch.ID, expires.UnixMilli())
			left := max(0, expires.Sub(now))
			secs := int((left + time.Second - 1) / time.Second)
			s.ExpiresIn = fmt.Sprintf("%d:%02d", secs/60, secs%60)
			// The browser counts down on its own clock.
			s.ExpiresAt = strconv.FormatFloat(float64(time.Now().Add(left).UnixMilli())/1000, 'f', 3, 64)
			s.Demo = h.demoScanBox(ch, s.CSRF)
		case views.ConnectConnected:
			s.Phone = custPhone(st.Phone)
		}
	}
	key := connectKey(s, expires)
	s.Title = loc(c).T(connectTitles[s.Step])
	s.Announce = loc(c).T(connectAnnouncements[s.Step])
	if s.Step == views.ConnectConnected && s.Phone != "" {
		s.Announce = loc(c).T("connect.announce.connected_phone", "Phone", s.Phone)
	}
	// Announced: a new step, or the linked number once it is known.
	s.AnnounceOOB = shownStep(shown) != s.Step || (s.Step == views.ConnectConnected && shown != key)
	s.DropPairing = s.AnnounceOOB && !connectCanPair(s.Step)
	// A phone linked while its code was being renewed is known as linked
	// before its number is: one more poll brings the number.
	if s.Step == views.ConnectPreparing || s.Step == views.ConnectQR || (s.Step == views.ConnectConnected && s.Phone == "") {
		s.Poll = true
		s.PollURL = connectPath(ch.ID, "/status") + "?" + url.Values{
			"since": {strconv.FormatInt(since.Unix(), 10)}, "shown": {key}}.Encode()
	}
	return s, shown != "" && key == shown
}

// connectSince reads since= (unix seconds) of a poll: when this page
// started polling. Missing, malformed or future: now (polling restarts).
func (h *Handler) connectSince(c echo.Context) time.Time {
	now := h.svc.Now()
	n, err := strconv.ParseInt(c.QueryParam("since"), 10, 64)
	if err != nil {
		return now
	}
	t := time.Unix(n, 0)
	if t.After(now) {
		return now
	}
	return t
}

func (h *Handler) connectView(c echo.Context, ch *models.Channel) views.ConnectView {
	s, _ := h.connectStatusView(c, ch, h.svc.Now(), "")
	s.AnnounceOOB, s.DropPairing = false, false
	v := views.ConnectView{ChannelID: ch.ID, ChannelName: ch.Name, Status: s, ShowPairing: connectCanPair(s.Step),
		Pairing: views.Pairing{Action: connectPath(ch.ID, "/pairing")}, TestMessage: h.custTestMessageSlot(c, ch, s.Step),
		Share: h.shareLinks(c, ch, custChannelBase(ch.ID), nil, "")}
	if ch.Phone != "" {
		v.Pairing.Phone = "+" + ch.Phone
	}
	v.LinkLine, v.Uptime = h.historyLines(c.Request().Context(), ch.ID) // handlers/attention.go
	return v
}

func (h *Handler) showConnectPage(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.ConnectPage(h.custPage(c, loc(c).T("connect.page_title")), h.connectView(c, ch)))
}

// connectStatus answers the status partial's poll: 204 when what the page
// shows still holds, else the new partial (and the new status line for
// the live region when the step changed).
func (h *Handler) connectStatus(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, true)
	if err != nil {
		return err
	}
	s, unchanged := h.connectStatusView(c, ch, h.connectSince(c), c.QueryParam("shown"))
	if unchanged {
		return c.NoContent(http.StatusNoContent)
	}
	if s.Step == views.ConnectConnected && s.AnnounceOOB {
		c.Response().Header().Set("HX-Trigger", "line-connected") // the test message slot fetches its card
	}
	return h.render(c, http.StatusOK, views.ConnectStatusSwap(s))
}

// connectQRImage serves the channel's current QR code as PNG bytes from
// our own origin; never cached (each code works for seconds).
func (h *Handler) connectQRImage(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	return h.qrImage(c, ch.ID)
}

// requestPairingCode gets the code to type into WhatsApp ("Link with phone
// number instead") for the number the customer gives.
func (h *Handler) requestPairingCode(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	phone := c.FormValue("phone")
	code, err := h.svc.PairingCode(ctx, actor(c), ch.ID, phone)
	v := h.connectView(c, ch)
	v.ShowPairing = true // the answer shows in the card that asked
	status, err := h.pairingOutcome(c, ch, phone, code, err, &v.Pairing)
	if err != nil {
		return err
	}
	return h.render(c, status, views.ConnectPage(h.custPage(c, loc(c).T("connect.page_title")), v))
}

// pairingOutcome fills the pairing card v with the answer to a pairing
// code request for phone (code, err from provision.PairingCode) and says
// the page's status; an error is the request's (404, or logged and said
// in plain words). The signed-in page and a connect link's share it.
func (h *Handler) pairingOutcome(c echo.Context, ch *models.Channel, phone, code string, err error, v *views.Pairing) (int, error) {
	ctx := c.Request().Context()
	v.Phone = phone
	status := http.StatusOK
	var fe provision.FieldErrors
	var rl *provision.RetryLaterError
	switch {
	case err == nil:
		v.Code = code
		if p, perr := provision.NormalizePhone(phone); perr == nil {
			v.ForPhone = "+" + p
		}
	case errors.As(err, &fe):
		v.Errors = fe
		status = http.StatusUnprocessableEntity
	case errors.As(err, &rl):
		// Beside the number, as the test message's limit is shown: the
		// page answers 200 (htmx swaps it in), and WHAPI was not asked.
		v.Errors = map[string]string{"phone": upperFirst(rl.Error()) + "."}
	case errors.Is(err, provision.ErrAlreadyLinked):
		v.Message = loc(c).T("connect.pairing.already_linked")
	case errors.Is(err, provision.ErrNoQR):
		v.Message = loc(c).T("connect.pairing.not_ready")
	case errors.Is(err, models.ErrNotFound):
		return 0, echo.NewHTTPError(http.StatusNotFound)
	default:
		h.log.WarnContext(ctx, "pairing code failed", "channel", ch.ID, "err", err)
		v.Message = loc(c).T("connect.pairing.failed")
	}
	return status, nil
}

// reconnectChannel is the connect page's Reconnect button, shown when the
// line reports an error whose fix is a new link: the broken session is
// logged out and the page shows a fresh code. Nothing is lost, so it asks
// no confirmation; provision allows one a minute per channel.
func (h *Handler) reconnectChannel(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	done, err := h.svc.Reconnect(ctx, actor(c), ch.ID)
	var rl *provision.RetryLaterError
	switch {
	case err == nil && done:
		h.setFlash(c, "success", loc(c).T("connect.reconnect.started"))
	case err == nil:
		h.setFlash(c, "info", loc(c).T("connect.reconnect.works"))
	case errors.As(err, &rl):
		h.setFlash(c, "warning", loc(c).T("connect.reconnect.too_soon", "Wait", waitText(loc(c), rl.After)))
	case errors.Is(err, provision.ErrNoQR):
		h.setFlash(c, "info", loc(c).T("connect.reconnect.nothing"))
	case errors.Is(err, models.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	default:
		h.log.WarnContext(ctx, "reconnect failed", "channel", ch.ID, "err", err)
		h.setFlash(c, "warning", loc(c).T("connect.reconnect.failed"))
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, connectPath(ch.ID, ""))
}

// qrImage answers with the channel's current QR code as a PNG (never
// cached), or says there is none to scan right now: the signed-in connect
// page's, the admin's and a connect link's image.
func (h *Handler) qrImage(c echo.Context, channelID int64) error {
	png, _, err := h.svc.QRImage(c.Request().Context(), channelID)
	switch {
	case errors.Is(err, provision.ErrNoQR), errors.Is(err, models.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, loc(c).T("connect.no_code"))
	case err != nil:
		return echo.NewHTTPError(http.StatusServiceUnavailable).SetInternal(err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "image/png", png)
}
