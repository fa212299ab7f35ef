package whapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"whapidesk/whapi"
)

// A webhook that is not ours is sent back exactly as WHAPI gave it, with
// the members the client does not model, when the list is patched.
func TestForeignWebhookRoundTripsUnchanged(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" {
			answerWith(200, fixture(t, "settings.json"))(w, r)
			return
		}
		answerWith(200, fixture(t, "settings_update.json"))(w, r)
	})
	c, _ := newClient(t, srv)
	st, err := c.GetSettings(t.Context(), channelToken)
	if err != nil {
		t.Fatal(err)
	}
	ours := whapi.Webhook{URL: "https://desk.example.com/hooks/whapi/s3cr3tS3cr3tS3cr3t", Mode: whapi.HookModeBody,
		Events: []whapi.WebhookEvent{{Type: whapi.HookChannel, Method: whapi.HookPost}}}
	if _, err := c.PatchSettings(t.Context(), channelToken, whapi.SettingsPatch{Webhooks: append(st.Webhooks, ours)}); err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Webhooks []json.RawMessage `json:"webhooks"`
	}
	body := rec.last(t).Body
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatal(err)
	}
	var wholeFixture struct {
		Webhooks []json.RawMessage `json:"webhooks"`
	}
	if err := json.Unmarshal(fixture(t, "settings.json"), &wholeFixture); err != nil {
		t.Fatal(err)
	}
	if len(sent.Webhooks) != 2 || compact(t, sent.Webhooks[0]) != compact(t, wholeFixture.Webhooks[0]) {
		t.Fatalf("sent %s, want the CRM's webhook as read, then ours", body)
	}
	for _, member := range []string{"webhook_max_age_seconds", "send_undecrypted_ad", "crm-key"} {
		if !strings.Contains(string(sent.Webhooks[0]), member) {
			t.Errorf("the CRM's webhook lost %s: %s", member, sent.Webhooks[0])
		}
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil || len(keys) != 1 {
		t.Fatalf("PATCH body %s: want only webhooks, so no other setting changes", body)
	}
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSettingsPatchSendsOnlyWhatIsSet(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    whapi.SettingsPatch
		want string
	}{
		{"nothing", whapi.SettingsPatch{}, `{}`},
		{"no webhooks at all", whapi.SettingsPatch{Webhooks: []whapi.Webhook{}}, `{"webhooks":[]}`},
	} {
		b, err := json.Marshal(tc.p)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: %s %v, want %s", tc.name, b, err, tc.want)
		}
	}
}

// Our webhook's URL carries its secret: printing or logging a Webhook
// shows only the host, and an error whose message echoes the URL does not
// carry it.
func TestWebhookSecretIsNeverPrinted(t *testing.T) {
	const secret = "Kq3mZ9xW2vB7nL4pR8sT1yU6"
	w := whapi.Webhook{URL: "https://desk.example.com/hooks/whapi/" + secret, Mode: "body"}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("hook", "w", w)
	for _, s := range []string{fmt.Sprint(w), fmt.Sprintf("%v %+v %#v", w, w, w), logged.String()} {
		if strings.Contains(s, secret) || !strings.Contains(s, "desk.example.com") {
			t.Errorf("printed %q", s)
		}
	}

	srv, _ := newServer(t, answerWith(400, []byte(`{"error":{"code":400,"message":"Wrong settings format: `+
		`https://desk.example.com/hooks/whapi/`+secret+` is not reachable (`+secret+`)"}}`)))
	c, _ := newClient(t, srv)
	_, err := c.PatchSettings(t.Context(), channelToken, whapi.SettingsPatch{Webhooks: []whapi.Webhook{w}})
	if !errors.Is(err, whapi.ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "Wrong settings format") {
		t.Fatalf("error %q", err)
	}
}

func TestParseWebhook(t *testing.T) {
	p, err := whapi.ParseWebhook(fixture(t, "webhook_channel_post.json"))
	if err != nil {
		t.Fatal(err)
	}
	at, ok := p.Health.At()
	if p.Type != "channel" || p.Method != "post" || p.ChannelID != "MANTIS-M72HC" || p.Health.Status.Text != "QR" ||
		!ok || !at.Equal(time.Unix(1713774883+78, 0)) {
		t.Fatalf("parsed %+v, at %v %v", p, at, ok)
	}
	if p, err = whapi.ParseWebhook(fixture(t, "webhook_users_post.json")); err != nil || p.User.Phone() != "61371989950" || p.Method != "post" {
		t.Fatalf("parsed %+v, %v", p, err)
	}

	good := []struct{ name, body, typ, method string }{
		{"method named as in the spec", `{"user":{"id":"1234567","name":"x"},"event":{"type":"users","method":"delete"}}`, "users", "delete"},
		{"both names agreeing", `{"user":{"id":"1234567","name":"x"},"event":{"type":"users","event":"post","method":"post"}}`, "users", "post"},
		{"QR code", `{"qr":{"status":"OK","base64":"data:image/png;base64,AAAA","expire":20},"event":{"type":"channel","event":"patch"}}`, "channel", "patch"},
		{"an event whapidesk does not read", `{"messages":[{"x":1}],"event":{"type":"messages","event":"post"}}`, "messages", "post"},
	}
	for _, tc := range good {
		p, err := whapi.ParseWebhook([]byte(tc.body))
		if err != nil || p.Type != tc.typ || p.Method != tc.method {
			t.Errorf("%s: %+v, %v", tc.name, p, err)
		}
	}
	bad := []struct{ name, body string }{
		{"empty", ``},
		{"not JSON", `{"event":`},
		{"an array", `[{"event":{"type":"users","event":"post"}}]`},
		{"null", `null`},
		{"trailing data", `{"event":{"type":"x","event":"post"}} {}`},
		{"no event", `{"user":{"id":"1234567"}}`},
		{"event not an object", `{"event":"users.post"}`},
		{"no type", `{"event":{"event":"post"}}`},
		{"no method", `{"event":{"type":"users"}}`},
		{"methods disagree", `{"user":{"id":"1234567"},"event":{"type":"users","event":"post","method":"delete"}}`},
		{"type not a word", `{"event":{"type":"Users<script>","event":"post"}}`},
		{"type too long", `{"event":{"type":"` + strings.Repeat("a", 33) + `","event":"post"}}`},
		{"channel_id a number", `{"event":{"type":"x","event":"post"},"channel_id":5}`},
		{"health missing", `{"event":{"type":"channel","event":"post"}}`},
		{"health without status", `{"health":{"start_at":1,"uptime":1},"event":{"type":"channel","event":"post"}}`},
		{"health a string", `{"health":"AUTH","event":{"type":"channel","event":"post"}}`},
		{"start_at a string", `{"health":{"start_at":"1","status":{"text":"AUTH"}},"event":{"type":"channel","event":"post"}}`},
		{"user without id", `{"user":{"name":"x"},"event":{"type":"users","event":"post"}}`},
		{"user null", `{"user":null,"event":{"type":"users","event":"delete"}}`},
		{"qr without status", `{"qr":{"base64":"x"},"event":{"type":"channel","event":"patch"}}`},
	}
	for _, tc := range bad {
		if p, err := whapi.ParseWebhook([]byte(tc.body)); !errors.Is(err, whapi.ErrBadWebhook) {
			t.Errorf("%s: %+v, %v; want ErrBadWebhook", tc.name, p, err)
		}
	}
}

func TestHealthAtAndPhone(t *testing.T) {
	for _, tc := range []struct {
		h  whapi.Health
		ok bool
	}{
		{whapi.Health{StartAt: 1713774883, Uptime: 78.9}, true},
		{whapi.Health{StartAt: 0, Uptime: 78}, false},
		{whapi.Health{StartAt: -5, Uptime: 78}, false},
		{whapi.Health{StartAt: 1e300, Uptime: 0}, false},
		{whapi.Health{StartAt: 1713774883, Uptime: -1}, false},
	} {
		if _, ok := tc.h.At(); ok != tc.ok {
			t.Errorf("%+v: ok %v", tc.h, ok)
		}
	}
	for id, want := range map[string]string{"61371989950": "61371989950", "61371989950@s.whatsapp.net": "61371989950",
		"123": "", "me": "", "+61371989950": "", "": ""} {
		if got := (whapi.WAUser{ID: id}).Phone(); got != want {
			t.Errorf("Phone(%q) = %q, want %q", id, got, want)
		}
	}
}
