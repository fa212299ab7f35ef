package handlers

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// Connect links (issue 16, point 4): /l/{token} is one channel's connect
// page for whoever holds the link, without an account. It is the
// signed-in connect page's status partial and pairing card (connect.go,
// connect.templ) in "link mode": its polls, image and forms under the
// link's own path, no navigation, no way into the app, and nothing of the
// account but the channel's name. The routes serve no session and take no
// session CSRF token, like WHAPI's webhooks: the token in the address is
// the credential (provision.OpenConnectLink).
//
// Forms on the page (the pairing code, Reconnect) carry a token derived
// from the link (linkFormToken) and are refused when the browser says the
// post comes from another site (Sec-Fetch-Site: cross-site). There is no
// cookie for another site to ride on: whoever can post to the link knows
// its token and could open the page anyway, so the derived token and the
// header check only keep a cross-site form from spending the link's
// pairing codes in a visitor's browser. No cookie is set, so a shared
// computer keeps nothing of the link.
//
// Lookups of tokens that do not exist (a typo, an altered or guessed link)
// are throttled per client address as sign-ins are (throttle.go), in the
// same table under their own key ("link:" + the address): past
// maxFailuresLink in throttleWindow every link request from that address
// is refused (429), a good link included, so a guesser learns nothing
// from a hit. Expired, revoked and used links need their real token and
// do not count.

// maxFailuresLink is how many unknown link tokens a client address may try
// in throttleWindow.
const maxFailuresLink = 20

// linkAddressKey counts a client address's lookups of unknown link tokens.
func linkAddressKey(ip string) throttleKey {
	return throttleKey{scope: scopeAddress, key: "link:" + ipKey(ip), max: maxFailuresLink, window: throttleWindow}
}

// errLinkThrottled: the client tried too many unknown links.
var errLinkThrottled = errors.New("too many links tried")

// isConnectLink reports a request for a connect link's page, whose
// address holds the link's token (never logged: logPath).
func isConnectLink(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, provision.ConnectLinkPath)
}

// linkPath is the path of a link's page (suffix "") or of one of its parts.
func linkPath(token, suffix string) string { return provision.ConnectLinkPath + token + suffix }

// linkFormToken is the form token of the link's page: derived from the
// link's token, so it needs no storage and no cookie.
func linkFormToken(token string) string {
	sum := sha256.Sum256([]byte("whapidesk connect-link form\x00" + token))
	return hex.EncodeToString(sum[:16])
}

// checkLinkForm refuses a form post to a link's page that did not come
// from the page: another site's (Sec-Fetch-Site), or without the page's
// form token. 403, as the session CSRF check answers.
func checkLinkForm(c echo.Context, token string) error {
	if c.Request().Header.Get("Sec-Fetch-Site") == "cross-site" {
		return echo.NewHTTPError(http.StatusForbidden, loc(c).T("connect.link.cross_site"))
	}
	got := c.FormValue("_csrf")
	if subtle.ConstantTimeCompare([]byte(got), []byte(linkFormToken(token))) != 1 {
		return echo.NewHTTPError(http.StatusForbidden, loc(c).T("connect.link.form_expired"))
	}
	return nil
}

// openLink returns the link of the path and its channel, or why not
// (provision's Err* of links, or errLinkThrottled).
func (h *Handler) openLink(c echo.Context) (*models.ConnectLink, *models.Channel, error) {
	ctx := c.Request().Context()
	key := linkAddressKey(c.RealIP())
	ak := key.attemptKey()
	n, err := h.store.CountLoginAttempts(ctx, ak.Kind, ak.Key, h.throttle.clock().Add(-key.window))
	if err != nil {
		return nil, nil, err
	}
	if n >= int64(key.max) {
		return nil, nil, errLinkThrottled
	}
	l, ch, err := h.svc.OpenConnectLink(ctx, c.Param("token"))
	if errors.Is(err, provision.ErrLinkUnknown) {
		// Counted (and refused atomically, whichever instance counts).
		_, refused, terr := h.throttle.begin(ctx, key)
		switch {
		case terr != nil:
			return nil, nil, terr
		case refused != nil:
			return nil, nil, errLinkThrottled
		}
		h.log.InfoContext(ctx, "connect link: unknown token", "ip", c.RealIP())
	}
	return l, ch, err
}

// linkPage is the page frame of a link's pages: no user, the link's form
// token.
func (h *Handler) linkPage(title, token string) views.Page {
	return views.Page{Brand: h.cfg.Brand, Title: title, CSRF: linkFormToken(token), Version: h.cfg.Version}
}

// linkEnded answers a request for a link that opens nothing: a page that
// says why, and nothing else (the same page for an unknown and an altered
// token).
func (h *Handler) linkEnded(c echo.Context, err error) error {
	status := http.StatusGone
	title, msg := "", ""
	switch {
	case errors.Is(err, errLinkThrottled):
		status, title = http.StatusTooManyRequests, loc(c).T("connect.link.throttled_title")
		msg = loc(c).T("connect.link.throttled", "Wait", retryAfter(c, throttleWindow))
	case errors.Is(err, provision.ErrLinkUnknown):
		status, title = http.StatusNotFound, loc(c).T("connect.link.unknown_title")
		msg = loc(c).T("connect.link.unknown")
	case errors.Is(err, provision.ErrLinkExpired):
		title, msg = loc(c).T("connect.link.expired_title"), loc(c).T("connect.link.ask_new")
	case errors.Is(err, provision.ErrLinkRevoked):
		title, msg = loc(c).T("connect.link.revoked_title"), loc(c).T("connect.link.ask_new")
	case errors.Is(err, provision.ErrLinkUsed):
		title, msg = loc(c).T("connect.link.used_title"), loc(c).T("connect.link.used")
	default:
		return err
	}
	if fromHTMX(c) {
		// A page open on a link that just ended reloads, and shows why.
		c.Response().Header().Set("HX-Refresh", "true")
	}
	return h.render(c, status, views.ConnectLinkEndedPage(views.Page{Brand: h.cfg.Brand, Title: title, Version: h.cfg.Version}, title, msg))
}

// linkStatusView is connectStatusView of the link's channel, its addresses
// under the link's path and nothing that leads into the app.
func (h *Handler) linkStatusView(c echo.Context, ch *models.Channel, token string, since time.Time, shown string) (views.ConnectStatus, bool) {
	s, unchanged := h.connectStatusView(c, ch, since, shown)
	rebaseStatus(&s, ch.ID, linkPath(token, ""), linkFormToken(token))
	return s, unchanged
}

// rebaseStatus moves the addresses of a status partial of the customer's
// connect page to another page at base (its poll at base+"/status", its
// code at base+"/qr.png", Reconnect at base+"/reconnect"), whose forms
// carry csrf; the demo's scan box and every way into the customer's app
// go.
func rebaseStatus(s *views.ConnectStatus, channelID int64, base, csrf string) {
	r := strings.NewReplacer(
		"/app/channels/"+strconv.FormatInt(channelID, 10)+"/qr.png", base+"/qr.png",
		connectPath(channelID, ""), base)
	s.ImageURL, s.PollURL = r.Replace(s.ImageURL), r.Replace(s.PollURL)
	s.RetryURL, s.ConnectURL, s.ReconnectURL = r.Replace(s.RetryURL), r.Replace(s.ConnectURL), r.Replace(s.ReconnectURL)
	s.CSRF, s.Demo, s.LinkMode = csrf, nil, true
}

// linkUsedStatus is the status partial of a link that was used: the phone
// is linked (its number is not shown: the link no longer vouches for the
// viewer).
func linkUsedStatus(ch *models.Channel, shown string) views.ConnectStatus {
	s := views.ConnectStatus{Step: views.ConnectConnected, ChannelName: ch.Name, LinkMode: true,
		Title: connectTitles[views.ConnectConnected], Announce: connectAnnouncements[views.ConnectConnected]}
	s.AnnounceOOB = shownStep(shown) != s.Step
	s.DropPairing = s.AnnounceOOB
	return s
}

func (h *Handler) linkView(c echo.Context, l *models.ConnectLink, ch *models.Channel, token string) views.ConnectLinkView {
	s, _ := h.linkStatusView(c, ch, token, h.svc.Now(), "")
	s.AnnounceOOB, s.DropPairing = false, false
	now := h.svc.Now()
	v := views.ConnectLinkView{ChannelName: ch.Name, Status: s, ShowPairing: connectCanPair(s.Step),
		Pairing:    views.Pairing{Action: linkPath(token, "/pairing")},
		ValidUntil: linkTime(c, l.ExpiresAt), ValidFor: linkValidFor(c, l.ExpiresAt.Sub(now))}
	if ch.Phone != "" {
		v.Pairing.Phone = "+" + ch.Phone
	}
	return v
}

// showConnectLinkPage is GET /l/{token}.
func (h *Handler) showConnectLinkPage(c echo.Context) error {
	l, ch, err := h.openLink(c)
	if err != nil {
		return h.linkEnded(c, err)
	}
	token := c.Param("token")
	return h.render(c, http.StatusOK, views.ConnectLinkPage(h.linkPage(loc(c).T("connect.page_title"), token), h.linkView(c, l, ch, token)))
}

// connectLinkStatus answers the link page's poll, as connectStatus does;
// once the link is used it says "Connected" and stops polling.
func (h *Handler) connectLinkStatus(c echo.Context) error {
	_, ch, err := h.openLink(c)
	shown := c.QueryParam("shown")
	switch {
	case errors.Is(err, provision.ErrLinkUsed):
		s := linkUsedStatus(ch, shown)
		if shownStep(shown) == s.Step {
			return c.NoContent(http.StatusNoContent)
		}
		return h.render(c, http.StatusOK, views.ConnectStatusSwap(s))
	case err != nil:
		return h.linkEnded(c, err)
	}
	s, unchanged := h.linkStatusView(c, ch, c.Param("token"), h.connectSince(c), shown)
	if unchanged {
		return c.NoContent(http.StatusNoContent)
	}
	return h.render(c, http.StatusOK, views.ConnectStatusSwap(s))
}

// connectLinkQRImage is the link page's QR code, as connectQRImage.
func (h *Handler) connectLinkQRImage(c echo.Context) error {
	_, ch, err := h.openLink(c)
	if err != nil {
		return h.linkEnded(c, err)
	}
	return h.qrImage(c, ch.ID)
}

// connectLinkPairing is the link page's "Link with phone number instead".
// Codes count against the channel's and its customer's pairing limits, as
// on the signed-in page.
func (h *Handler) connectLinkPairing(c echo.Context) error {
	l, ch, err := h.openLink(c)
	if err != nil {
		return h.linkEnded(c, err)
	}
	token := c.Param("token")
	if err := checkLinkForm(c, token); err != nil {
		return err
	}
	phone := c.FormValue("phone")
	code, err := h.svc.PairingCode(c.Request().Context(), provision.LinkActor(l, c.RealIP()), ch.ID, phone)
	v := h.linkView(c, l, ch, token)
	v.ShowPairing = true
	status, err := h.pairingOutcome(c, ch, phone, code, err, &v.Pairing)
	if err != nil {
		return err
	}
	return h.render(c, status, views.ConnectLinkPage(h.linkPage(loc(c).T("connect.page_title"), token), v))
}

// connectLinkReconnect is the link page's Reconnect button (a line whose
// session broke): as reconnectChannel, then back to the link's page, which
// shows what the line does now.
func (h *Handler) connectLinkReconnect(c echo.Context) error {
	l, ch, err := h.openLink(c)
	if err != nil {
		return h.linkEnded(c, err)
	}
	token := c.Param("token")
	if err := checkLinkForm(c, token); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := h.svc.Reconnect(ctx, provision.LinkActor(l, c.RealIP()), ch.ID); err != nil {
		h.log.InfoContext(ctx, "connect link: reconnect not done", "channel", ch.ID, "err", err)
	}
	return redirect(c, linkPath(token, ""))
}
