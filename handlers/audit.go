package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/views"
)

const auditPerPage = 50

// auditActionWords is an audit action ("channel.create") in the reader's
// words: the catalog's audit.action table, keyed by the action with its
// dots as underscores; an action the catalog lacks is shown as recorded.
func auditActionWords(l *i18n.Localizer, action string) string {
	id := "audit.action." + strings.ReplaceAll(action, ".", "_")
	if !i18n.Has(id) {
		return action
	}
	return l.T(id)
}

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
	v := views.AuditView{Pager: listPager(c, models.ListTotal{N: total}, auditPerPage, page, auditHref)}
	l := loc(c)
	for _, e := range evs {
		v.Rows = append(v.Rows, views.AuditRow{When: l.DateTime(e.CreatedAt), Who: e.ActorEmail, Action: auditActionWords(l, e.Action),
			ActionKey: e.Action, Target: e.Target, Detail: e.Detail, IP: e.IP})
	}
	p := h.page(c, l.T("audit.title"))
	p.Active = "audit"
	return h.render(c, http.StatusOK, views.AuditPage(p, v))
}
