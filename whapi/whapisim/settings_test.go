package whapisim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type wireSettings map[string]json.RawMessage

func (e *env) settings(token string) wireSettings {
	e.t.Helper()
	r := e.gate(token, "GET", "/settings")
	if r.status != http.StatusOK {
		e.t.Fatalf("GET /settings: %d %s", r.status, r.body)
	}
	var s wireSettings
	decode(e.t, r, &s)
	return s
}

func (e *env) patchSettings(token string, body any) resp {
	e.t.Helper()
	return e.request("PATCH", "/settings", "Bearer "+token, body)
}

func TestSettingsReplaceWhatIsSentAndKeepTheRest(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: -1})
	ch := e.create("settings")
	other := e.create("other")
	fresh := e.settings(ch.Token)
	if string(fresh["webhooks"]) != "[]" || string(fresh["pdo_sync"]) != "true" {
		t.Fatalf("a new channel's settings: %v", fresh)
	}

	crm := map[string]any{"url": "https://crm.example.com/in", "events": []map[string]string{{"type": "messages", "method": "post"}},
		"mode": "method", "headers": map[string]string{"X-Key": "k"}, "webhook_max_age_seconds": 3600}
	r := e.patchSettings(ch.Token, map[string]any{"webhooks": []any{crm}, "callback_backoff_delay_ms": 5000})
	if r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	var up struct {
		Before  wireSettings `json:"before_update"`
		After   wireSettings `json:"after_update"`
		Changes []string     `json:"changes"`
	}
	decode(t, r, &up)
	if strings.Join(up.Changes, ",") != "callback_backoff_delay_ms,webhooks" || string(up.Before["webhooks"]) != "[]" {
		t.Fatalf("answer %s", r.body)
	}
	after := e.settings(ch.Token)
	if string(after["callback_backoff_delay_ms"]) != "5000" || string(after["pdo_sync"]) != "true" ||
		string(after["media"]) != string(fresh["media"]) || !strings.Contains(string(after["webhooks"]), "crm.example.com") {
		t.Fatalf("after: %v", after)
	}

	// A webhooks list replaces the whole list: a PATCH with only a new
	// webhook drops the CRM's.
	mine := map[string]any{"url": "https://desk.example.com/hooks/x", "events": []map[string]string{{"type": "users", "method": "post"}}}
	if r := e.patchSettings(ch.Token, map[string]any{"webhooks": []any{mine}}); r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	after = e.settings(ch.Token)
	if strings.Contains(string(after["webhooks"]), "crm.example.com") || string(after["callback_backoff_delay_ms"]) != "5000" {
		t.Fatalf("after the second PATCH: %v", after)
	}
	// Defaults are filled in: mode body.
	var hooks []map[string]json.RawMessage
	if err := json.Unmarshal(after["webhooks"], &hooks); err != nil || len(hooks) != 1 || string(hooks[0]["mode"]) != `"body"` {
		t.Fatalf("webhooks %s", after["webhooks"])
	}
	// The same PATCH again changes nothing.
	var again struct{ Changes []string }
	decode(t, e.patchSettings(ch.Token, map[string]any{"webhooks": []any{mine}}), &again)
	if len(again.Changes) != 0 {
		t.Fatalf("changes %v", again.Changes)
	}
	// Settings belong to their channel.
	if string(e.settings(other.Token)["webhooks"]) != "[]" {
		t.Fatal("another channel's settings changed")
	}
}

func TestSettingsRefuseWrongFormats(t *testing.T) {
	e := newEnv(t, Options{})
	ch := e.create("settings")
	before := e.settings(ch.Token)
	hook := func(kv ...any) map[string]any {
		m := map[string]any{"url": "https://desk.example.com/h", "events": []map[string]string{{"type": "channel", "method": "post"}}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	bad := []struct {
		name string
		body any
	}{
		{"an unknown setting", map[string]any{"webhook": []any{}}},
		{"backoff out of range", map[string]any{"callback_backoff_delay_ms": 100}},
		{"webhooks not a list", map[string]any{"webhooks": map[string]any{}}},
		{"webhooks null", map[string]any{"webhooks": nil}},
		{"no url", map[string]any{"webhooks": []any{hook("url", nil)}}},
		{"a relative url", map[string]any{"webhooks": []any{hook("url", "/hooks")}}},
		{"an ftp url", map[string]any{"webhooks": []any{hook("url", "ftp://x.example/h")}}},
		{"an unknown event type", map[string]any{"webhooks": []any{hook("events", []map[string]string{{"type": "channels", "method": "post"}})}}},
		{"an unknown event method", map[string]any{"webhooks": []any{hook("events", []map[string]string{{"type": "channel", "method": "get"}})}}},
		{"the method named event", map[string]any{"webhooks": []any{hook("events", []map[string]string{{"type": "channel", "event": "post"}})}}},
		{"an unknown mode", map[string]any{"webhooks": []any{hook("mode", "query")}}},
		{"six headers", map[string]any{"webhooks": []any{hook("headers", map[string]string{"a": "", "b": "", "c": "", "d": "", "e": "", "f": ""})}}},
		{"max age out of range", map[string]any{"webhooks": []any{hook("webhook_max_age_seconds", 5)}}},
		{"an unknown webhook member", map[string]any{"webhooks": []any{hook("secret", "x")}}},
		{"media of an unknown kind", map[string]any{"media": map[string]any{"auto_download": []string{"gif"}}}},
		{"not an object", []any{}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := e.patchSettings(ch.Token, tc.body)
			if we := wantError(t, r, http.StatusBadRequest); we.Error.Message != "Wrong settings format" && tc.name != "not an object" {
				t.Fatalf("message %q", we.Error.Message)
			}
		})
	}
	after := e.settings(ch.Token)
	b1, _ := json.Marshal(before)
	b2, _ := json.Marshal(after)
	if string(b1) != string(b2) {
		t.Fatalf("refused PATCHes changed the settings:\n%s\n%s", b1, b2)
	}
	wantError(t, e.gate("wrong-token", "GET", "/settings"), http.StatusUnauthorized)
}
