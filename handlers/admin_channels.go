package handlers

import "github.com/labstack/echo/v4"

// adminChannelRoutes registers its pages on the admin group.
func (h *Handler) adminChannelRoutes(g *echo.Group) {}
