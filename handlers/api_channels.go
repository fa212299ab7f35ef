package handlers

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
)

// apiChannel is a channel as the API shows it, to its owner and to admins:
// our id and what a person needs, never WHAPI's id, token or mode. Its
// shape lives in provision, so that a webhook's data is the same.
type apiChannel = provision.APIChannel

func toAPIChannel(ch *models.Channel) apiChannel { return provision.ChannelJSON(ch) }

// apiChannelStatuses are the values ?status= accepts.
var apiChannelStatuses = provision.ChannelStates

// apiNoChannel is the answer for a channel that does not exist or is not
// the caller's: the same either way, so ids cannot be probed.
func apiNoChannel(c echo.Context) *APIError {
	return apiError(http.StatusNotFound, "not_found", loc(c).T("api.no_channel"))
}

// apiChannelOfCaller loads the channel of the path if the caller may see
// it: an admin any channel, a customer only their own.
func (h *Handler) apiChannelOfCaller(c echo.Context) (*models.Channel, error) {
	id, ok := apiPathID(c)
	if !ok {
		return nil, apiNoChannel(c)
	}
	ch, err := h.store.ChannelByID(c.Request().Context(), id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return nil, apiNoChannel(c)
	case err != nil:
		return nil, err
	}
	if u := currentUser(c); !u.IsAdmin() && ch.UserID != u.ID {
		return nil, apiNoChannel(c)
	}
	return ch, nil
}

// apiCreateChannelBody is the body of POST /api/channels.
type apiCreateChannelBody struct {
	Name   string `json:"name"`
	Phone  string `json:"phone"`
	UserID *int64 `json:"user_id"`
}

// apiCreateChannel: a customer creates a channel of their own; an admin
// creates one for the customer named by user_id.
func (h *Handler) apiCreateChannel(c echo.Context) error {
	var body apiCreateChannelBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	u := currentUser(c)
	owner := u.ID
	switch {
	case u.IsAdmin():
		if body.UserID == nil {
			return apiInvalidInput(c, map[string]string{"user_id": loc(c).T("api.field.owner_required")})
		}
		o, err := h.store.UserByID(ctx, *body.UserID)
		switch {
		case errors.Is(err, models.ErrNotFound):
			return apiInvalidInput(c, map[string]string{"user_id": loc(c).T("api.field.no_such_user")})
		case err != nil:
			return err
		case o.Role != models.RoleCustomer:
			return apiInvalidInput(c, map[string]string{"user_id": loc(c).T("api.field.owner_admin")})
		}
		owner = o.ID
	case body.UserID != nil && *body.UserID != u.ID:
		return apiError(http.StatusForbidden, "forbidden", loc(c).T("api.create_own_only"))
	}
	ch, err := h.svc.CreateChannel(ctx, actor(c), provision.CreateInput{UserID: owner, Name: body.Name, Phone: body.Phone})
	if errors.Is(err, provision.ErrOutcomeUnknown) && ch != nil {
		return &APIError{Status: http.StatusBadGateway, Code: "pending",
			Message: loc(c).T("api.channel_pending", "Channel", strconv.FormatInt(ch.ID, 10))}
	}
	if err != nil {
		return apiFail(c, err)
	}
	return c.JSON(http.StatusCreated, toAPIChannel(ch))
}

// apiListChannels: a customer's own channels, or (admins) every channel,
// optionally of one customer (?user_id=) or in one state (?status=).
// Deleted and failed channels are listed only when ?status= asks for them.
func (h *Handler) apiListChannels(c echo.Context) error {
	u := currentUser(c)
	fields := map[string]string{}
	limit, offset := apiPagination(c, fields)
	f := models.ChannelFilter{Limit: limit, Offset: offset}
	if st := models.ChannelStatus(c.QueryParam("status")); st != "" {
		if !slices.Contains(apiChannelStatuses, st) {
			fields["status"] = loc(c).T("api.field.status")
		}
		f.Status = st
	}
	userID := apiQueryID(c, "user_id", fields)
	if len(fields) > 0 {
		return apiInvalidInput(c, fields)
	}
	if u.IsAdmin() {
		f.UserID = userID
	} else {
		if userID != 0 && userID != u.ID {
			return apiError(http.StatusForbidden, "forbidden", loc(c).T("api.list_own_only"))
		}
		f.UserID = u.ID // never anyone else's
	}
	rows, total, err := h.store.ListChannelSummaries(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := apiList[apiChannel]{Items: make([]apiChannel, 0, len(rows)), Total: total, Limit: limit, Offset: offset}
	for i := range rows {
		out.Items = append(out.Items, toAPIChannel(&rows[i]))
	}
	return c.JSON(http.StatusOK, out)
}

func (h *Handler) apiGetChannel(c echo.Context) error {
	ch, err := h.apiChannelOfCaller(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIChannel(ch))
}

// apiDeleteChannel deletes the caller's channel (or any, for admins) and
// says how many unused days went back to the owner's balance.
func (h *Handler) apiDeleteChannel(c echo.Context) error {
	ch, err := h.apiChannelOfCaller(c)
	if err != nil {
		return err
	}
	days, err := h.svc.Delete(c.Request().Context(), actor(c), ch.ID)
	if err != nil {
		return apiFail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]int64{"days_returned": days})
}

// apiExtendBody is the body of POST /api/channels/:id/extend.
type apiExtendBody struct {
	Days    int64  `json:"days"`
	Comment string `json:"comment"`
}

// apiExtendChannel (admins) moves days from the owner's balance to the
// channel.
func (h *Handler) apiExtendChannel(c echo.Context) error {
	ch, err := h.apiChannelOfCaller(c)
	if err != nil {
		return err
	}
	var body apiExtendBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	ch, err = h.svc.Extend(c.Request().Context(), actor(c), provision.ExtendInput{ChannelID: ch.ID, Days: body.Days, Comment: body.Comment})
	if err != nil {
		return apiFail(c, err)
	}
	return c.JSON(http.StatusOK, toAPIChannel(ch))
}

// apiQR is the answer of GET /api/channels/{id}/qr.
type apiQR struct {
	State     string `json:"state"` // qr, preparing, connected, expired, stopped, reconnect, failed
	Image     string `json:"image,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
	Phone     string `json:"phone,omitempty"`
}

// apiChannelQR gives the owner the QR code to scan (a PNG data URL) or the
// channel's state. Admins get 403: linking a phone is the owner's act.
// Another customer's channel is 404, as if it did not exist.
func (h *Handler) apiChannelQR(c echo.Context) error {
	u := currentUser(c)
	switch {
	case u == nil:
		return apiError(http.StatusUnauthorized, "unauthorized", loc(c).T("api.sign_in"))
	case u.IsAdmin():
		return apiError(http.StatusForbidden, "forbidden", loc(c).T("api.qr_owner_only"))
	}
	noChannel := apiNoChannel(c)
	id, ok := pathID(c, "id")
	if !ok {
		return noChannel
	}
	ctx := c.Request().Context()
	ch, err := h.store.ChannelByID(ctx, id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return noChannel
	case err != nil:
		return err
	case ch.UserID != u.ID || provision.IsGone(ch):
		return noChannel
	}
	st, err := h.svc.ConnectState(ctx, ch.ID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return noChannel
	case err != nil:
		h.log.WarnContext(ctx, "api qr: line state unknown", "channel", ch.ID, "err", err)
		return apiError(http.StatusBadGateway, "unavailable", loc(c).T("api.qr_unreachable"))
	}
	out := apiQR{State: st.Phase.ConnectStep()}
	switch st.Phase {
	case provision.PhaseWaiting:
		out.Image = "data:image/png;base64," + base64.StdEncoding.EncodeToString(st.PNG)
		out.ExpiresAt = apiTime(st.ExpiresAt)
	case provision.PhaseConnected:
		out.Phone = custPhone(st.Phone)
	}
	return c.JSON(http.StatusOK, out)
}
