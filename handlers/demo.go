package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// The demo's "simulate scanning" button (issue 13: the demo shows the
// whole road). The demo has no phone to scan a QR code with, so while a
// code shows, the connect page offers a clearly marked box whose button
// has the simulated WHAPI link a made-up phone (Config.DemoLink). Nothing
// else changes here: the simulated WHAPI sends its webhook, the app applies
// it as any other, and the page's poll turns "Connected". Outside the demo
// DemoLink is nil: no box, and the route does not exist (404).

// demoScanBox is the box under a QR code: nil outside the demo.
func (h *Handler) demoScanBox(ch *models.Channel, csrf string) *views.DemoScan {
	if h.cfg.DemoLink == nil {
		return nil
	}
	return &views.DemoScan{Action: connectPath(ch.ID, "/demo-scan"), CSRF: csrf}
}

// demoScan links a made-up phone to the channel at the simulated WHAPI and
// goes back to the connect page, which turns "Connected" when the
// webhook has arrived.
func (h *Handler) demoScan(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if ch.WhapiID == nil {
		err = provision.ErrNoQR // not created at WHAPI yet: nothing to scan
	} else {
		err = h.cfg.DemoLink(ctx, *ch.WhapiID)
	}
	switch {
	case err == nil:
		h.log.InfoContext(ctx, "demo: a simulated phone scanned the QR code", "channel", ch.ID)
		h.setFlash(c, "success", loc(c).T("demo.flash.scanned"))
	case errors.Is(err, provision.ErrNoQR):
		h.setFlash(c, "info", loc(c).T("demo.flash.no_code"))
	case errors.Is(err, provision.ErrAlreadyLinked):
		h.setFlash(c, "info", loc(c).T("demo.flash.linked"))
	case errors.Is(err, models.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	default:
		h.log.WarnContext(ctx, "demo: simulating a scan failed", "channel", ch.ID, "err", err)
		h.setFlash(c, "warning", loc(c).T("demo.flash.failed"))
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, connectPath(ch.ID, ""))
}
