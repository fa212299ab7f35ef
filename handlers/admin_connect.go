package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

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
	v := views.ConnectView{ChannelID: ch.ID, ChannelName: ch.Name, Status: s, ShowPairing: connectCanPair(s.Step),
		Pairing: views.Pairing{Action: adminConnectPath(ch.ID, "/pairing")}, AsAdmin: true,
		Share: h.shareLinks(c, ch, adminChannelBase(ch.ID), nil, "")}
	v.LinkLine, v.Uptime = h.historyLines(c.Request().Context(), ch.ID) // handlers/attention.go
	return v
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
	p.Title = loc(c).T("connect.admin_title")
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
		// The reason in the admin's words and language; an error that is
		// not one of ours to explain is said generally (it is logged).
		_, _, reason, ok := adminWordsIn(loc(c), err)
		if !ok {
			_, _, reason, ok = domainErrorIn(loc(c), err)
		}
		if !ok {
			reason = loc(c).T("errors.internal")
		}
		h.setFlash(c, "warning", loc(c).T("connect.reconnect.not_done", "Reason", upperFirst(reason)))
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
