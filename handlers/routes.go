package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/static"
)

// Routes registers every route and the middleware around them on e: the
// one route table. Pages read with GET and change with POST, always in
// separate methods.
func (h *Handler) Routes(e *echo.Echo) {
	e.HideBanner = true
	e.HidePort = true
	// The client's IP is the connection's peer: X-Forwarded-For and
	// X-Real-IP are ignored, so they cannot be forged to dodge throttling —
	// unless the peer is a configured trusted proxy.
	e.IPExtractor = echo.ExtractIPDirect()
	if len(h.cfg.TrustedProxies) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range h.cfg.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}
	e.HTTPErrorHandler = h.errorHandler
	e.Pre(h.securityHeaders, headAsGet)

	e.Use(middleware.Recover())
	e.Use(h.requestLogger())
	e.Use(middleware.BodyLimit(bodyLimit))
	e.Use(h.localize)

	e.GET("/healthz", h.healthz)
	e.StaticFS("/static", static.FS)

	// WHAPI's webhooks: no session, no CSRF token (WHAPI has neither); the
	// channel's secret in the address is the credential (handlers/hooks.go).
	e.POST(hookPrefix+":secret", h.receiveWHAPIHook, middleware.BodyLimit(hookBodyLimit))

	// Connect links: one channel's connect page for whoever holds the link,
	// no session and no session CSRF token; the token in the address is
	// the credential, and forms carry one derived from it
	// (handlers/connect_links.go).
	e.GET(provision.ConnectLinkPath+":token", h.showConnectLinkPage)
	e.GET(provision.ConnectLinkPath+":token/status", h.connectLinkStatus)
	e.GET(provision.ConnectLinkPath+":token/qr.png", h.connectLinkQRImage)
	e.POST(provision.ConnectLinkPath+":token/pairing", h.connectLinkPairing)
	e.POST(provision.ConnectLinkPath+":token/reconnect", h.connectLinkReconnect)

	// The demo's webhook receiver: no session, no CSRF; the signature is
	// the credential (handlers/demo_webhooks.go).
	if h.cfg.DemoWebhooks != nil {
		e.POST(DemoWebhookPath, h.demoWebhookIn)
	}

	// Pages and forms: session cookie + CSRF token.
	web := e.Group("", h.loadSession, h.csrf)

	// Sign-in.
	web.GET("/", h.home)
	web.GET("/login", h.showLoginPage)
	web.POST("/login", h.login)
	web.GET("/logout", h.showLogoutPage)
	web.POST("/logout", h.logout)
	web.POST("/language", h.switchLanguage)

	// Set-password links (the invitation's): public, the token is the credential.
	web.GET(setPasswordPrefix+":token", h.showSetPasswordPage)
	web.POST(setPasswordPrefix+":token", h.setPasswordFromLink)

	// Forgot password: asks for a reset link, mailed to the address's
	// account if it has one (handlers/forgot_password.go).
	web.GET("/forgot-password", h.showForgotPasswordPage)
	web.POST("/forgot-password", h.requestPasswordReset)
	web.GET("/forgot-password/sent", h.showResetSentPage)

	// Account: a signed-in user's own settings, for either role.
	account := web.Group("/account", h.requireSignedIn)
	account.GET("/password", h.showPasswordPage)
	account.POST("/password", h.changePassword)
	account.POST("/mails", h.saveMailPrefs)
	account.POST("/language", h.saveLanguage)

	// Admin pages.
	admin := web.Group("/admin", h.requireRole(models.RoleAdmin))

	// Dashboard.
	admin.GET("", h.showAdminHome)
	admin.POST("/sync", h.syncNow)
	admin.POST("/partner/days", h.recordPartnerDays)
	admin.GET("/partner/entries", h.showPartnerEntriesPage)
	admin.GET("/partner/entries/:id/reverse", h.showReversePartnerEntryPage)
	admin.POST("/partner/entries/:id/reverse", h.reversePartnerEntry)

	// Plans.
	admin.GET("/plans", h.listPlans)
	admin.POST("/plans", h.createPlan)
	admin.GET("/plans/:id/edit", h.editPlan)
	admin.POST("/plans/:id", h.updatePlan)
	admin.GET("/plans/:id/retire", h.showRetirePlanPage)
	admin.POST("/plans/:id/retire", h.retirePlan)
	admin.POST("/plans/:id/reinstate", h.reinstatePlan)

	// Customers.
	admin.GET("/users", h.showUsersPage)
	admin.POST("/users", h.addUser)
	admin.GET("/users/:id", h.showUserPage)
	admin.POST("/users/:id/mode", h.setUserMode)
	admin.GET("/users/:id/subscription", h.showActivatePlanPage)
	admin.POST("/users/:id/subscription", h.activateUserPlan)
	admin.POST("/users/:id/subscription/renew", h.renewUserPlan)
	admin.GET("/users/:id/subscription/cancel", h.showCancelUserPlanPage)
	admin.POST("/users/:id/subscription/cancel", h.cancelUserPlan)
	admin.POST("/users/:id/language", h.setUserLanguage)
	admin.POST("/users/:id/days", h.creditUserDays)
	admin.GET("/users/:id/disable", h.showDisableUserPage)
	admin.POST("/users/:id/disable", h.disableUser)
	admin.POST("/users/:id/enable", h.enableUser)
	admin.POST("/users/:id/password", h.setUserPassword)
	admin.POST("/users/:id/channels/:cid/extend", h.extendUserChannel)
	admin.GET("/users/:id/channels/:cid/delete", h.showDeleteUserChannelPage)
	admin.POST("/users/:id/channels/:cid/delete", h.deleteUserChannel)
	admin.GET("/users/:id/channels/:cid/restart", h.showUserChannelLinePage(provision.ActRestart))
	admin.POST("/users/:id/channels/:cid/restart", h.userChannelLine(provision.ActRestart))
	admin.GET("/users/:id/channels/:cid/stop", h.showUserChannelLinePage(provision.ActStop))
	admin.POST("/users/:id/channels/:cid/stop", h.userChannelLine(provision.ActStop))
	admin.GET("/users/:id/channels/:cid/start", h.showUserChannelLinePage(provision.ActStart))
	admin.POST("/users/:id/channels/:cid/start", h.userChannelLine(provision.ActStart))

	// Channels.
	admin.GET("/channels", h.showChannelsPage)
	admin.GET("/channels.csv", h.exportChannelsCSV)
	admin.POST("/channels/:id/extend", h.extendChannel)
	admin.GET("/channels/:id/delete", h.showDeleteChannelPage)
	admin.POST("/channels/:id/delete", h.deleteChannel)
	admin.POST("/channels/:id/sync", h.syncChannel)
	admin.GET("/channels/:id/restart", h.showChannelLinePage(provision.ActRestart))
	admin.POST("/channels/:id/restart", h.channelLine(provision.ActRestart))
	admin.GET("/channels/:id/stop", h.showChannelLinePage(provision.ActStop))
	admin.POST("/channels/:id/stop", h.channelLine(provision.ActStop))
	admin.GET("/channels/:id/start", h.showChannelLinePage(provision.ActStart))
	admin.POST("/channels/:id/start", h.channelLine(provision.ActStart))
	// The customer's connect page as the admin sees it, and connect links
	// (handlers/connect_links.go).
	admin.GET("/channels/:id/connect", h.showAdminConnectPage)
	admin.GET("/channels/:id/connect/status", h.adminConnectStatus)
	admin.GET("/channels/:id/connect/qr.png", h.adminConnectQRImage)
	admin.POST("/channels/:id/connect/pairing", h.adminConnectPairing)
	admin.POST("/channels/:id/connect/reconnect", h.adminConnectReconnect)
	admin.POST("/channels/:id/connect-links", h.adminMakeConnectLink)
	admin.POST("/channels/:id/connect-links/:lid/revoke", h.adminRevokeConnectLink)
	admin.GET("/channels/:id/test-message", h.showAdminTestMessage)
	admin.POST("/channels/:id/test-message", h.sendAdminTestMessage)

	// Audit.
	admin.GET("/audit", h.showAuditPage)

	// Background jobs.
	admin.GET("/jobs", h.showJobsPage)
	admin.POST("/jobs/:id/retry", h.retryJob)
	admin.GET("/jobs/:id/cancel", h.showCancelJobPage)
	admin.POST("/jobs/:id/cancel", h.cancelJob)

	// The Attention list (handlers/attention.go).
	admin.GET("/attention", h.showAttentionPage)

	// Mail outbox.
	admin.GET("/outbox", h.showOutboxPage)
	admin.GET("/outbox/:id", h.showMailPage)
	admin.GET("/outbox/:id/html", h.showMailHTML)
	admin.POST("/outbox/:id/retry", h.retryMail)
	admin.POST("/users/:id/invitation", h.resendInvitation)
	// A user's mail choices, set by an admin (handlers/mail_prefs.go).
	admin.POST("/users/:id/mails", h.saveUserMailPrefs)

	// API keys (api_keys_admin.go).
	admin.GET("/keys", h.showAPIKeysPage)
	admin.POST("/keys", h.createAPIKey)
	admin.GET("/keys/:id/revoke", h.showRevokeAPIKeyPage)
	admin.POST("/keys/:id/revoke", h.revokeAPIKey)

	// Webhook endpoints (admin_webhooks.go).
	admin.GET("/webhooks", h.showWebhooksPage)
	admin.POST("/webhooks", h.createWebhook)
	admin.GET("/webhooks/:id", h.showWebhookPage)
	admin.POST("/webhooks/:id/test", h.testWebhook)
	admin.GET("/webhooks/:id/rotate", h.confirmRotateWebhook)
	admin.POST("/webhooks/:id/rotate", h.rotateWebhook)
	admin.GET("/webhooks/:id/delete", h.confirmDeleteWebhook)
	admin.POST("/webhooks/:id/delete", h.deleteWebhook)
	if h.cfg.DemoWebhooks != nil { // the demo's receiver (demo_webhooks.go)
		admin.GET("/demo/webhooks", h.showDemoWebhooks)
	}

	// WHAPI settings.
	admin.GET("/settings/whapi", h.showWHAPISettingsPage)
	admin.POST("/settings/whapi", h.saveWHAPISettings)
	admin.POST("/settings/whapi/test", h.testWHAPIConnection)
	admin.POST("/settings/whapi/project", h.pickWHAPIProject)
	admin.GET("/settings/whapi/remove", h.showRemoveTokenPage)
	admin.POST("/settings/whapi/remove", h.removeWHAPIToken)

	// Customer pages (customers only). Every channel route answers 404 for
	// a channel that is not the signed-in customer's, so ids cannot be
	// probed.
	app := web.Group("/app", h.requireRole(models.RoleCustomer))
	app.GET("", h.showCustomerDashboard)
	app.POST("/channels", h.createCustomerChannel)
	app.GET("/channels/:id/card", h.showCustomerChannelCard) // a preparing card polls it
	app.GET("/channels/:id/delete", h.showCustomerDeletePage)
	app.POST("/channels/:id/delete", h.deleteCustomerChannel)

	// Connect page: link a phone to a channel.
	app.GET("/channels/:id/connect", h.showConnectPage)
	app.GET("/channels/:id/connect/status", h.connectStatus)
	app.POST("/channels/:id/connect/pairing", h.requestPairingCode)
	app.POST("/channels/:id/connect/reconnect", h.reconnectChannel)
	app.GET("/channels/:id/qr.png", h.connectQRImage)
	app.POST("/channels/:id/connect-links", h.custMakeConnectLink)
	app.POST("/channels/:id/connect-links/:lid/revoke", h.custRevokeConnectLink)
	app.GET("/channels/:id/test-message", h.showCustomerTestMessage)
	app.POST("/channels/:id/test-message", h.sendCustomerTestMessage)
	if h.cfg.DemoLink != nil { // the demo only: a button plays the phone
		app.POST("/channels/:id/connect/demo-scan", h.demoScan)
	}

	// JSON API (design §5): an API key, or the session cookie plus the CSRF
	// header. api is open to any signed-in user (handlers check
	// ownership), apiAdmin to admins only.
	// Every write with a body says it is JSON (415 otherwise): api_json.go.
	api := e.Group("/api", h.apiAuth, h.apiRequireUser, h.csrf, apiJSONBody)
	apiAdmin := api.Group("", h.requireRole(models.RoleAdmin))

	// API: WHAPI settings.
	apiAdmin.GET("/settings/whapi", h.getWHAPISettingsAPI)
	apiAdmin.PUT("/settings/whapi", h.putWHAPISettingsAPI)

	// API: channels. Owners (customers) and admins; a customer only ever
	// sees their own channels, and someone else's channel is "not found",
	// never "forbidden".
	api.POST("/channels", h.apiCreateChannel, h.apiRequireUser)
	api.GET("/channels", h.apiListChannels, h.apiRequireUser)
	api.GET("/channels/:id", h.apiGetChannel, h.apiRequireUser)
	api.DELETE("/channels/:id", h.apiDeleteChannel, h.apiRequireUser)
	api.GET("/channels/:id/qr", h.apiChannelQR) // its owner only
	api.POST("/channels/:id/test-message", h.apiSendTestMessage, h.apiRequireUser)
	// API: connect links (owners and admins; someone else's is "not found").
	api.POST("/channels/:id/connect-links", h.apiCreateConnectLink)
	api.DELETE("/connect-links/:id", h.apiRevokeConnectLink)
	apiAdmin.POST("/channels/:id/extend", h.apiExtendChannel)
	apiAdmin.POST("/channels/:id/restart", h.apiChannelLine(provision.ActRestart))
	apiAdmin.POST("/channels/:id/stop", h.apiChannelLine(provision.ActStop))
	apiAdmin.POST("/channels/:id/start", h.apiChannelLine(provision.ActStart))

	// API: plans (admins only).
	apiAdmin.GET("/plans", h.apiListPlans)
	apiAdmin.POST("/plans", h.apiCreatePlan)

	// API: users (admins only).
	apiAdmin.GET("/users", h.apiListUsers)
	apiAdmin.POST("/users", h.apiCreateUser)
	apiAdmin.GET("/users/:id", h.apiGetUser)
	apiAdmin.PATCH("/users/:id", h.apiPatchUser)
	apiAdmin.POST("/users/:id/subscription", h.apiActivateSubscription)
	apiAdmin.POST("/users/:id/days", h.apiCreditDays)
	apiAdmin.GET("/users/:id/ledger", h.apiLedger)

	// Webhook endpoints (api_webhooks.go).
	apiAdmin.POST("/webhooks", h.apiCreateWebhook)
	apiAdmin.GET("/webhooks", h.apiListWebhooks)
	apiAdmin.DELETE("/webhooks/:id", h.apiDeleteWebhook)

	// Unknown /api paths are "not found" for everyone signed in: otherwise
	// the admin group's catch-all would answer customers 403. These come
	// after apiAdmin is made, whose catch-all they replace.
	api.RouteNotFound("", h.apiNoRoute, h.apiRequireUser)
	api.RouteNotFound("/*", h.apiNoRoute, h.apiRequireUser)
}

// pathID reads a positive numeric path parameter; ok is false for
// anything else (which every caller answers as "not found").
func pathID(c echo.Context, name string) (id int64, ok bool) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	return id, err == nil && id > 0
}

// idParam reads a positive numeric path parameter; anything else is 404.
func idParam(c echo.Context, name string) (int64, error) {
	id, ok := pathID(c, name)
	if !ok {
		return 0, echo.NewHTTPError(http.StatusNotFound)
	}
	return id, nil
}
