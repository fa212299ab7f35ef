package provision

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"whapidesk/internal/i18n"
	"whapidesk/internal/webhookout"
	"whapidesk/models"
)

// hookEvent is a queued delivery's body, decoded.
type hookEvent struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	CreatedAt string `json:"created_at"`
	Data      struct {
		Channel  *APIChannel `json:"channel"`
		Customer *APIUser    `json:"customer"`
	} `json:"data"`
}

// deliveries returns the endpoint's queued deliveries, oldest first,
// decoded.
func (e *env) deliveries(endpointID int64) []hookEvent {
	e.t.Helper()
	ds, err := e.store.WebhookDeliveries(e.ctx, endpointID, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []hookEvent
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		var ev hookEvent
		if err := json.Unmarshal([]byte(d.Payload), &ev); err != nil {
			e.t.Fatal(err)
		}
		if ev.ID != d.EventID || ev.Type != d.EventType || d.State != models.WebhookQueued {
			e.t.Fatalf("delivery %+v holds %+v", d, ev)
		}
		out = append(out, ev)
	}
	return out
}

func types(evs []hookEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

// Each event is queued, for the endpoints that chose it, by its real
// cause — a customer created (with or without a password), a channel
// created, extended and deleted — carrying the channel or customer as the
// API shows them, and never a WHAPI id or token. A cause that fails
// queues nothing.
func TestEventsAreQueuedByTheirCauses(t *testing.T) {
	e := newEnv(t)
	e.svc.SetWebhookAllowPrivate(false)
	all, secret, err := e.svc.CreateWebhookEndpoint(e.ctx, admin, "https://hooks.example.com/in", webhookout.EventTypes())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, webhookout.SecretPrefix) {
		t.Fatalf("secret %q", secret)
	}
	customers, _, err := e.svc.CreateWebhookEndpoint(e.ctx, admin, "https://crm.example.com/hooks", []string{webhookout.CustomerCreated})
	if err != nil {
		t.Fatal(err)
	}

	u, err := e.svc.CreateUser(e.ctx, admin, models.NewUser{Email: "nour@example.com", Name: "Nour", Password: "long enough pw", Role: models.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateUser(e.ctx, admin, models.NewUser{Email: "boss@example.com", Password: "long enough pw", Role: models.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	// A refused account (the address is taken) queues nothing.
	if _, err := e.svc.CreateUser(e.ctx, admin, models.NewUser{Email: "nour@example.com", Password: "long enough pw", Role: models.RoleCustomer}); err == nil {
		t.Fatal("a second account with one address was created")
	}
	c := e.customer("amal", 1, 30, 30)
	ch := e.create(c.ID, "shop")
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 20, Comment: "paid"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Delete(e.ctx, admin, ch.ID); err != nil {
		t.Fatal(err)
	}

	got := e.deliveries(all.ID)
	// e.customer creates its account through the store, not the workflow.
	want := []string{webhookout.CustomerCreated, webhookout.ChannelCreated, webhookout.ChannelExtended, webhookout.ChannelDeleted}
	if !slices.Equal(types(got), want) {
		t.Fatalf("events %v, want %v", types(got), want)
	}
	if cu := got[0].Data.Customer; cu == nil || cu.ID != u.ID || cu.Email != "nour@example.com" || cu.Role != "customer" {
		t.Errorf("customer.created data %+v", cu)
	}
	for i, status := range map[int]string{1: "trial", 2: "trial", 3: "deleted"} {
		gc := got[i].Data.Channel
		if gc == nil || gc.ID != ch.ID || gc.Name != "shop" || gc.Status != status {
			t.Errorf("%s data %+v, want channel %d as %s", got[i].Type, gc, ch.ID, status)
		}
	}
	if got[2].Data.Channel.DaysAllocated != 20 {
		t.Errorf("channel.extended shows %d days allocated, want 20", got[2].Data.Channel.DaysAllocated)
	}
	// The channel as the API shows it now is what the last event carried
	// (but for what changed since: nothing).
	sent, _ := json.Marshal(got[3].Data.Channel)
	if api, _ := json.Marshal(ChannelJSON(e.channel(ch.ID))); string(sent) != string(api) {
		t.Errorf("channel.deleted carries %s, the API shows %s", sent, api)
	}
	ids := map[string]bool{}
	for _, ev := range got {
		ids[ev.ID] = true
	}
	if len(ids) != len(got) {
		t.Errorf("event ids repeat: %v", ids)
	}
	// Nothing of WHAPI's in any payload.
	ds, _ := e.store.WebhookDeliveries(e.ctx, all.ID, 100)
	remote := e.channel(ch.ID).RemoteID()
	for _, d := range ds {
		if strings.Contains(d.Payload, remote) || strings.Contains(strings.ToLower(d.Payload), "whapi") || strings.Contains(d.Payload, "token") {
			t.Errorf("payload shows WHAPI's: %s", d.Payload)
		}
	}
	if got := types(e.deliveries(customers.ID)); !slices.Equal(got, []string{webhookout.CustomerCreated}) {
		t.Errorf("the customers-only endpoint got %v", got)
	}
	if a, b := e.deliveries(customers.ID)[0].ID, got[0].ID; a != b {
		t.Errorf("one event, two ids: %s and %s", a, b)
	}
}

// An endpoint's address and events are checked: private and loopback
// targets are refused unless allowed, and so are unknown events.
func TestWebhookEndpointInputIsChecked(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		url    string
		events []string
		field  string
	}{
		{"http://127.0.0.1:9000/hook", []string{webhookout.ChannelCreated}, "url"},
		{"https://10.1.2.3/hook", []string{webhookout.ChannelCreated}, "url"},
		{"https://169.254.169.254/latest", []string{webhookout.ChannelCreated}, "url"},
		{"not a url", []string{webhookout.ChannelCreated}, "url"},
		{"https://hooks.example.com/in", nil, "events"},
		{"https://hooks.example.com/in", []string{"channel.exploded"}, "events"},
	}
	for _, c := range cases {
		_, _, err := e.svc.CreateWebhookEndpoint(e.ctx, admin, c.url, c.events)
		var fe FieldErrors
		if !errors.As(err, &fe) || fe[c.field] == "" {
			t.Errorf("%s %v: %v, want a message for %s", c.url, c.events, err, c.field)
		}
	}
	if eps, _ := e.store.WebhookEndpoints(e.ctx); len(eps) != 0 {
		t.Fatalf("refused endpoints were stored: %+v", eps)
	}
	e.svc.SetWebhookAllowPrivate(true)
	if _, _, err := e.svc.CreateWebhookEndpoint(e.ctx, admin, "http://127.0.0.1:9000/hook", []string{webhookout.ChannelCreated}); err != nil {
		t.Fatalf("with private targets allowed: %v", err)
	}
}

// A phone linked and unlinked, as a poll sees it, is channel.linked and
// channel.unlinked with the channel as it became; a channel whose paid
// time ends with no top-up to extend it is channel.expiring once per
// threshold, however often the reminders run.
func TestLinkAndExpiryEvents(t *testing.T) {
	e := newEnv(t)
	ep, _, err := e.svc.CreateWebhookEndpoint(e.ctx, admin, "https://hooks.example.com/in",
		[]string{webhookout.ChannelLinked, webhookout.ChannelUnlinked, webhookout.ChannelExpiring})
	if err != nil {
		t.Fatal(err)
	}
	ch := e.linked("amal")
	e.unlink(ch)
	e.relink(ch)
	got := e.deliveries(ep.ID)
	want := []string{webhookout.ChannelLinked, webhookout.ChannelUnlinked, webhookout.ChannelLinked}
	if !slices.Equal(types(got), want) {
		t.Fatalf("events %v, want %v", types(got), want)
	}
	for i, linked := range []bool{true, false, true} {
		if c := got[i].Data.Channel; c == nil || c.ID != ch.ID || c.Linked != linked {
			t.Errorf("%s carries %+v, want channel %d linked=%v", got[i].Type, c, ch.ID, linked)
		}
	}

	// Manual mode: the paid time ends with no top-up to extend it.
	if _, err := e.svc.Extend(e.ctx, admin, ExtendInput{ChannelID: ch.ID, Days: 5, Comment: "paid"}); err != nil {
		t.Fatal(err)
	}
	till := *e.channel(ch.ID).ActiveTill
	for _, before := range []time.Duration{6 * 24 * time.Hour, 6*24*time.Hour - time.Hour, 2 * 24 * time.Hour} {
		e.clock.Set(till.Add(-before))
		if _, err := e.svc.ExpiryReminders(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	var expiring []hookEvent
	for _, ev := range e.deliveries(ep.ID) {
		if ev.Type == webhookout.ChannelExpiring {
			expiring = append(expiring, ev)
		}
	}
	if len(expiring) != 2 || expiring[0].ID == expiring[1].ID {
		t.Fatalf("%d channel.expiring events (7 days, 3 days), want 2 with their own ids: %+v", len(expiring), expiring)
	}
	if c := expiring[0].Data.Channel; c == nil || c.ID != ch.ID {
		t.Errorf("channel.expiring carries %+v", c)
	}
}

// Every refusal of an endpoint's address is in the catalog (so in every
// language, TestCatalogIsComplete), English says just what webhookout
// says, and an Arabic reader reads it in Arabic — the form's field and the
// API's message alike.
func TestWebhookURLRefusalsInTheReadersLanguage(t *testing.T) {
	for _, p := range webhookout.URLProblems() {
		if !i18n.Has("prov.webhook.url." + p) {
			t.Errorf("no words for the refusal %q", p)
		}
	}
	for _, r := range webhookout.PrivateReasons() {
		if !i18n.Has("prov.webhook.reason." + reasonKey(r)) {
			t.Errorf("no words for the kind of address %q", r)
		}
	}
	ar := i18n.With(context.Background(), i18n.For("ar"))
	for _, raw := range []string{"", "ftp://hooks.example.com/x", "http://hooks.example.com/x", "hooks.example.com/x", "https://",
		"https://u:p@hooks.example.com/x", "https://hooks.example.com/x#a", "https://hooks.example.com:99999/x",
		"https://localhost/x", "https://10.0.0.1/x", "https://[::1]/x", "https://100.64.0.1/x", "https://192.0.0.8/x",
		"https://hooks.example.com/" + strings.Repeat("a", webhookout.MaxURLLength), "https://%zz"} {
		_, err := webhookout.ValidateURL(raw, false)
		if err == nil {
			t.Fatalf("%q was accepted", raw)
		}
		if en := webhookURLMsg(context.Background(), err); en != err.Error() {
			t.Errorf("%q in English: %q, want %q", raw, en, err.Error())
		}
		a := webhookURLMsg(ar, err)
		if a == err.Error() || !strings.ContainsFunc(a, func(r rune) bool { return unicode.Is(unicode.Arabic, r) }) {
			t.Errorf("%q in Arabic: %q", raw, a)
		}
	}
}
