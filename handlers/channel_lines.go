package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// A channel's line: restart, stop and start (admins), from the channel
// list and from a customer's page, each behind a confirmation page, and
// from the API. The lifecycle says when each is open (provision.Permit);
// provision does it.

// lineAction is one of the three, with its words.
type lineAction struct {
	act provision.Action
	// run does it through provision.
	run func(s *provision.Service, ctx context.Context, a models.Actor, id int64) (*models.Channel, error)
	// done is the past participle ("restarted"), said says what happens
	// next, after "was done:".
	done, said string
}

var lineActions = map[provision.Action]lineAction{
	provision.ActRestart: {act: provision.ActRestart, run: (*provision.Service).Restart,
		done: "restarted", said: "its line reconnects within seconds"},
	provision.ActStop: {act: provision.ActStop, run: (*provision.Service).Stop,
		done: "stopped", said: "nothing is sent or received until you start it again; its days keep running out"},
	provision.ActStart: {act: provision.ActStart, run: (*provision.Service).Start,
		done: "started", said: "its line reconnects within seconds"},
}

// lineBusy says why a channel's line action is not open now, or "".
func lineBusy(v provision.ChannelView, a provision.Action) string {
	switch err := provision.CheckState(v.Channel, a); {
	case err == nil && !canLine(v, a):
		return "Its days are over: extend it first."
	case err == nil:
		return ""
	case errors.Is(err, provision.ErrChannelStopped):
		return "Its line is stopped: start it first."
	case errors.Is(err, provision.ErrChannelRunning):
		return "Its line is running already."
	}
	return "It cannot be " + lineActions[a].done + " now: it is " + strings.ToLower(v.Label) + "."
}

// lineView is the confirmation page's data of a channel (without where it
// posts and returns to).
func (h *Handler) lineView(ctx context.Context, ch *models.Channel, a provision.Action) (views.ChannelLine, error) {
	owner, err := h.store.UserByID(ctx, ch.UserID)
	if err != nil {
		return views.ChannelLine{}, err
	}
	v := h.svc.View(ch)
	return views.ChannelLine{Action: string(a), ID: ch.ID, Name: ch.Name, State: badgeOf(v), OwnerID: owner.ID,
		OwnerEmail: owner.Email, ActiveTill: formatTime(ch.ActiveTill), DaysLeft: timeLeft(ch.ActiveTill, h.svc.Now()),
		Linked: ch.Linked, Busy: lineBusy(v, a)}, nil
}

// canLine is what the channel's view offers of a line action (its state,
// and its days: a running channel whose days are over offers none).
func canLine(v provision.ChannelView, a provision.Action) bool {
	switch a {
	case provision.ActRestart:
		return v.Can.Restart
	case provision.ActStop:
		return v.Can.Stop
	}
	return v.Can.Start
}

// lineDone is the flash after a line action: what happened, or why not.
func (h *Handler) lineDone(c echo.Context, ch *models.Channel, la lineAction, err error) error {
	switch {
	case err == nil:
		h.setFlash(c, "success", channelLabel(ch)+" was "+la.done+": "+la.said+".")
		return nil
	case isCode(err, "unconfirmed"):
		h.setFlash(c, "warning", channelLabel(ch)+": WHAPI did not confirm the "+string(la.act)+". Look at the channel again in a moment.")
		return nil
	case isCode(err, "pending"):
		h.setFlash(c, "warning", channelLabel(ch)+": WHAPI has not confirmed the "+string(la.act)+" yet. It is checked and settled automatically.")
		return nil
	}
	_, code, msg, ok := domainError(err)
	switch {
	case !ok:
		return err
	case code == "not_configured":
		h.setFlash(c, "error", channelLabel(ch)+" was not "+la.done+": no partner token is saved. "+saveTokenFirst)
	default:
		h.setFlash(c, "error", channelLabel(ch)+" was not "+la.done+": "+msg+".")
	}
	return nil
}

// isCode reports whether err answers with the domain error code.
func isCode(err error, code string) bool {
	_, c, _, ok := domainError(err)
	return ok && c == code
}

// From the channel list.

func (h *Handler) showChannelLinePage(a provision.Action) echo.HandlerFunc {
	return func(c echo.Context) error {
		ch, err := h.channelParam(c)
		if err != nil {
			return err
		}
		q, _ := url.ParseQuery(c.QueryParam("back"))
		back := parseChannelListQuery(q)
		d, err := h.lineView(c.Request().Context(), ch, a)
		if err != nil {
			return err
		}
		d.FormAction, d.Back, d.CancelHref = channelActionPath(ch.ID, string(a)), back.values(true).Encode(), back.href("/admin/channels", true)
		p := h.channelsPage(c)
		p.Title = views.LineTitle(string(a))
		return h.render(c, http.StatusOK, views.ChannelLinePage(p, d))
	}
}

func (h *Handler) channelLine(a provision.Action) echo.HandlerFunc {
	la := lineActions[a]
	return func(c echo.Context) error {
		ch, err := h.channelParam(c)
		if err != nil {
			return err
		}
		_, err = la.run(h.svc, c.Request().Context(), actor(c), ch.ID)
		if err := h.lineDone(c, ch, la, err); err != nil {
			h.log.ErrorContext(c.Request().Context(), "channel action failed", "channel", ch.ID, "action", a, "err", err)
			h.setFlash(c, "error", channelLabel(ch)+" was not "+la.done+": something went wrong on our side. Try again in a moment.")
		}
		return h.backToChannels(c, backQuery(c))
	}
}

// From a customer's page.

func (h *Handler) showUserChannelLinePage(a provision.Action) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, ch, err := h.channelOfPath(c)
		if err != nil {
			return err
		}
		d, err := h.lineView(c.Request().Context(), ch, a)
		if err != nil {
			return err
		}
		d.FormAction, d.CancelHref = userPath(u.ID)+"/channels/"+strconv.FormatInt(ch.ID, 10)+"/"+string(a), userPath(u.ID)
		return h.render(c, http.StatusOK, views.ChannelLinePage(h.usersPage(c, views.LineTitle(string(a))), d))
	}
}

func (h *Handler) userChannelLine(a provision.Action) echo.HandlerFunc {
	la := lineActions[a]
	return func(c echo.Context) error {
		u, ch, err := h.channelOfPath(c)
		if err != nil {
			return err
		}
		_, err = la.run(h.svc, c.Request().Context(), actor(c), ch.ID)
		if err := h.lineDone(c, ch, la, err); err != nil {
			return err
		}
		return h.backToUser(c, u.ID)
	}
}

// From the API: POST /api/channels/{id}/restart, /stop, /start (admins).

func (h *Handler) apiChannelLine(a provision.Action) echo.HandlerFunc {
	la := lineActions[a]
	return func(c echo.Context) error {
		ch, err := h.apiChannelOfCaller(c)
		if err != nil {
			return err
		}
		if ch, err = la.run(h.svc, c.Request().Context(), actor(c), ch.ID); err != nil {
			return apiFail(c, err)
		}
		return c.JSON(http.StatusOK, toAPIChannel(ch))
	}
}

// channelActionPath is the admin's address of an action on a channel.
func channelActionPath(id int64, action string) string {
	return "/admin/channels/" + strconv.FormatInt(id, 10) + "/" + action
}
