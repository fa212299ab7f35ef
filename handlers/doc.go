// Package handlers is whapidesk's HTTP layer: Echo routes, middleware (auth,
// roles, sessions, CSRF, security headers, logging) and thin handlers that
// parse input, call provision or models, and render a view or JSON. No SQL
// and no WHAPI call lives here.
package handlers
