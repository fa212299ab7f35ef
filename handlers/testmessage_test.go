package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

// linkedFix is an app on the manual clock with a customer whose channel
// has a phone linked, as the connect page records it.
func linkedFix(t *testing.T) (*custFix, *models.User, *models.Channel) {
	t.Helper()
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	f.svc.SetBrand("Acme Lines")
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	f.link(ch, "97313300383")
	f.advance(3 * time.Second)
	if _, err := f.svc.ConnectState(context.Background(), ch.ID); err != nil {
		t.Fatal(err)
	}
	if ch = f.reload(ch); !ch.Linked {
		t.Fatal("the channel is not recorded as linked")
	}
	return f, u, ch
}

// htmxPost posts a form as HTMX does, with the CSRF token of page.
func htmxPost(c *testClient, page, action string, form url.Values) result {
	c.t.Helper()
	c.header.Set("HX-Request", "true")
	defer c.header.Del("HX-Request")
	return c.submit(page, action, form)
}

// The owner of a linked channel finds the card on the connect page and
// sends: a bad number is an error next to the field and sends nothing;
// a good one goes out with the fixed, branded text, and the page says so
// in plain words, with HTMX (the card alone) and without (a flash).
func TestCustomerTestMessage(t *testing.T) {
	f, _, ch := linkedFix(t)
	c := f.signedIn("alice@example.com")
	page, action := connectPath(ch.ID, ""), custTestMessagePath(ch.ID)

	r := c.get(page)
	custWant(t, r, http.StatusOK)
	if !strings.Contains(r.body, `data-testid="test-message"`) {
		t.Fatalf("no test message card on the connect page of a linked channel:\n%s", custText(r.body))
	}
	custHas(t, r.body, "Send a test message", "Your line is connected. This is a test message from Acme Lines.", "You can send 5 more test messages this hour.")

	// A bad number: the error is next to the field, nothing is sent.
	r = c.submit(page, action, url.Values{"to": {"0770 0900 123"}})
	custWant(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, `data-testid="error-test-message-to"`) || !strings.Contains(r.body, `value="0770 0900 123"`) {
		t.Fatalf("no error next to the number field:\n%s", custText(r.body))
	}
	custHas(t, r.body, "Start with the country code, not 0")
	r = htmxPost(c, page, action, url.Values{"to": {"12"}})
	custWant(t, r, http.StatusUnprocessableEntity)
	if strings.Contains(r.body, "<html") || !strings.Contains(r.body, `data-testid="error-test-message-to"`) {
		t.Fatalf("HTMX field error is not the card with the error:\n%s", r.body)
	}
	if n := len(f.sim.Messages()); n != 0 {
		t.Fatalf("%d messages sent for bad numbers", n)
	}

	// With HTMX: the card comes back with the result.
	r = htmxPost(c, page, action, url.Values{"to": {"+44 7700 900123"}})
	custWant(t, r, http.StatusOK)
	if strings.Contains(r.body, "<html") || !strings.Contains(r.body, `data-outcome="sent"`) {
		t.Fatalf("HTMX answer is not the card with the result:\n%s", r.body)
	}
	custHas(t, r.body, "Sent to +44••••••••23.", "You can send 4 more test messages this hour.")
	msgs := f.sim.Messages()
	if len(msgs) != 1 || msgs[0].To != "447700900123" || msgs[0].Body != "Your line is connected. This is a test message from Acme Lines." {
		t.Fatalf("WHAPI got %+v", msgs)
	}

	// Without JavaScript: back to the page, with a flash.
	r = c.submit(page, action, url.Values{"to": {"+44 7700 900123"}})
	custWant(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != page+"#test-message" {
		t.Fatalf("redirect to %q", got)
	}
	custHas(t, c.get(page).body, "Test message sent to +44••••••••23.")

	// A failure in plain words: no WHAPI word, status or text.
	f.sim.InjectFault(whapisim.Fault{Method: "POST", Path: "/messages/text", Kind: whapisim.FaultStatus, Status: 402, Message: "Trial version limit exceeded"})
	r = htmxPost(c, page, action, url.Values{"to": {"+44 7700 900123"}})
	custWant(t, r, http.StatusOK)
	custHas(t, r.body, "Not sent to +44••••••••23. This line's free trial allows no more messages to new numbers for now.")
	custHasNot(t, r.body, "WHAPI", "402", "Trial version")

	// The limit: two more, then the sixth is refused in plain words.
	for range 2 {
		custWant(t, htmxPost(c, page, action, url.Values{"to": {"447700900123"}}), http.StatusOK)
	}
	before := len(f.sim.Messages())
	r = htmxPost(c, page, action, url.Values{"to": {"447700900123"}})
	custWant(t, r, http.StatusOK)
	custHas(t, r.body, "You can send another test message in 60 minutes.")
	if len(f.sim.Messages()) != before {
		t.Fatal("a sixth message went out")
	}
	f.advance(45 * time.Minute)
	custHas(t, c.get(page).body, "You can send another test message in 15 minutes.")
}

// The card shows only for a linked channel; before the phone is linked
// the page holds a slot that fetches it once the line connects.
func TestCustomerTestMessageNotLinked(t *testing.T) {
	f := newCustFix(t, func(o *custOptions) { o.manualClock = true })
	u := f.customer("alice@example.com", true)
	ch := f.channel(u, "Sales")
	c := f.signedIn("alice@example.com")
	page, action := connectPath(ch.ID, ""), custTestMessagePath(ch.ID)
	r := c.get(page)
	if strings.Contains(r.body, `data-testid="test-message"`) || !strings.Contains(r.body, `hx-trigger="line-connected from:body"`) {
		t.Fatalf("a channel without a phone: card or no slot:\n%s", r.body)
	}
	r = c.submit(page, action, url.Values{"to": {"+44 7700 900123"}})
	custWant(t, r, http.StatusSeeOther)
	custHas(t, c.get(page).body, "Not sent: no phone is linked to the channel: link one first.")
	if n := len(f.sim.Messages()); n != 0 {
		t.Fatalf("%d messages sent", n)
	}
	// Once linked, the poll that sees it tells the slot to fetch the card.
	f.link(ch, "97313300383")
	f.advance(3 * time.Second)
	c.header.Set("HX-Request", "true")
	r = c.get(connectPath(ch.ID, "/status"))
	if got := r.Header.Get("HX-Trigger"); got != "line-connected" {
		t.Fatalf("HX-Trigger %q after the link", got)
	}
	r = c.get(action)
	c.header.Del("HX-Request")
	if !strings.Contains(r.body, `data-testid="test-message"`) || strings.Contains(r.body, "<html") {
		t.Fatalf("the slot's fetch is not the card:\n%s", r.body)
	}
}

// Another customer's channel is not found, and nothing is sent from it.
func TestCustomerTestMessageOthersChannel(t *testing.T) {
	f, _, ch := linkedFix(t)
	f.customer("bob@example.com", true)
	bob := f.signedIn("bob@example.com")
	for _, r := range []result{
		bob.get(custTestMessagePath(ch.ID)),
		bob.submit("/app", custTestMessagePath(ch.ID), url.Values{"to": {"+44 7700 900123"}}),
	} {
		custWant(t, r, http.StatusNotFound)
	}
	if n := len(f.sim.Messages()); n != 0 {
		t.Fatalf("%d messages sent from another's channel", n)
	}
}

// An admin opens a linked channel's test message page from the channel
// list or the customer's page and sends from it; a channel without a
// phone says why not and offers no form.
func TestAdminTestMessage(t *testing.T) {
	f, u, ch := linkedFix(t)
	f.newUser(models.RoleAdmin, "admin@example.com")
	a := f.signedIn("admin@example.com")
	page := adminChannelPath(ch.ID, "test-message")
	if !strings.Contains(rowOf(t, a.get("/admin/channels").body, ch.ID), page) {
		t.Fatal("no test message link on the channel's row")
	}
	if !strings.Contains(a.get(userPath(u.ID)).body, page+"?back="+userPath(u.ID)) {
		t.Fatal("no test message link on the customer's page")
	}
	r := a.get(page)
	custWant(t, r, http.StatusOK)
	custHas(t, r.body, "Send a test message", "alice@example.com")
	r = a.submit(page, page, url.Values{"to": {"+1 (555) 123-4567"}})
	custWant(t, r, http.StatusSeeOther)
	if !strings.Contains(flashText(a.get(r.Header.Get("Location")).body), "Test message sent to +15•••••••67.") {
		t.Fatal("no flash of the send")
	}
	r = a.submit(page, page, url.Values{"to": {"not a number"}})
	custWant(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, `data-testid="error-test-message-to"`) {
		t.Fatal("no error next to the field")
	}
	if m := f.sim.Messages(); len(m) != 1 || m[0].To != "15551234567" {
		t.Fatalf("WHAPI got %+v", m)
	}

	other := f.channel(u, "Support")
	r = a.get(adminChannelPath(other.ID, "test-message"))
	custHas(t, r.body, "No phone is linked to it, so nothing can be sent from it.")
	if strings.Contains(r.body, `data-testid="test-message-send"`) {
		t.Fatal("a form to send from a channel without a phone")
	}
	if strings.Contains(rowOf(t, a.get("/admin/channels").body, other.ID), "test-message") {
		t.Fatal("a test message link on a channel without a phone")
	}
}

// The API: 201 sent, 422 with the field, 404 for another's channel, 409
// without a phone, 429 with when to retry, 502 with a plain reason.
func TestTestMessageAPI(t *testing.T) {
	f, u, ch := linkedFix(t)
	ctx := context.Background()
	key, _, err := f.store.CreateAPIKey(ctx, models.SystemActor, u.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	bob := f.customer("bob@example.com", true)
	bobKey, _, err := f.store.CreateAPIKey(ctx, models.SystemActor, bob.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	c := f.client()
	post := func(id int64, key, body string) result {
		return c.jsonReq(http.MethodPost, "/api/channels/"+strconv.FormatInt(id, 10)+"/test-message", body, "Authorization", "Bearer "+key)
	}
	r := post(ch.ID, key, `{"to":"+44 7700 900123"}`)
	apiWant(t, r, http.StatusCreated, "")
	got := apiDecode[apiTestMessage](t, r)
	if got.Status != "sent" || got.To != "+44••••••••23" || got.Left != 4 || got.Text != "Your line is connected. This is a test message from Acme Lines." {
		t.Fatalf("answer %s", r.body)
	}
	if e := apiWant(t, post(ch.ID, key, `{"to":"12"}`), http.StatusUnprocessableEntity, "invalid_input"); e.Error.Fields["to"] == "" {
		t.Fatal("no field error for to")
	}
	apiWant(t, post(ch.ID, bobKey, `{"to":"447700900123"}`), http.StatusNotFound, "not_found")
	apiWant(t, post(ch.ID, key, `{"to":"447700900123","body":"spam"}`), http.StatusBadRequest, "bad_json")
	unlinked := f.channel(u, "Support")
	apiWant(t, post(unlinked.ID, key, `{"to":"447700900123"}`), http.StatusConflict, "not_linked")

	f.sim.InjectFault(whapisim.Fault{Method: "POST", Path: "/messages/text", Kind: whapisim.FaultStatus, Status: 403, Message: "It is forbidden to send to this group/recipient"})
	e := apiWant(t, post(ch.ID, key, `{"to":"447700900123"}`), http.StatusBadGateway, "send_failed")
	if e.Error.Message != "WhatsApp does not allow messages from this line to that number." {
		t.Fatalf("failure message %q", e.Error.Message)
	}
	for range 3 {
		apiWant(t, post(ch.ID, key, `{"to":"447700900123"}`), http.StatusCreated, "")
	}
	f.advance(10 * time.Minute)
	r = post(ch.ID, key, `{"to":"447700900123"}`)
	apiWant(t, r, http.StatusTooManyRequests, "rate_limited")
	if ra := r.Header.Get("Retry-After"); ra != "3000" || !strings.Contains(r.body, `"retry_after":3000`) {
		t.Fatalf("Retry-After %q, body %s", ra, r.body)
	}
	if n := len(f.sim.Messages()); n != 4 {
		t.Fatalf("%d messages sent, want 4", n)
	}
}
