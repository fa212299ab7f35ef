package handlers

import "github.com/labstack/echo/v4"

// adminAuditRoutes registers its pages on the admin group.
func (h *Handler) adminAuditRoutes(g *echo.Group) {}
