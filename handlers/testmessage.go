package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/views"
)

// The test message: a linked channel's owner (on the connect page) or an
// admin (on the channel's test message page) sends the app's fixed text
// from the channel to a number they type, and sees whether it went out.
// provision decides everything (the number, the state, the limit of 5 an
// hour); a page shows the result in plain words. With HTMX the card swaps
// in place; without it the form posts and the page comes back with a
// flash.

func custTestMessagePath(id int64) string {
	return "/app/channels/" + strconv.FormatInt(id, 10) + "/test-message"
}

// testMessageForm is what the card's form sends.
type testMessageForm struct{ To string }

func parseTestMessageForm(c echo.Context) testMessageForm {
	return testMessageForm{To: strings.TrimSpace(c.FormValue("to"))}
}

// testMessageCard is the card of ch posting to action: shown when the
// channel may send one, with how many are left this hour.
func (h *Handler) testMessageCard(c echo.Context, ch *models.Channel, action string) views.TestMessageCard {
	card := views.TestMessageCard{Show: h.svc.View(ch).Can.TestMessage, Action: action, CSRF: h.csrfToken(c), Text: h.svc.TestMessageText(c.Request().Context())}
	if card.Show {
		h.fillTestMessagesLeft(c.Request().Context(), &card, ch.ID)
	}
	return card
}

// fillTestMessagesLeft says how many more may be sent this hour, or when
// the next one is allowed.
func (h *Handler) fillTestMessagesLeft(ctx context.Context, card *views.TestMessageCard, id int64) {
	left, next, err := h.svc.TestMessagesLeft(ctx, id)
	switch {
	case err != nil:
		h.log.WarnContext(ctx, "test messages left unknown", "channel", id, "err", err)
	case left == 0:
		card.Limit = nextTestMessageIn(ctx, next.Sub(h.svc.Now()))
	default:
		card.Left = i18n.N(ctx, "testmsg.left", int64(left))
	}
}

// nextTestMessageIn says, in plain words, when the next test message is
// allowed.
func nextTestMessageIn(ctx context.Context, d time.Duration) string {
	return i18n.T(ctx, "testmsg.limit", "Wait", waitText(i18n.From(ctx), d))
}

// custTestMessageSlot is the connect page's card of ch, whose status
// step is step: the card once the phone is linked, else a slot that
// fetches it when the line connects.
func (h *Handler) custTestMessageSlot(c echo.Context, ch *models.Channel, step string) views.TestMessageCard {
	if step == views.ConnectConnected && !ch.Linked {
		// The status has just seen the link: read it as recorded.
		if fresh, err := h.store.ChannelByID(c.Request().Context(), ch.ID); err == nil {
			ch = fresh
		}
	}
	card := h.testMessageCard(c, ch, custTestMessagePath(ch.ID))
	if !card.Show && connectCanPair(step) {
		card.LoadURL = custTestMessagePath(ch.ID)
	}
	return card
}

// sendTestMessage sends the test message of the form to ch and returns
// the card showing the outcome, the status to answer with, and the flash
// a page without JavaScript shows.
func (h *Handler) sendTestMessage(c echo.Context, ch *models.Channel, action string) (card views.TestMessageCard, status int, kind, text string, err error) {
	ctx := c.Request().Context()
	f := parseTestMessageForm(c)
	res, err := h.svc.SendTestMessage(ctx, actor(c), ch.ID, f.To)
	if fresh, ferr := h.store.ChannelByID(ctx, ch.ID); ferr == nil {
		ch = fresh
	}
	card = h.testMessageCard(c, ch, action)
	card.To, status = f.To, http.StatusOK
	var fe provision.FieldErrors
	var rl *provision.RetryLaterError
	switch {
	case err == nil && res.Sent:
		card.Sent, card.Result = true, loc(c).T("testmsg.sent", "To", res.To)
		return card, status, "success", loc(c).T("testmsg.sent_flash", "To", res.To), nil
	case err == nil:
		card.Result = loc(c).T("testmsg.not_sent_to", "To", res.To, "Reason", res.Reason)
		return card, status, "error", card.Result, nil
	case errors.As(err, &fe):
		card.Errors = fe
		return card, http.StatusUnprocessableEntity, "", "", nil
	case errors.As(err, &rl):
		card.Left, card.Limit = "", nextTestMessageIn(ctx, rl.After)
		return card, status, "warning", card.Limit, nil
	case errors.Is(err, models.ErrNotFound):
		return card, 0, "", "", echo.NewHTTPError(http.StatusNotFound)
	}
	_, _, msg, ok := domainErrorIn(loc(c), err)
	if !ok {
		return card, 0, "", "", err
	}
	card.Result = loc(c).T("testmsg.not_sent", "Reason", msg)
	return card, status, "error", card.Result, nil
}

// From the connect page (the channel's owner).

// showCustomerTestMessage is the slot's fetch once the line connects:
// the card (or the slot again, while the phone is not linked). Without
// HTMX it is the connect page.
func (h *Handler) showCustomerTestMessage(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	if !fromHTMX(c) {
		return redirect(c, connectPath(ch.ID, ""))
	}
	return h.render(c, http.StatusOK, views.TestMessageSlot(h.custTestMessageSlot(c, ch, views.ConnectConnected)))
}

func (h *Handler) sendCustomerTestMessage(c echo.Context) error {
	ch, err := h.custOwnedChannel(c, false)
	if err != nil {
		return err
	}
	card, status, kind, text, err := h.sendTestMessage(c, ch, custTestMessagePath(ch.ID))
	switch {
	case err != nil:
		return err
	case fromHTMX(c):
		return h.render(c, status, views.TestMessageCardPartial(card))
	case status == http.StatusUnprocessableEntity:
		v := h.connectView(c, ch)
		v.TestMessage = card
		return h.render(c, status, views.ConnectPage(h.custPage(c, loc(c).T("connect.page_title")), v))
	}
	h.setFlash(c, kind, text)
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, connectPath(ch.ID, "#test-message"))
}

// From the admin's test message page of a channel.

// testMessageBusy says why no test message can be sent from a channel
// now, or "".
func testMessageBusy(c echo.Context, v provision.ChannelView) string {
	switch err := provision.CheckState(v.Channel, provision.ActTestMessage); {
	case err == nil && !v.Can.TestMessage:
		return loc(c).T("testmsg.busy.expired")
	case err == nil:
		return ""
	case errors.Is(err, provision.ErrNotLinked):
		return loc(c).T("testmsg.busy.not_linked")
	case errors.Is(err, provision.ErrChannelStopped):
		return loc(c).T("testmsg.busy.stopped")
	}
	return loc(c).T("testmsg.busy.state", "State", strings.ToLower(loc(c).T(v.LabelID)))
}

// adminBack is where the admin's page returns: the page it was opened
// from (an admin page), else the channel list.
func adminBack(c echo.Context) string {
	b := c.QueryParam("back")
	if strings.HasPrefix(b, "/admin/") && !strings.ContainsAny(b, "\\") && !strings.HasPrefix(b, "//") {
		return b
	}
	return "/admin/channels"
}

func (h *Handler) testMessagePage(c echo.Context, ch *models.Channel, card *views.TestMessageCard) (views.Page, views.TestMessagePage, error) {
	owner, err := h.store.UserByID(c.Request().Context(), ch.UserID)
	if err != nil {
		return views.Page{}, views.TestMessagePage{}, err
	}
	v := h.svc.View(ch)
	action := channelActionPath(ch.ID, "test-message")
	if b := c.QueryParam("back"); b != "" {
		action += "?back=" + url.QueryEscape(adminBack(c))
	}
	d := views.TestMessagePage{ID: ch.ID, Name: ch.Name, State: badgeOf(v), OwnerID: owner.ID, OwnerEmail: owner.Email,
		Busy: testMessageBusy(c, v), Back: adminBack(c), Card: h.testMessageCard(c, ch, action)}
	if card != nil {
		d.Card = *card
	}
	p := h.channelsPage(c)
	p.Title = loc(c).T("testmsg.admin_title")
	return p, d, nil
}

func (h *Handler) showAdminTestMessage(c echo.Context) error {
	ch, err := h.channelParam(c)
	if err != nil {
		return err
	}
	p, d, err := h.testMessagePage(c, ch, nil)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.TestMessageAdminPage(p, d))
}

func (h *Handler) sendAdminTestMessage(c echo.Context) error {
	ch, err := h.channelParam(c)
	if err != nil {
		return err
	}
	action := channelActionPath(ch.ID, "test-message")
	if c.QueryParam("back") != "" {
		action += "?back=" + url.QueryEscape(adminBack(c))
	}
	card, status, kind, text, err := h.sendTestMessage(c, ch, action)
	switch {
	case err != nil:
		return err
	case fromHTMX(c):
		return h.render(c, status, views.TestMessageCardPartial(card))
	case status == http.StatusUnprocessableEntity:
		p, d, err := h.testMessagePage(c, ch, &card)
		if err != nil {
			return err
		}
		return h.render(c, status, views.TestMessageAdminPage(p, d))
	}
	h.setFlash(c, kind, channelNamed(loc(c), ch)+": "+text)
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, action)
}

// From the API: POST /api/channels/{id}/test-message (the owner or an
// admin).

type apiTestMessageBody struct {
	To string `json:"to"`
}

// apiTestMessage is the answer of a test message that went out.
type apiTestMessage struct {
	Status string `json:"status"` // "sent"
	To     string `json:"to"`     // most digits hidden
	Text   string `json:"text"`
	Left   int    `json:"left"` // how many more this hour
}

func (h *Handler) apiSendTestMessage(c echo.Context) error {
	ch, err := h.apiChannelOfCaller(c)
	if err != nil {
		return err
	}
	var body apiTestMessageBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	res, err := h.svc.SendTestMessage(c.Request().Context(), actor(c), ch.ID, body.To)
	switch {
	case err != nil:
		return apiFail(c, err)
	case !res.Sent:
		return &APIError{Status: http.StatusBadGateway, Code: "send_failed", Message: res.Reason}
	}
	return c.JSON(http.StatusCreated, apiTestMessage{Status: "sent", To: res.To, Text: h.svc.TestMessageText(c.Request().Context()), Left: res.Left})
}
