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
		return echo.NewHTTPError(http.StatusForbidden, "This form can only be sent from its own page.")
	}
	got := c.FormValue("_csrf")
	if subtle.ConstantTimeCompare([]byte(got), []byte(linkFormToken(token))) != 1 {
		return echo.NewHTTPError(http.StatusForbidden, "This form has expired. Reload the page and try again.")
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
		status, title = http.StatusTooManyRequests, "Too many tries"
		msg = "Too many links that do not exist were tried from your network. Try again in " + retryAfter(c, throttleWindow) + "."
	case errors.Is(err, provision.ErrLinkUnknown):
		status, title = http.StatusNotFound, "This link is not valid"
		msg = "Check that you opened the whole link as you received it, or ask whoever sent it for a new one."
	case errors.Is(err, provision.ErrLinkExpired):
		title, msg = "This link has expired", "Ask whoever sent it for a new one."
	case errors.Is(err, provision.ErrLinkRevoked):
		title, msg = "This link was cancelled", "Ask whoever sent it for a new one."
	case errors.Is(err, provision.ErrLinkUsed):
		title, msg = "This link was used", "A phone was linked with it, so it no longer opens the page. If you need to link a phone again, ask for a new link."
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
		ValidUntil: l.ExpiresAt.UTC().Format("2 Jan 2006, 15:04 UTC"), ValidFor: linkValidFor(l.ExpiresAt.Sub(now))}
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
	return h.render(c, http.StatusOK, views.ConnectLinkPage(h.linkPage("Link your phone", token), h.linkView(c, l, ch, token)))
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
	return h.render(c, status, views.ConnectLinkPage(h.linkPage("Link your phone", token), v))
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

// linkURL is the address to hand out for a link just made: on the public
// address when one is set, else on the origin this request came to.
func linkURL(c echo.Context, l *provision.NewConnectLink) string {
	if strings.HasPrefix(l.URL, "/") {
		return c.Scheme() + "://" + c.Request().Host + l.URL
	}
	return l.URL
}

// apiConnectLinkBody is the body of POST /api/channels/:id/connect-links.
type apiConnectLinkBody struct {
	ValidMinutes *int64 `json:"valid_minutes"`
}

// apiConnectLink is a link just made, as the API shows it (once).
type apiConnectLink struct {
	ID        int64  `json:"id"`
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
}

// apiCreateConnectLink makes a link to the channel's connect page (its
// owner or an admin); the body is optional.
func (h *Handler) apiCreateConnectLink(c echo.Context) error {
	ch, err := h.apiChannelOfCaller(c)
	if err != nil {
		return err
	}
	var body apiConnectLinkBody
	if hasBody(c.Request()) {
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
	}
	var valid time.Duration
	if body.ValidMinutes != nil {
		if *body.ValidMinutes <= 0 || *body.ValidMinutes > int64(provision.ConnectLinkMax/time.Minute) {
			return linkInvalid(provision.FieldErrors{"valid_minutes": "a link lasts from 5 to 10080 minutes (7 days)"})
		}
		valid = time.Duration(*body.ValidMinutes) * time.Minute
	}
	l, err := h.svc.CreateConnectLink(c.Request().Context(), actor(c), ch.ID, valid)
	var fe provision.FieldErrors
	switch {
	case errors.As(err, &fe):
		return linkInvalid(fe)
	case errors.Is(err, models.ErrNotFound):
		return apiNoChannel()
	case errors.Is(err, provision.ErrNotConnectable):
		return apiError(http.StatusConflict, "not_connectable", "no phone can be linked to this channel now")
	case err != nil:
		return apiFail(c, err)
	}
	return c.JSON(http.StatusCreated, apiConnectLink{ID: l.Link.ID, URL: linkURL(c, l), ExpiresAt: apiTime(l.Link.ExpiresAt)})
}

// apiRevokeConnectLink revokes a link (its channel's owner or an admin;
// anyone else's is "not found"). Revoking a link that has already ended
// is done as well: 204 either way.
func (h *Handler) apiRevokeConnectLink(c echo.Context) error {
	id, ok := apiPathID(c)
	if !ok {
		return apiNoLink()
	}
	_, err := h.svc.RevokeConnectLink(c.Request().Context(), actor(c), id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return apiNoLink()
	case err != nil:
		return apiFail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func apiNoLink() *APIError {
	return apiError(http.StatusNotFound, "not_found", "there is no such connect link")
}

// linkInvalid is a 400 naming the wrong fields; no link was made.
func linkInvalid(fe provision.FieldErrors) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "invalid_input", Message: "no link was made: see the fields", Fields: fe}
}

// linkValidFor says how long a link has left, as a person says it: to the
// nearest day past two days, the nearest hour past two hours, else in
// minutes.
func linkValidFor(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return countOf(int64((d+12*time.Hour)/(24*time.Hour)), "day", "days")
	case d >= 2*time.Hour:
		return countOf(int64((d+30*time.Minute)/time.Hour), "hour", "hours")
	}
	return provision.HumanDuration(d)
}

// The "Share connect link" card, on the customer's connect page
// (/app/channels/{id}/connect) and on the admin's view of it
// (/admin/channels/{id}/connect): its form posts to
// <channel>/connect-links, a link's Revoke to
// <channel>/connect-links/{lid}/revoke, where <channel> is
// /app/channels/{id} or /admin/channels/{id}.

func custChannelBase(id int64) string  { return "/app/channels/" + strconv.FormatInt(id, 10) }
func adminChannelBase(id int64) string { return "/admin/channels/" + strconv.FormatInt(id, 10) }

// linkTime is how the card shows a link's end.
func linkTime(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") }

// shareLinks builds the card of ch under base: the live links, and the link
// just made (shown once) or why none was.
func (h *Handler) shareLinks(c echo.Context, ch *models.Channel, base string, made *provision.NewConnectLink, problem string) *views.ShareLinks {
	v := &views.ShareLinks{Action: base + "/connect-links", RevokeBase: base + "/connect-links/", CSRF: h.csrfToken(c), Error: problem}
	if made != nil {
		v.Made, v.MadeExpires = linkURL(c, made), linkTime(made.Link.ExpiresAt)
	}
	live, err := h.svc.ConnectLinks(c.Request().Context(), ch.ID)
	if err != nil {
		h.log.WarnContext(c.Request().Context(), "connect links: listing failed", "channel", ch.ID, "err", err)
	}
	for _, l := range live {
		v.Live = append(v.Live, views.LiveLink{ID: l.ID, Expires: linkTime(l.ExpiresAt)})
	}
	return v
}

// makeShareLink makes a link from the card's form: the lifetime is one of
// the card's choices. It returns the link, or what to say instead.
func (h *Handler) makeShareLink(c echo.Context, ch *models.Channel) (*provision.NewConnectLink, string, error) {
	minutes, err := strconv.Atoi(c.FormValue("valid_minutes"))
	ok := err == nil
	if ok {
		ok = false
		for _, o := range views.ConnectLinkValidities {
			ok = ok || o.Minutes == minutes
		}
	}
	if !ok {
		return nil, "Choose how long the link stays valid.", nil
	}
	l, err := h.svc.CreateConnectLink(c.Request().Context(), actor(c), ch.ID, time.Duration(minutes)*time.Minute)
	switch {
	case errors.Is(err, provision.ErrNotConnectable):
		return nil, "No phone can be linked to this channel now, so a link would open on nothing.", nil
	case errors.Is(err, models.ErrNotFound):
		return nil, "", echo.NewHTTPError(http.StatusNotFound)
	case err != nil:
		return nil, "", err
	}
	return l, "", nil
}

// revokeShareLink revokes the link of the path if it is a link to ch.
func (h *Handler) revokeShareLink(c echo.Context, ch *models.Channel) error {
	lid, err := idParam(c, "lid")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	live, err := h.svc.ConnectLinks(ctx, ch.ID)
	if err != nil {
		return err
	}
	mine := false
	for _, l := range live {
		mine = mine || l.ID == lid
	}
	if mine {
		if _, err := h.svc.RevokeConnectLink(ctx, actor(c), lid); err != nil && !errors.Is(err, models.ErrNotFound) {
			return err
		}
	}
	// A link that ended meanwhile (or is not this channel's) is no more
	// a way in either way.
	h.setFlash(c, "success", "The link was revoked: it no longer opens this page.")
	return h.saveSession(c)
}

// custMakeConnectLink is the customer's "Make a link".
func (h *Handler) custMakeConnectLink(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	l, problem, err := h.makeShareLink(c, ch)
	if err != nil {
		return err
	}
	v := h.connectView(c, ch)
	v.Share = h.shareLinks(c, ch, custChannelBase(ch.ID), l, problem)
	status := http.StatusOK
	if problem != "" {
		status = http.StatusUnprocessableEntity
	}
	return h.render(c, status, views.ConnectPage(h.custPage(c, "Link your phone"), v))
}

// custRevokeConnectLink is a live link's Revoke on the customer's page.
func (h *Handler) custRevokeConnectLink(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	if err := h.revokeShareLink(c, ch); err != nil {
		return err
	}
	return redirect(c, connectPath(ch.ID, ""))
}

// The admin's view of a customer's connect page, to help them over the
// phone: the same page (QR, pairing code, share card) under
// /admin/channels/{id}/connect, with a note that it is the admin's view.

func adminConnectPath(id int64, suffix string) string {
	return adminChannelBase(id) + "/connect" + suffix
}

func (h *Handler) adminConnectView(c echo.Context, ch *models.Channel) views.ConnectView {
	s, _ := h.connectStatusView(c, ch, h.svc.Now(), "")
	s.AnnounceOOB, s.DropPairing = false, false
	rebaseStatus(&s, ch.ID, adminConnectPath(ch.ID, ""), h.csrfToken(c))
	return views.ConnectView{ChannelID: ch.ID, ChannelName: ch.Name, Status: s, ShowPairing: connectCanPair(s.Step),
		Pairing: views.Pairing{Action: adminConnectPath(ch.ID, "/pairing")}, AsAdmin: true,
		Share: h.shareLinks(c, ch, adminChannelBase(ch.ID), nil, "")}
}

// adminConnectChannel is the channel of the path for the admin's connect
// page; a deleted one is "not found".
func (h *Handler) adminConnectChannel(c echo.Context) (*models.Channel, error) {
	ch, err := h.channelParam(c)
	if err != nil {
		return nil, err
	}
	if provision.IsGone(ch) {
		return nil, echo.NewHTTPError(http.StatusNotFound)
	}
	return ch, nil
}

func (h *Handler) adminConnectPage(c echo.Context) views.Page {
	p := h.channelsPage(c)
	p.Title = "Connect page"
	return p
}

func (h *Handler) showAdminConnectPage(c echo.Context) error {
	ch, err := h.adminConnectChannel(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.ConnectPage(h.adminConnectPage(c), h.adminConnectView(c, ch)))
}

func (h *Handler) adminConnectStatus(c echo.Context) error {
	ch, err := h.channelParam(c)
	if err != nil {
		return err
	}
	s, unchanged := h.connectStatusView(c, ch, h.connectSince(c), c.QueryParam("shown"))
	if unchanged {
		return c.NoContent(http.StatusNoContent)
	}
	rebaseStatus(&s, ch.ID, adminConnectPath(ch.ID, ""), h.csrfToken(c))
	return h.render(c, http.StatusOK, views.ConnectStatusSwap(s))
}

func (h *Handler) adminConnectQRImage(c echo.Context) error {
	ch, err := h.adminConnectChannel(c)
	if err != nil {
		return err
	}
	return h.qrImage(c, ch.ID)
}

func (h *Handler) adminConnectPairing(c echo.Context) error {
	ch, err := h.adminConnectChannel(c)
	if err != nil {
		return err
	}
	phone := c.FormValue("phone")
	code, err := h.svc.PairingCode(c.Request().Context(), actor(c), ch.ID, phone)
	v := h.adminConnectView(c, ch)
	v.ShowPairing = true
	status, err := h.pairingOutcome(c, ch, phone, code, err, &v.Pairing)
	if err != nil {
		return err
	}
	return h.render(c, status, views.ConnectPage(h.adminConnectPage(c), v))
}

func (h *Handler) adminConnectReconnect(c echo.Context) error {
	ch, err := h.adminConnectChannel(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := h.svc.Reconnect(ctx, actor(c), ch.ID); err != nil {
		h.log.InfoContext(ctx, "admin connect page: reconnect not done", "channel", ch.ID, "err", err)
		h.setFlash(c, "warning", "The line was not reconnected: "+upperFirst(err.Error())+".")
		if err := h.saveSession(c); err != nil {
			return err
		}
	}
	return redirect(c, adminConnectPath(ch.ID, ""))
}

func (h *Handler) adminMakeConnectLink(c echo.Context) error {
	ch, err := h.adminConnectChannel(c)
	if err != nil {
		return err
	}
	l, problem, err := h.makeShareLink(c, ch)
	if err != nil {
		return err
	}
	v := h.adminConnectView(c, ch)
	v.Share = h.shareLinks(c, ch, adminChannelBase(ch.ID), l, problem)
	status := http.StatusOK
	if problem != "" {
		status = http.StatusUnprocessableEntity
	}
	return h.render(c, status, views.ConnectPage(h.adminConnectPage(c), v))
}

func (h *Handler) adminRevokeConnectLink(c echo.Context) error {
	ch, err := h.adminConnectChannel(c)
	if err != nil {
		return err
	}
	if err := h.revokeShareLink(c, ch); err != nil {
		return err
	}
	return redirect(c, adminConnectPath(ch.ID, ""))
}
