package handlers

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// The admin's channel list as CSV (GET /admin/channels.csv).

// csvPageSize is how many channels the export reads at a time.
const csvPageSize = 500

// exportChannelsCSV writes every channel matching the list's filters as
// CSV. It never holds a token: only our ids and what the list shows. It
// starts with a UTF-8 byte order mark, so that Excel reads Arabic names and
// emoji as UTF-8 rather than the system's code page. The column headers
// stay English whatever the reader's language: they are machine-readable
// names that scripts and imports rely on, not words of a page.
func (h *Handler) exportChannelsCSV(c echo.Context) error {
	ctx := c.Request().Context()
	now := time.Now().UTC()
	f := parseChannelListQuery(c.QueryParams()).filter(now)
	f.Limit = csvPageSize
	rows, _, err := h.store.ListAdminChannels(ctx, f)
	if err != nil {
		return err
	}
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	hd.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="whapidesk-channels-%s.csv"`, now.Format("20060102-1504")))
	c.Response().WriteHeader(http.StatusOK)
	if _, err := c.Response().Write(utf8BOM); err != nil {
		return err
	}
	w := csv.NewWriter(c.Response())
	if err := w.Write([]string{"id", "name", "owner_email", "status", "mode", "linked", "linked_phone", "active_till", "days_allocated", "created_at"}); err != nil {
		return err
	}
	for {
		for _, r := range rows {
			till := ""
			if t := apiTimePtr(r.ActiveTill); t != nil {
				till = *t
			}
			phone := "" // the linked phone only while the phone is linked
			if r.Linked {
				phone = r.LinkedPhone
			}
			rec := []string{strconv.FormatInt(r.ID, 10), csvText(r.Name), csvText(r.OwnerEmail), string(r.Status), r.Mode,
				strconv.FormatBool(r.Linked), csvText(phone), till, strconv.FormatInt(r.DaysAllocated, 10), apiTime(r.CreatedAt)}
			if err := w.Write(rec); err != nil {
				return err
			}
		}
		if len(rows) < csvPageSize {
			break
		}
		f.Offset += csvPageSize
		if rows, _, err = h.store.ListAdminChannels(ctx, f); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// utf8BOM is the byte order mark the CSV export starts with.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// csvText keeps a spreadsheet from reading a text cell as a formula: a
// leading =, +, -, @, tab or carriage return gets a ' in front (OWASP).
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
