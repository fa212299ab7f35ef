package handlers

import "github.com/labstack/echo/v4"

// adminPlanRoutes registers its pages on the admin group.
func (h *Handler) adminPlanRoutes(g *echo.Group) {}
