package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
)

// The JSON API reads bodies strictly (docs/api.md, "Request bodies"):
//
//   - a write with a body says Content-Type: application/json (parameters
//     allowed; a charset, if given, is UTF-8), else 415 — apiJSONBody for
//     every write under /api, decodeJSON again for the routes that read one;
//   - the body is one JSON object and nothing after it;
//   - no key appears twice in an object, at any depth (encoding/json would
//     keep the last one silently);
//   - every key is a field of the route's body, spelt exactly (encoding/json
//     matches names case-insensitively: "Name" or "NAME" would set name);
//   - whole numbers are JSON integers, and every field has its type.
//
// Anything else is 400 bad_json (413 too_large past the body limit), and
// nothing was changed: the body is read before the handler does anything.

// maxJSONDepth bounds how deeply objects and arrays may nest in a body:
// no route's body nests at all.
const maxJSONDepth = 32

// hasBody reports whether the request carries a body (of any length, or
// of a length not known in advance).
func hasBody(r *http.Request) bool { return r.ContentLength != 0 }

// checkJSONType refuses a request whose Content-Type is not JSON in UTF-8
// (415, said in the caller's language).
func checkJSONType(c echo.Context) error {
	mt, params, err := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return apiError(http.StatusUnsupportedMediaType, "unsupported_media_type", loc(c).T("api.json.media_type"))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return apiError(http.StatusUnsupportedMediaType, "unsupported_media_type", loc(c).T("api.json.charset"))
	}
	return nil
}

// apiJSONBody refuses, on every API write (POST, PUT, PATCH, DELETE…),
// a body that is not declared as JSON: 415, before the route runs.
// Routes without a body (restart, stop, start, delete) take requests
// with none, whatever their Content-Type.
func apiJSONBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if hasBody(r) {
			if err := checkJSONType(c); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// decodeJSON reads the body of an API route into v (a pointer to the
// route's body struct) by the rules above: 415, 413 or 400 with a message
// that says what is wrong (a key may be named, a value never is).
func decodeJSON(c echo.Context, v any) error {
	if err := checkJSONType(c); err != nil {
		return err
	}
	l := loc(c)
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apiError(http.StatusRequestEntityTooLarge, "too_large", l.T("api.json.too_large"))
		}
		return apiError(http.StatusBadRequest, "bad_json", l.T("api.json.unreadable"))
	}
	if err := strictJSON(l, body, v); err != nil {
		return apiError(http.StatusBadRequest, "bad_json", err.Error())
	}
	return nil
}

// strictJSON decodes body into v, refusing what decodeJSON refuses. Its
// errors are the messages of the 400 answer, in l's language.
func strictJSON(l *i18n.Localizer, body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New(l.T("api.json.empty"))
	}
	// First walk the tokens: one object, no key twice, every key exact.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers are not read here, so none can overflow
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return errors.New(l.T("api.json.malformed_object"))
	}
	if tok != json.Delim('{') {
		return errors.New(l.T("api.json.not_object"))
	}
	if err := walkJSONObject(l, dec, t, "", 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New(l.T("api.json.trailing"))
	}
	// Then decode: the types of the values.
	dec = json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(l.T("api.json.known_fields", "Problem", jsonProblem(l, err)))
	}
	return nil
}

// walkJSONValue reads one value from dec: an object or array is walked
// with t, the Go type it decodes into (nil: any).
func walkJSONValue(l *i18n.Localizer, dec *json.Decoder, t reflect.Type, path string, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return errors.New(l.T("api.json.malformed"))
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch tok {
	case json.Delim('{'):
		return walkJSONObject(l, dec, t, path, depth+1)
	case json.Delim('['):
		if depth+1 > maxJSONDepth {
			return errors.New(l.T("api.json.too_deep"))
		}
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkJSONValue(l, dec, elem, path+"[]", depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errors.New(l.T("api.json.malformed"))
		}
	}
	return nil
}

// walkJSONObject reads the members of an object whose { was read: no key
// twice, and, where the object decodes into a struct, every key one of its
// fields, spelt exactly.
func walkJSONObject(l *i18n.Localizer, dec *json.Decoder, t reflect.Type, path string, depth int) error {
	if depth > maxJSONDepth {
		return errors.New(l.T("api.json.too_deep"))
	}
	var fields map[string]reflect.Type
	var elem reflect.Type
	switch {
	case t != nil && t.Kind() == reflect.Struct:
		fields = jsonFields(t)
	case t != nil && t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New(l.T("api.json.malformed"))
		}
		key, _ := tok.(string)
		name := path + key
		if seen[key] {
			return errors.New(l.T("api.json.key_twice", "Key", quoteKey(name)))
		}
		seen[key] = true
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[key]; !ok {
				for known := range fields {
					if strings.EqualFold(known, key) {
						return errors.New(l.T("api.json.key_case", "Key", quoteKey(name), "Known", strconv.Quote(path+known)))
					}
				}
				return errors.New(l.T("api.json.unknown_field", "Key", quoteKey(name)))
			}
		}
		if err := walkJSONValue(l, dec, ft, name+".", depth); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return errors.New(l.T("api.json.malformed"))
	}
	return nil
}

// jsonFields are the JSON names of a struct's fields, as encoding/json
// reads them, with their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		case !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// quoteKey quotes a key of the body for a message: at most 40 characters,
// controls and invalid UTF-8 escaped (the JSON answer escapes < and >).
func quoteKey(k string) string {
	if utf8.RuneCountInString(k) > 40 {
		k = string([]rune(k)[:40]) + "…"
	}
	return fmt.Sprintf("%q", k)
}

// jsonProblem names what is wrong with a JSON body without echoing
// values, in l's language.
func jsonProblem(l *i18n.Localizer, err error) string {
	var ute *json.UnmarshalTypeError
	switch msg := err.Error(); {
	case errors.As(err, &ute):
		return l.T("api.json.wrong_type", "Field", ute.Field) // a field of the route's body: not the caller's text
	case strings.HasPrefix(msg, "json: unknown field ") && len(msg) < 80:
		return l.T("api.json.unknown_field", "Key", strings.TrimPrefix(msg, "json: unknown field "))
	case errors.Is(err, io.EOF):
		return l.T("api.json.empty_body")
	}
	return l.T("api.json.malformed")
}
