package handlers

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// strictRoute is an API route that reads a JSON body, with a body that
// would be taken as it is (its keys in order, their JSON values).
type strictRoute struct {
	method, path string
	customer     bool // sent with the customer's key, else the admin's
	keys, values []string
}

func (af *adminFuzz) strictRoutes() []strictRoute {
	cust, ch, plan := af.idOf(af.customer.ID), af.idOf(af.channel.ID), af.idOf(af.editPlan.ID)
	return []strictRoute{
		{"POST", "/api/channels", true, []string{"name"}, []string{`"Strict fuzz"`}},
		{"POST", "/api/channels", false, []string{"name", "user_id"}, []string{`"Strict fuzz"`, cust}},
		{"POST", "/api/channels/" + ch + "/extend", false, []string{"days", "comment"}, []string{"1", `"strict"`}},
		{"POST", "/api/plans", false, []string{"name", "max_channels", "days_per_period", "period_days"}, []string{`"Strict fuzz"`, "1", "1", "1"}},
		{"POST", "/api/users", false, []string{"email", "name", "password", "role"}, []string{`"strict@example.com"`, `"S"`, `"a long passphrase for strict"`, `"customer"`}},
		{"PATCH", "/api/users/" + cust, false, []string{"name", "allocation_mode", "disabled"}, []string{`"Strict fuzz"`, `"auto"`, "true"}},
		{"POST", "/api/users/" + cust + "/subscription", false, []string{"plan_id"}, []string{plan}},
		{"POST", "/api/users/" + cust + "/days", false, []string{"days", "comment"}, []string{"1", `"strict"`}},
		{"PUT", "/api/settings/whapi", false, []string{"low_balance_threshold", "topup_window_days"}, []string{"7", "2"}},
	}
}

// strictBody writes the members as a JSON object.
func strictBody(keys, values []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(fuzzJSONString(keys[i]) + ":" + values[i])
	}
	b.WriteByte('}')
	return b.String()
}

// strictTakesType is the oracle of the Content-Type check: JSON, in UTF-8.
func strictTakesType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	cs := strings.ToLower(params["charset"])
	return err == nil && mt == "application/json" && (cs == "" || cs == "utf-8" || cs == "utf8")
}

// Kinds of damage FuzzAPIStrictJSON does to a body the route would take.
const (
	strictDuplicate   = iota // one of its keys again, with any value
	strictCase               // one of its keys in another case
	strictFold               // one of its keys with a letter that folds to it (ſ for s, K for k) or in another case
	strictContentType        // the body as it is, under any Content-Type that is not JSON in UTF-8
	strictNestedDup          // a key twice in an object nested in one of its values
	strictAnyKeyTwice        // any key, twice
	strictTrailing           // anything after the object
	strictKinds
)

// FuzzAPIStrictJSON damages, in one of the ways above, a body every API
// route that reads one would take, and sends it with an API key (the
// customer's for their own create, else the admin's): always 415 (a wrong
// Content-Type) or 400 bad_json, a JSON error of the API's shape that names
// the key where one is at fault, the security headers, nothing echoed
// unescaped — and nothing changed in the database.
func FuzzAPIStrictJSON(f *testing.F) {
	for route := range 9 {
		for kind := range strictKinds {
			f.Add(uint8(route), uint8(kind), uint16(route*7+kind), "Strict", "x", "text/plain")
		}
	}
	for _, s := range []struct {
		key, value, ct string
	}{
		{"NAME", `"<script>alert(1)</script>"`, ""},
		{"\u017f", "null", "application/json; charset=latin1"},
		{"<img src=x onerror=alert(1)>", `{"a":1}`, "application/x-www-form-urlencoded"},
		{"", "[]", "multipart/form-data; boundary=--x"},
		{"a\x00b", "1e400", "application/json-seq"},
		{"name", `"x"`, "application/json, text/plain"},
		{"\xff", "true", "APPLICATION/JSONX"},
	} {
		for kind := range strictKinds {
			f.Add(uint8(kind), uint8(kind), uint16(kind), s.key, s.value, s.ct)
		}
	}
	af := newAdminFuzz(f)
	routes := af.strictRoutes()
	f.Fuzz(func(t *testing.T, route, kind uint8, pick uint16, key, value, ct string) {
		rt := routes[int(route)%len(routes)]
		keys, values := append([]string(nil), rt.keys...), append([]string(nil), rt.values...)
		i := int(pick) % len(keys)
		field := keys[i]
		if !json.Valid([]byte(value)) {
			value = fuzzJSONString(value)
		}
		contentType := "application/json"
		wantStatus, wantCode, wantName := http.StatusBadRequest, "bad_json", ""
		body := ""
		switch int(kind) % strictKinds {
		case strictDuplicate:
			at := int(pick>>8) % (len(keys) + 1)
			keys = append(keys[:at], append([]string{field}, keys[at:]...)...)
			values = append(values[:at], append([]string{value}, values[at:]...)...)
			wantName = field
		case strictCase, strictFold:
			variant := []rune(field)
			for j, r := range variant {
				if j < 16 && pick&(1<<j) != 0 {
					variant[j] = unicode.ToUpper(r)
				}
			}
			if int(kind)%strictKinds == strictFold {
				variant = []rune(strings.NewReplacer("s", "\u017f", "k", "\u212a").Replace(string(variant)))
			}
			if string(variant) == field {
				variant[0] = unicode.ToUpper(variant[0])
			}
			keys[i] = string(variant)
			wantName = string(variant)
		case strictContentType:
			contentType = strings.Map(func(r rune) rune {
				if r < 0x20 || r == 0x7f || r >= 0x80 {
					return -1
				}
				return r
			}, ct)
			if len(contentType) > 200 {
				contentType = contentType[:200]
			}
			if strictTakesType(contentType) {
				contentType = "text/plain; " + contentType
			}
			wantStatus, wantCode = http.StatusUnsupportedMediaType, "unsupported_media_type"
		case strictNestedDup:
			values[i] = `{` + fuzzJSONString(key) + `:` + value + `,` + fuzzJSONString(key) + `:` + value + `}`
		case strictAnyKeyTwice:
			at := int(pick>>8) % (len(keys) + 1)
			keys = append(keys[:at], append([]string{key, key}, keys[at:]...)...)
			values = append(values[:at], append([]string{value, value}, values[at:]...)...)
		case strictTrailing:
			body = strictBody(keys, values) + value
		}
		if body == "" {
			body = strictBody(keys, values)
		}
		what := fmt.Sprintf("%s %s as %q: %.300q", rt.method, rt.path, contentType, body)

		before := af.fingerprint(t)
		req, err := http.NewRequest(rt.method, af.srv.URL+rt.path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		apiKey := af.adminKey
		if rt.customer {
			apiKey = af.custKey
		}
		req.Header.Set("Authorization", "Bearer "+apiKey)
		r := af.clientOf(t, af.apiHTTP).do(req)
		fuzzAPIStatus(t, what, r, wantStatus)
		checkJSON(t, r, what, key, value)
		smCheckHeaders(t, what, r)
		af.unchanged(t, before, what+" → "+strconv.Itoa(r.StatusCode))
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Code != wantCode || e.Error.Message == "" {
			t.Fatalf("%s: the error is not {\"error\":{\"code\":%q,\"message\":…}}: %s", what, wantCode, r.body)
		}
		if wantName != "" && !strings.Contains(e.Error.Message, strconv.Quote(wantName)) {
			t.Fatalf("%s: the message does not name the key %q: %s", what, wantName, e.Error.Message)
		}
	})
}
