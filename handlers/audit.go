package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/views"
)

const auditPerPage = 50

func auditHref(n int) string {
	if n <= 1 {
		return "/admin/audit"
	}
	return "/admin/audit?page=" + strconv.Itoa(n)
}

func (h *Handler) showAuditPage(c echo.Context) error {
	ctx := c.Request().Context()
	total, err := h.store.CountAudit(ctx)
	if err != nil {
		return err
	}
	page := listPageNumber(c)
	if last := pageCount(total, auditPerPage); page > last {
		page = max(1, last)
	}
	evs, err := h.store.ListAudit(ctx, auditPerPage, (page-1)*auditPerPage)
	if err != nil {
		return err
	}
	v := views.AuditView{Pager: buildPager(models.ListTotal{N: total}, auditPerPage, page, auditHref)}
	for _, e := range evs {
		v.Rows = append(v.Rows, views.AuditRow{When: formatTime(&e.CreatedAt), Who: e.ActorEmail, Action: e.Action,
			Target: e.Target, Detail: e.Detail, IP: e.IP})
	}
	p := h.page(c, "Audit log")
	p.Active = "audit"
	return h.render(c, http.StatusOK, views.AuditPage(p, v))
}
