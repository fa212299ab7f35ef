package handlers

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/views"
)

// The demo's webhook receiver (issue 16, point 6): a sample endpoint
// pointed at the demo itself, so that an admin trying the demo sees the
// events a reseller's system would get. POST /demo/webhooks/in takes the
// deliveries (no session, no CSRF: the signature is the credential) and
// checks each signature with the sample endpoint's secret; the admin's
// page /admin/demo/webhooks lists them. Outside the demo DemoWebhooks is
// nil and neither route exists.

// DemoWebhookPath is where the demo's sample endpoint receives.
const DemoWebhookPath = "/demo/webhooks/in"

// demoWebhooksKept is how many deliveries the demo's receiver remembers.
const demoWebhooksKept = 50

// DemoWebhooks is the demo's receiver: the sample endpoint's secret and
// the deliveries received, newest first (in memory: a restart forgets
// them).
type DemoWebhooks struct {
	// Verify checks a delivery: its Webhook-Signature header against the
	// body with secret (webhookout.Verify; main passes it, handlers do not
	// import the sender).
	Verify func(secret []byte, header string, body []byte, now time.Time) error

	mu     sync.Mutex
	secret []byte
	got    []views.DemoWebhook
}

// SetSecret is the sample endpoint's secret, set by the demo's seeding.
func (d *DemoWebhooks) SetSecret(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.secret = []byte(s)
}

func (d *DemoWebhooks) list() []views.DemoWebhook {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]views.DemoWebhook(nil), d.got...)
}

// demoWebhookIn takes one delivery, checks its signature, keeps it, and
// answers 204 (401 for a bad signature, which the endpoint's page then
// shows as a refused attempt).
func (h *Handler) demoWebhookIn(c echo.Context) error {
	d := h.cfg.DemoWebhooks
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, 64<<10))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest)
	}
	d.mu.Lock()
	secret := d.secret
	d.mu.Unlock()
	verr := d.Verify(secret, c.Request().Header.Get("Webhook-Signature"), body, time.Now())
	row := views.DemoWebhook{At: time.Now().UTC().Format("2006-01-02 15:04:05 UTC"), ID: c.Request().Header.Get("Webhook-Id"),
		Body: string(body), Verified: verr == nil}
	if verr != nil {
		row.Problem = verr.Error()
	}
	d.mu.Lock()
	d.got = append([]views.DemoWebhook{row}, d.got...)
	if len(d.got) > demoWebhooksKept {
		d.got = d.got[:demoWebhooksKept]
	}
	d.mu.Unlock()
	if verr != nil {
		return c.NoContent(http.StatusUnauthorized)
	}
	return c.NoContent(http.StatusNoContent)
}

// showDemoWebhooks is the demo receiver's page: what it received.
func (h *Handler) showDemoWebhooks(c echo.Context) error {
	return h.render(c, http.StatusOK, views.DemoWebhooksPage(h.webhooksPage(c, "webhooks.demo.title"), h.cfg.DemoWebhooks.list()))
}
