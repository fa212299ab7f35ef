package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"whapidesk/views"
)

func (h *Handler) showCustomerHome(c echo.Context) error {
	p := h.page(c, "My channels")
	p.Active = "app"
	return h.render(c, http.StatusOK, views.CustomerHomePage(p))
}
