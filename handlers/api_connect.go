package handlers

import "github.com/labstack/echo/v4"

// apiConnectRoutes registers the customer's QR route of the JSON API.
func (h *Handler) apiConnectRoutes(api *echo.Group) {}
