package handlers

import "github.com/labstack/echo/v4"

// appRoutes registers the customer's pages on the /app group.
func (h *Handler) appRoutes(g *echo.Group) {}
