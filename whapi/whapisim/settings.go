package whapisim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// defaultSettings are a new channel's settings (GET /settings). WHAPI does
// not document a new channel's values: these are the documented defaults
// where there is one (offline_mode, full_history false; pdo_sync true) and
// the values of WHAPI's example otherwise; no webhook.
const defaultSettings = `{"callback_backoff_delay_ms":3000,"max_callback_backoff_delay_ms":900000,"callback_persist":true,` +
	`"media":{"auto_download":["image","document","audio"],"init_avatars":false},"webhooks":[],"proxy":"",` +
	`"offline_mode":false,"full_history":false,"pdo_sync":true}`

// Webhook event types and methods (the OpenAPI Event schema; "message",
// "ack", "chat" and "status" are WHAPI's deprecated names, still accepted,
// and "message"/"put" is a webhook's default event).
var (
	hookTypes   = []string{"messages", "statuses", "chats", "contacts", "groups", "presences", "calls", "channel", "users", "labels", "service", "message", "ack", "chat", "status"}
	hookMethods = []string{"post", "put", "delete", "patch"}
	hookModes   = []string{"body", "path", "method"}
	mediaKinds  = []string{"image", "audio", "voice", "video", "document", "sticker"}
)

// settingRule checks one top-level setting of a PATCH body.
type settingRule func(raw json.RawMessage) (json.RawMessage, bool)

// settingRules are the settings PATCH /settings accepts (WHAPI's Settings
// schema, the newer pages' pdo_sync and ignored_presences, and the
// example's on_call_pager, pass_through and sent_status), with their types
// and documented ranges. Any other member is refused, as is a value of the
// wrong type or out of range: 400 "Wrong settings format" (strict, our
// choice: WHAPI documents that answer but not what triggers it).
var settingRules = map[string]settingRule{
	"callback_backoff_delay_ms":     numberIn(3000, 15000),
	"max_callback_backoff_delay_ms": numberIn(600000, 3600000),
	"callback_persist":              isBool,
	"media":                         validMedia,
	"webhooks":                      validWebhooks,
	"proxy":                         isString,
	"mobile_proxy":                  isString,
	"offline_mode":                  isBool,
	"full_history":                  isBool,
	"pdo_sync":                      isBool,
	"ignored_presences":             stringList,
	"on_call_pager":                 isString,
	"pass_through":                  isBool,
	"sent_status":                   isBool,
}

func isBool(raw json.RawMessage) (json.RawMessage, bool) {
	var b bool
	return raw, json.Unmarshal(raw, &b) == nil
}

func isString(raw json.RawMessage) (json.RawMessage, bool) {
	var s string
	return raw, json.Unmarshal(raw, &s) == nil
}

func numberIn(lo, hi float64) settingRule {
	return func(raw json.RawMessage) (json.RawMessage, bool) {
		var f float64
		return raw, json.Unmarshal(raw, &f) == nil && f >= lo && f <= hi && string(raw) != "null"
	}
}

func stringList(raw json.RawMessage) (json.RawMessage, bool) {
	var l []string
	return raw, json.Unmarshal(raw, &l) == nil && l != nil
}

// strictObject decodes a JSON object whose members are all among keys.
func strictObject(raw json.RawMessage, keys ...string) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return nil, false
	}
	for k := range m {
		if !slices.Contains(keys, k) {
			return nil, false
		}
	}
	return m, true
}

func validMedia(raw json.RawMessage) (json.RawMessage, bool) {
	m, ok := strictObject(raw, "auto_download", "init_avatars")
	if !ok {
		return nil, false
	}
	if v, present := m["auto_download"]; present {
		var kinds []string
		if json.Unmarshal(v, &kinds) != nil || kinds == nil {
			return nil, false
		}
		for _, k := range kinds {
			if !slices.Contains(mediaKinds, k) {
				return nil, false
			}
		}
	}
	if v, present := m["init_avatars"]; present {
		if _, ok := isBool(v); !ok {
			return nil, false
		}
	}
	return raw, true
}

// hook is one webhook as the simulator keeps it.
type hook struct {
	URL     string            `json:"url"`
	Events  []hookEvent       `json:"events"`
	Mode    string            `json:"mode"`
	Headers map[string]string `json:"headers,omitempty"`
	// The rest of WHAPI's Webhook schema, kept as sent.
	MaxAge            json.RawMessage `json:"webhook_max_age_seconds,omitempty"`
	SendUndecryptedAd *bool           `json:"send_undecrypted_ad,omitempty"`
}

type hookEvent struct {
	Type   string `json:"type"`
	Method string `json:"method"`
}

func (h hook) wants(typ, method string) bool {
	return slices.Contains(h.Events, hookEvent{typ, method})
}

// validWebhooks checks a webhooks list against WHAPI's Webhook schema: url
// (required; an absolute http or https URL, our reading of "Webhook URL,
// http or https"), events (each a known type and method, and nothing
// else; WHAPI's default [{"type":"message","method":"put"}] when absent),
// mode (body, path or method; body when absent), headers (at most 5
// strings), webhook_max_age_seconds (15..172800 or null) and
// send_undecrypted_ad. It returns the list as the simulator stores it,
// defaults filled in.
func validWebhooks(raw json.RawMessage) (json.RawMessage, bool) {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || items == nil {
		return nil, false
	}
	out := make([]hook, 0, len(items))
	for _, it := range items {
		m, ok := strictObject(it, "url", "events", "mode", "headers", "webhook_max_age_seconds", "send_undecrypted_ad")
		if !ok {
			return nil, false
		}
		var h hook
		if json.Unmarshal(m["url"], &h.URL) != nil {
			return nil, false
		}
		if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, false
		}
		h.Events = []hookEvent{{"message", "put"}}
		if v, present := m["events"]; present {
			var evs []json.RawMessage
			if json.Unmarshal(v, &evs) != nil || evs == nil {
				return nil, false
			}
			h.Events = make([]hookEvent, 0, len(evs))
			for _, e := range evs {
				em, ok := strictObject(e, "type", "method")
				var ev hookEvent
				if !ok || json.Unmarshal(em["type"], &ev.Type) != nil || json.Unmarshal(em["method"], &ev.Method) != nil ||
					!slices.Contains(hookTypes, ev.Type) || !slices.Contains(hookMethods, ev.Method) {
					return nil, false
				}
				h.Events = append(h.Events, ev)
			}
		}
		h.Mode = "body"
		if v, present := m["mode"]; present {
			if json.Unmarshal(v, &h.Mode) != nil || !slices.Contains(hookModes, h.Mode) {
				return nil, false
			}
		}
		if v, present := m["headers"]; present {
			if json.Unmarshal(v, &h.Headers) != nil || h.Headers == nil || len(h.Headers) > 5 {
				return nil, false
			}
		}
		if v, present := m["webhook_max_age_seconds"]; present {
			if _, ok := numberIn(15, 172800)(v); !ok && string(bytes.TrimSpace(v)) != "null" {
				return nil, false
			}
			h.MaxAge = v
		}
		if v, present := m["send_undecrypted_ad"]; present {
			var b bool
			if json.Unmarshal(v, &b) != nil {
				return nil, false
			}
			h.SendUndecryptedAd = &b
		}
		out = append(out, h)
	}
	b, err := json.Marshal(out)
	return b, err == nil
}

// newSettings are a new channel's settings.
func newSettings() map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(defaultSettings), &m); err != nil {
		panic("whapisim: default settings: " + err.Error())
	}
	return m
}

// settingsOf returns the channel's settings: a new channel's until they
// are first changed (kept only then, so that channels nobody configures
// cost no memory).
func settingsOf(ch *channel) map[string]json.RawMessage {
	if ch.settings == nil {
		return newSettings()
	}
	return ch.settings
}

// getSettings serves GET /settings.
func (s *Sim) getSettings(c *call) reply {
	return jsonReply(http.StatusOK, settingsOf(c.ch))
}

// patchSettings serves PATCH /settings: every member present replaces
// that setting whole (a webhooks list replaces the whole list, as the
// official n8n node's read-edit-write shows); a member absent leaves it as
// it is. The answer is {before_update, after_update, changes}, changes
// naming the settings whose value changed.
func (s *Sim) patchSettings(c *call) reply {
	m, rep := parseObject(c)
	if rep != nil {
		return *rep
	}
	bad := func(details string) reply { return errReply(http.StatusBadRequest, "Wrong settings format", details) }
	before := settingsOf(c.ch)
	next := make(map[string]json.RawMessage, len(before))
	for k, v := range before {
		next[k] = v
	}
	changes := []string{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rule, known := settingRules[k]
		if !known {
			return bad(strconv.Quote(k) + " is not a setting")
		}
		v, ok := rule(m[k])
		if !ok || string(bytes.TrimSpace(m[k])) == "null" {
			return bad(strconv.Quote(k) + " has the wrong type or is out of range")
		}
		v = compactJSON(v)
		if !bytes.Equal(compactJSON(next[k]), v) {
			changes = append(changes, k)
		}
		next[k] = v
	}
	c.ch.settings = next
	c.ch.webhooks = nil
	_ = json.Unmarshal(next["webhooks"], &c.ch.webhooks) // as validWebhooks stored them
	if slices.Contains(changes, "webhooks") {
		// A new list is not told the channel's past: events from now on.
		s.markNotified(c.ch, c.now)
	}
	return jsonReply(http.StatusOK, struct {
		Before  map[string]json.RawMessage `json:"before_update"`
		After   map[string]json.RawMessage `json:"after_update"`
		Changes []string                   `json:"changes"`
	}{before, next, changes})
}

// compactJSON is raw without insignificant space (nil stays nil).
func compactJSON(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
