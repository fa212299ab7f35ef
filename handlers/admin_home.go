package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"whapidesk/views"
)

func (h *Handler) showAdminHome(c echo.Context) error {
	st, err := h.store.Settings(c.Request().Context())
	if err != nil {
		return err
	}
	d := views.AdminHome{TokenConfigured: st.Configured(), VerifyStatus: string(st.VerifyStatus), Hint: st.TokenHint, ProjectID: st.ProjectID}
	p := h.page(c, "Dashboard")
	p.Active = "admin"
	return h.render(c, http.StatusOK, views.AdminHomePage(p, d))
}
