package whapisim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// specDir is where the shared WHAPI OpenAPI documents live, relative to this
// package.
func specDir() string { return filepath.Join("..", "..", "..", "shared", "whapi", "openapi") }

// loadSpec reads one of WHAPI's OpenAPI documents. It skips the test when the
// file is missing, except under CI=true, where the file must be there.
func loadSpec(t *testing.T, name string) []byte {
	t.Helper()
	path := filepath.Join(specDir(), name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("CI") != "true" {
		t.Skipf("WHAPI spec %s not found (it lives in ../shared/whapi/openapi beside the repository); skipping the schema check", path)
	}
	if err != nil {
		t.Fatalf("reading the WHAPI spec (needed under CI=true): %v", err)
	}
	return b
}

// openAPI is just enough of an OpenAPI 3 document to check answers against
// its response schemas.
type openAPI struct {
	doc map[string]any
}

func (o openAPI) get(path ...string) (any, error) {
	var cur any = o.doc
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not an object", strings.Join(path, "/"))
		}
		if cur, ok = m[p]; !ok {
			return nil, fmt.Errorf("%s: no %q", strings.Join(path, "/"), p)
		}
	}
	return cur, nil
}

// responseSchema returns the JSON schema of one operation's answer.
func (o openAPI) responseSchema(t *testing.T, path, method, status string) map[string]any {
	t.Helper()
	s, err := o.get("paths", path, method, "responses", status, "content", "application/json", "schema")
	if err != nil {
		t.Fatal(err)
	}
	return s.(map[string]any)
}

// validate checks v against schema (type, required, properties, items,
// allOf, pattern, enum, nullable, $ref) and returns the violations.
func (o openAPI) validate(schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		target, err := o.get(strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		return o.validate(target.(map[string]any), v, at)
	}
	var errs []string
	if all, ok := schema["allOf"].([]any); ok {
		for _, sub := range all {
			errs = append(errs, o.validate(sub.(map[string]any), v, at)...)
		}
	}
	if v == nil {
		if schema["nullable"] == true || schema["type"] == nil {
			return errs
		}
		return append(errs, at+": null where "+fmt.Sprint(schema["type"])+" is required")
	}
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(errs, at+": not an object")
		}
		for _, r := range asSlice(schema["required"]) {
			if _, ok := m[r.(string)]; !ok {
				errs = append(errs, at+": missing required "+r.(string))
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for k, sub := range props {
			if fv, ok := m[k]; ok {
				errs = append(errs, o.validate(sub.(map[string]any), fv, at+"."+k)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return append(errs, at+": not an array")
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, it := range a {
				errs = append(errs, o.validate(items, it, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return append(errs, at+": not a string")
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(s) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", at, s, p))
		}
		if enum := asSlice(schema["enum"]); enum != nil && !containsAny(enum, s) {
			errs = append(errs, fmt.Sprintf("%s: %q not in %v", at, s, enum))
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			errs = append(errs, fmt.Sprintf("%s: %v is not an integer", at, v))
		}
	case "number":
		if _, ok := v.(float64); !ok {
			errs = append(errs, fmt.Sprintf("%s: %v is not a number", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: %v is not a boolean", at, v))
		}
	}
	return errs
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func containsAny(list []any, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestAnswersFitPartnerSpec(t *testing.T) {
	var spec openAPI
	if err := json.Unmarshal(loadSpec(t, "partner.json"), &spec.doc); err != nil {
		t.Fatalf("partner.json: %v", err)
	}
	// The Channel schema demands these (the merged list plus creationTS from
	// its first part); make sure the spec still says so, so the check below
	// means something.
	channel, err := spec.get("components", "schemas", "Channel")
	if err != nil {
		t.Fatal(err)
	}
	var required []string
	for _, r := range asSlice(channel.(map[string]any)["required"]) {
		required = append(required, r.(string))
	}
	for _, f := range []string{"activeTill", "apiUrl", "id", "name", "ownerId", "projectId", "server", "token", "stopped"} {
		if !containsAny(asSlice(channel.(map[string]any)["required"]), f) {
			t.Fatalf("partner.json Channel.required = %v lacks %s", required, f)
		}
	}

	// The validator does catch violations.
	bad := map[string]any{"id": "bad", "token": "short", "trial": "soon"}
	if errs := spec.validate(channel.(map[string]any), bad, "$"); len(errs) < 5 {
		t.Fatalf("validator missed violations: %v", errs)
	}

	// Project ids must fit the spec's pattern here, so use a realistic one.
	e := newEnv(t, Options{BalanceDays: 10, ProjectIDs: []string{realProjectID}})
	ch := e.create("schema")
	noTrial := newEnv(t, Options{NoTrial: true, ProjectIDs: []string{realProjectID}})
	e.clock.Advance(time.Hour)

	cases := []struct {
		name, path, method, status string
		r                          resp
	}{
		{"create", "/channels", "put", "200", e.manager("PUT", "/channels", map[string]string{"name": "n", "projectId": "default", "phone": "61371989950"})},
		{"create 400", "/channels", "put", "400", e.manager("PUT", "/channels", map[string]string{"name": "n", "projectid": "default"})},
		{"create 404", "/channels", "put", "404", e.manager("PUT", "/channels", map[string]string{"name": "n", "projectId": "zzzzzzzzzzzzzzzzzzzz"})},
		{"create without trial", "/channels", "put", "200", noTrial.manager("PUT", "/channels", map[string]string{"name": "n", "projectId": realProjectID})},
		{"get", "/channels/{ChannelID}", "get", "200", e.manager("GET", "/channels/"+ch.ID, nil)},
		{"get 404", "/channels/{ChannelID}", "get", "404", e.manager("GET", "/channels/ABCDEF-12345", nil)},
		{"list", "/channels/list", "get", "200", e.manager("GET", "/channels/list", nil)},
		{"list by project", "/channels/list/{ProjectID}", "get", "200", e.manager("GET", "/channels/list/default", nil)},
		{"projects", "/projects", "get", "200", e.manager("GET", "/projects", nil)},
		{"extend 400", "/channels/{ChannelID}/extend", "post", "400", e.manager("POST", "/channels/"+ch.ID+"/extend", map[string]any{"days": 1})},
		{"mode 400", "/channels/{ChannelID}/mode", "patch", "400", e.manager("PATCH", "/channels/"+ch.ID+"/mode", map[string]any{"mode": "x"})},
		{"start 503", "/channels/{ChannelID}/start", "post", "503", e.manager("POST", "/channels/"+ch.ID+"/start", nil)},
		{"start 404", "/channels/{ChannelID}/start", "post", "404", e.manager("POST", "/channels/ABCDEF-12345/start", nil)},
		{"stop 400", "/channels/{ChannelID}/stop", "post", "400", e.manager("POST", "/channels/"+ch.ID+"/stop", map[string]any{"saveDays": 1})},
		{"stop 404", "/channels/{ChannelID}/stop", "post", "404", e.manager("POST", "/channels/ABCDEF-12345/stop", nil)},
		{"restart 400", "/channels/{ChannelID}/restart", "post", "400", e.manager("POST", "/channels/"+ch.ID+"/restart", map[string]any{"now": true})},
		{"restart 404", "/channels/{ChannelID}/restart", "post", "404", e.manager("POST", "/channels/ABCDEF-12345/restart", nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if fmt.Sprint(tc.r.status) != tc.status {
				t.Fatalf("status %d, want %s: %s", tc.r.status, tc.status, tc.r.body)
			}
			var v any
			decode(t, tc.r, &v)
			if errs := spec.validate(spec.responseSchema(t, tc.path, tc.method, tc.status), v, "$"); len(errs) > 0 {
				t.Fatalf("answer %s does not fit the spec:\n%s", tc.r.body, strings.Join(errs, "\n"))
			}
		})
	}

	// ResponseSuccess in the spec wrongly requires "result" (its only
	// property is success), so success answers are checked by hand.
	wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/restart", nil))
	wantSuccess(t, e.manager("POST", "/channels/"+ch.ID+"/stop", nil))
	// A second stop is not ready, in the spec's error shape.
	r := e.manager("POST", "/channels/"+ch.ID+"/stop", nil)
	var v any
	decode(t, r, &v)
	if errs := spec.validate(spec.responseSchema(t, "/channels/{ChannelID}/stop", "post", "503"), v, "$"); r.status != 503 || len(errs) > 0 {
		t.Fatalf("second stop %d %s does not fit the spec's 503:\n%s", r.status, r.body, strings.Join(errs, "\n"))
	}
	e.clock.Advance(time.Minute)
	if r := e.manager("POST", "/channels/"+ch.ID+"/restart", nil); r.status != 503 {
		t.Fatalf("restart of a stopped channel: %d %s", r.status, r.body)
	} else {
		decode(t, r, &v)
		if errs := spec.validate(spec.responseSchema(t, "/channels/{ChannelID}/restart", "post", "503"), v, "$"); len(errs) > 0 {
			t.Fatalf("answer %s does not fit the spec:\n%s", r.body, strings.Join(errs, "\n"))
		}
	}
	for _, r := range []resp{
		e.manager("POST", "/channels/"+ch.ID+"/start", nil),
		e.manager("POST", "/channels/"+ch.ID+"/extend", map[string]any{"days": 1, "comment": "c"}),
		e.manager("PATCH", "/channels/"+ch.ID+"/mode", map[string]any{"mode": "live"}),
		e.manager("DELETE", "/channels/"+ch.ID, nil),
	} {
		wantSuccess(t, r)
	}
}

// loadGateSpec reads WHAPI's gate OpenAPI document (YAML).
func loadGateSpec(t *testing.T) openAPI {
	t.Helper()
	var spec openAPI
	if err := yaml.Unmarshal(loadSpec(t, "gate.yaml"), &spec.doc); err != nil {
		t.Fatalf("gate.yaml: %v", err)
	}
	return spec
}

// gateResponse returns the JSON schema of one gate operation's answer,
// following the answer's $ref into components/responses.
func (o openAPI) gateResponse(t *testing.T, path, method, status string) map[string]any {
	t.Helper()
	r, err := o.get("paths", path, method, "responses", status)
	if err != nil {
		t.Fatal(err)
	}
	if ref, ok := r.(map[string]any)["$ref"].(string); ok {
		if r, err = o.get(strings.Split(strings.TrimPrefix(ref, "#/"), "/")...); err != nil {
			t.Fatal(err)
		}
	}
	s, ok := r.(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	if !ok {
		t.Fatalf("%s %s %s: no JSON schema", method, path, status)
	}
	return s
}

func (o openAPI) schema(t *testing.T, name string) map[string]any {
	t.Helper()
	s, err := o.get("components", "schemas", name)
	if err != nil {
		t.Fatal(err)
	}
	return s.(map[string]any)
}

// The settings answers and every webhook payload fit WHAPI's gate spec.
func TestAnswersAndWebhooksFitGateSpec(t *testing.T) {
	spec := loadGateSpec(t)
	// The validator does catch violations of the schemas used here.
	if errs := spec.validate(spec.schema(t, "Webhook"), map[string]any{"events": []any{map[string]any{"type": "channels", "method": "get"}}, "mode": "x"}, "$"); len(errs) < 4 {
		t.Fatalf("validator missed violations: %v", errs)
	}

	e := newEnv(t, Options{StartupDelay: -1})
	rc := newReceiver(t)
	ch := e.create("spec")
	r := e.patchSettings(ch.Token, map[string]any{"webhooks": []any{map[string]any{"url": rc.srv.URL + "/h",
		"events": []map[string]string{{"type": "channel", "method": "post"}, {"type": "channel", "method": "patch"},
			{"type": "users", "method": "post"}, {"type": "users", "method": "delete"}}, "mode": "body"}}})
	cases := []struct {
		name, path, method, status string
		r                          resp
	}{
		{"update settings", "/settings", "patch", "200", r},
		{"update settings 400", "/settings", "patch", "400", e.patchSettings(ch.Token, map[string]any{"webhooks": 1})},
		{"settings", "/settings", "get", "200", e.gate(ch.Token, "GET", "/settings")},
		{"health", "/health", "get", "200", e.gate(ch.Token, "GET", "/health?wakeup=false")},
	}
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name, path, method, status string
		r                          resp
	}{"health linked", "/health", "get", "200", e.gate(ch.Token, "GET", "/health?wakeup=false")})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if fmt.Sprint(tc.r.status) != tc.status {
				t.Fatalf("status %d, want %s: %s", tc.r.status, tc.status, tc.r.body)
			}
			var v any
			decode(t, tc.r, &v)
			if errs := spec.validate(spec.gateResponse(t, tc.path, tc.method, tc.status), v, "$"); len(errs) > 0 {
				t.Fatalf("answer %s does not fit the spec:\n%s", tc.r.body, strings.Join(errs, "\n"))
			}
		})
	}

	if err := e.sim.UnlinkChannel(ch.ID); err != nil {
		t.Fatal(err)
	}
	ds := waitDone(t, e.sim, 5)
	seen := map[string]bool{}
	for _, d := range ds {
		seen[d.Type+"/"+d.Method] = true
		var v any
		if err := json.Unmarshal(d.Body, &v); err != nil {
			t.Fatal(err)
		}
		if errs := spec.validate(spec.schema(t, "WebhookPayload"), v, "$"); len(errs) > 0 {
			t.Errorf("%s/%s payload %s does not fit WebhookPayload:\n%s", d.Type, d.Method, d.Body, strings.Join(errs, "\n"))
		}
	}
	for _, ev := range []string{"channel/post", "channel/patch", "users/post", "users/delete"} {
		if !seen[ev] {
			t.Errorf("no %s payload was checked (saw %v)", ev, seen)
		}
	}
}
