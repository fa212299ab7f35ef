package handlers

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
)

// Config is what the HTTP layer needs to know of its deployment.
type Config struct {
	// SecureCookies marks cookies Secure (set when served over HTTPS).
	SecureCookies bool
	// Version busts static asset caches (?v=…).
	Version string
	// Brand is the product name on every page (default "LinkDesk"): the
	// reseller's own, never WHAPI's.
	Brand string
	// IdleTimeout and AbsoluteTimeout bound a session's life.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For names the client. Empty: the peer is the client.
	TrustedProxies []*net.IPNet
	// DemoLink, set only by the demo, has the simulated WHAPI link a
	// made-up phone to the channel with the given WHAPI id, as a scan of
	// its QR code would (handlers/demo.go). nil outside the demo: then
	// the connect page has no "simulate scanning" box and its route is
	// not registered. It returns provision.ErrNoQR when the channel shows
	// no code to scan, provision.ErrAlreadyLinked, or models.ErrNotFound.
	DemoLink func(ctx context.Context, channelWhapiID string) error
	// DemoWebhooks, set only by the demo, is the receiver of its sample
	// webhook endpoint (handlers/demo_webhooks.go); nil: no such routes.
	DemoWebhooks *DemoWebhooks
	// Jobs is the background job queue the Jobs page shows (jobs.Queue);
	// nil: this process runs none, and the page says so.
	Jobs JobQueue
}

// Handler holds the dependencies of every handler.
type Handler struct {
	store    *models.Store
	svc      *provision.Service
	sessions *dbStore
	throttle *loginThrottle
	log      *slog.Logger
	cfg      Config
}

// New builds a Handler.
func New(store *models.Store, svc *provision.Service, log *slog.Logger, cfg Config) *Handler {
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 2 * time.Hour
	}
	if cfg.AbsoluteTimeout == 0 {
		cfg.AbsoluteTimeout = 12 * time.Hour
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Brand == "" {
		cfg.Brand = DefaultBrand
	}
	return &Handler{
		store:    store,
		svc:      svc,
		sessions: newDBStore(store, store.Cipher().Derive("session-cookie"), cfg.SecureCookies, cfg.IdleTimeout, cfg.AbsoluteTimeout),
		throttle: newLoginThrottle(store),
		log:      log,
		cfg:      cfg,
	}
}

// DefaultBrand is the product name when none is configured.
const DefaultBrand = "LinkDesk"

// bodyLimit caps request bodies: a partner token is at most 16 KB.
const bodyLimit = "64K"

func (h *Handler) healthz(c echo.Context) error {
	return c.String(200, "ok")
}

// headAsGet answers HEAD as the GET of the same path (monitors and link
// checkers use it): Echo routes by method and would answer 404. The
// handlers see GET and their body is dropped; the method is HEAD again
// before net/http finishes the answer, so it answers as to a HEAD.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodHead {
			return next(c)
		}
		r.Method = http.MethodGet
		defer func() { r.Method = http.MethodHead }()
		c.Response().Writer = bodyless{c.Response().Writer}
		return next(c)
	}
}

// bodyless drops what is written to the body of an answer.
type bodyless struct{ http.ResponseWriter }

func (b bodyless) Write(p []byte) (int, error) { return len(p), nil }

// Flush does nothing: a flush would send the headers while the method
// still says GET.
func (b bodyless) Flush() {}
