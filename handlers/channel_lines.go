package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
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
	// done is the catalog id of its past participle ("restarted"), said
	// the id of what happens next, after "was done:".
	done, said string
}

var lineActions = map[provision.Action]lineAction{
	provision.ActRestart: {act: provision.ActRestart, run: (*provision.Service).Restart,
		done: "lines.done.restarted", said: "lines.said.reconnects"},
	provision.ActStop: {act: provision.ActStop, run: (*provision.Service).Stop,
		done: "lines.done.stopped", said: "lines.said.stopped"},
	provision.ActStart: {act: provision.ActStart, run: (*provision.Service).Start,
		done: "lines.done.started", said: "lines.said.reconnects"},
}

// lineBusy says why a channel's line action is not open now, or "".
func lineBusy(lz *i18n.Localizer, v provision.ChannelView, a provision.Action) string {
	switch err := provision.CheckState(v.Channel, a); {
	case err == nil && !canLine(v, a):
		return lz.T("lines.busy_days_over")
	case err == nil:
		return ""
	case errors.Is(err, provision.ErrChannelStopped):
		return lz.T("lines.busy_stopped")
	case errors.Is(err, provision.ErrChannelRunning):
		return lz.T("lines.busy_running")
	}
	return lz.T("lines.busy_state", "Done", lz.T(lineActions[a].done), "State", strings.ToLower(lz.T(v.LabelID)))
}

// lineView is the confirmation page's data of a channel (without where it
// posts and returns to).
func (h *Handler) lineView(ctx context.Context, ch *models.Channel, a provision.Action) (views.ChannelLine, error) {
	owner, err := h.store.UserByID(ctx, ch.UserID)
	if err != nil {
		return views.ChannelLine{}, err
	}
	lz := i18n.From(ctx)
	v := h.svc.View(ch)
	return views.ChannelLine{Action: string(a), ID: ch.ID, Name: ch.Name, State: badgeOf(v), OwnerID: owner.ID,
		OwnerEmail: owner.Email, ActiveTill: dateTimeOf(lz, ch.ActiveTill), DaysLeft: daysLeftWords(lz, ch.ActiveTill, h.svc.Now()),
		Linked: ch.Linked, Busy: lineBusy(lz, v, a)}, nil
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
	lz := loc(c)
	label, done, act := channelNamed(lz, ch), lz.T(la.done), lz.T("lines.act."+string(la.act))
	switch {
	case err == nil:
		h.setFlash(c, "success", lz.T("lines.done_flash", "Channel", label, "Done", done, "Said", lz.T(la.said)))
		return nil
	case isCode(err, "unconfirmed"):
		h.setFlash(c, "warning", lz.T("lines.unconfirmed", "Channel", label, "Action", act))
		return nil
	case isCode(err, "pending"):
		h.setFlash(c, "warning", lz.T("lines.pending", "Channel", label, "Action", act))
		return nil
	}
	_, code, msg, ok := domainErrorIn(lz, err)
	switch {
	case !ok:
		return err
	case code == "not_configured":
		h.setFlash(c, "error", lz.T("channels.not_done_no_token", "Channel", label, "Done", done, "Then", lz.T("errors.admin.save_token_first")))
	default:
		h.setFlash(c, "error", lz.T("channels.not_done", "Channel", label, "Done", done, "Reason", msg))
	}
	return nil
}

// isCode reports whether err answers with the domain error code.
func isCode(err error, code string) bool {
	_, c, _, ok := domainErrorIn(i18n.For(i18n.Default), err) // the code alone: any language
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
		p.Title = views.LineTitle(c.Request().Context(), string(a))
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
			h.setFlash(c, "error", loc(c).T("lines.failed_ours", "Channel", channelNamed(loc(c), ch), "Done", loc(c).T(la.done)))
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
		return h.render(c, http.StatusOK, views.ChannelLinePage(h.usersPage(c, views.LineTitle(c.Request().Context(), string(a))), d))
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
