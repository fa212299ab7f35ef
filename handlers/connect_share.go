package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// linkValidFor says how long a link has left, as a person says it: to the
// nearest day past two days, the nearest hour past two hours, else in
// minutes.
func linkValidFor(c echo.Context, d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return loc(c).N("connect.share.days", int64((d+12*time.Hour)/(24*time.Hour)))
	case d >= 2*time.Hour:
		return loc(c).N("connect.share.hours", int64((d+30*time.Minute)/time.Hour))
	}
	return waitText(loc(c), d)
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
func linkTime(c echo.Context, t time.Time) string {
	t = t.UTC()
	return loc(c).T("connect.share.when", "Date", loc(c).Date(t), "Time", t.Format("15:04"))
}

// shareLinks builds the card of ch under base: the live links, and the link
// just made (shown once) or why none was.
func (h *Handler) shareLinks(c echo.Context, ch *models.Channel, base string, made *provision.NewConnectLink, problem string) *views.ShareLinks {
	v := &views.ShareLinks{Action: base + "/connect-links", RevokeBase: base + "/connect-links/", CSRF: h.csrfToken(c), Error: problem}
	if made != nil {
		v.Made, v.MadeExpires = linkURL(c, made), linkTime(c, made.Link.ExpiresAt)
	}
	live, err := h.svc.ConnectLinks(c.Request().Context(), ch.ID)
	if err != nil {
		h.log.WarnContext(c.Request().Context(), "connect links: listing failed", "channel", ch.ID, "err", err)
	}
	for _, l := range live {
		v.Live = append(v.Live, views.LiveLink{ID: l.ID, Expires: linkTime(c, l.ExpiresAt)})
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
		return nil, loc(c).T("connect.share.choose_validity"), nil
	}
	l, err := h.svc.CreateConnectLink(c.Request().Context(), actor(c), ch.ID, time.Duration(minutes)*time.Minute)
	switch {
	case errors.Is(err, provision.ErrNotConnectable):
		return nil, loc(c).T("connect.share.not_connectable"), nil
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
	h.setFlash(c, "success", loc(c).T("connect.share.revoked"))
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
	return h.render(c, status, views.ConnectPage(h.custPage(c, loc(c).T("connect.page_title")), v))
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
