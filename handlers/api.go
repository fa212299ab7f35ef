package handlers

import "github.com/labstack/echo/v4"

// apiRoutes registers the JSON API of design §5: api is open to any signed-in
// user (handlers check ownership), apiAdmin to admins only.
func (h *Handler) apiRoutes(api, apiAdmin *echo.Group) {}
