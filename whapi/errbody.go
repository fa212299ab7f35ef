package whapi

import (
	"bytes"
	"encoding/json"
	"html"
	"math"
	"mime"
	"strconv"
	"strings"
)

// BodyShape is the form an error answer's body took (APIError.Shape). WHAPI
// documents only ShapeNested; the others are seen from WHAPI itself and from
// the proxies in front of it (reference.md §1.4, whapi/README.md).
type BodyShape string

// The error body shapes the client recognises.
const (
	// ShapeNested is WHAPI's documented body, {"error":{"code":…,"message":"…"}}.
	ShapeNested BodyShape = "nested"
	// ShapeFlat is {"code":402,"error":"…"}: the error text at the top level,
	// the code beside it (if any).
	ShapeFlat BodyShape = "flat"
	// ShapeMessage is {"message":"…"} (a "code" beside it is read too).
	ShapeMessage BodyShape = "message"
	// ShapeSuccessFalse is {"success":false} without any error text.
	ShapeSuccessFalse BodyShape = "success_false"
	// ShapeJSON is any other JSON: nothing in it says what went wrong.
	ShapeJSON BodyShape = "json"
	// ShapeText is a plain-text body; Message is its text.
	ShapeText BodyShape = "text"
	// ShapeHTML is an HTML page, as a proxy answers 502 or 504; Message is
	// the page's title (or its first heading).
	ShapeHTML BodyShape = "html"
	// ShapeEmpty is an answer without a body.
	ShapeEmpty BodyShape = "empty"
)

// errorFields are the members of a JSON error body the client reads. Keys
// match case-insensitively (encoding/json), which only widens what is
// recognised as an error.
type errorFields struct {
	Error   json.RawMessage `json:"error"`
	Code    json.RawMessage `json:"code"`
	Message json.RawMessage `json:"message"`
	Success json.RawMessage `json:"success"`
}

// nestedError is the inner object of WHAPI's documented error body.
type nestedError struct {
	Code    json.RawMessage `json:"code"`
	Message json.RawMessage `json:"message"`
}

// parseErrorBody reads an error answer in any of the shapes WHAPI and its
// proxies use and returns its code (0 when absent), its message ("" when
// absent; raw upstream text, to be redacted and sanitized by the caller) and
// its shape. contentType is the answer's Content-Type header.
func parseErrorBody(body []byte, contentType string) (code int, message string, shape BodyShape) {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return 0, "", ShapeEmpty
	case len(body) > maxAnswer:
		// Cut by send: too large to be an error body we can read.
		return 0, "", ShapeText
	case trimmed[0] == '{':
		var f errorFields
		if json.Unmarshal(trimmed, &f) == nil {
			return fromJSON(f)
		}
	case json.Valid(trimmed):
		return 0, "", ShapeJSON // an array, a number, a bare string
	}
	if isHTML(contentType, trimmed) {
		return 0, htmlTitle(trimmed), ShapeHTML
	}
	return 0, string(trimmed), ShapeText
}

// fromJSON classifies a JSON object error body.
func fromJSON(f errorFields) (int, string, BodyShape) {
	code, msg := jsonCode(f.Code), jsonString(f.Message)
	switch {
	case present(f.Error) && f.Error[0] == '{':
		var n nestedError
		if json.Unmarshal(f.Error, &n) == nil {
			if c := jsonCode(n.Code); c != 0 {
				code = c
			}
			if m := jsonString(n.Message); m != "" {
				msg = m
			}
		}
		return code, msg, ShapeNested
	case present(f.Error):
		// {"code":402,"error":"text"}, or an "error": true beside a message.
		if s := jsonString(f.Error); s != "" {
			msg = s
		}
		return code, msg, ShapeFlat
	case msg != "":
		return code, msg, ShapeMessage
	case isFalse(f.Success):
		return code, "", ShapeSuccessFalse
	}
	return code, "", ShapeJSON
}

// failedIn2xx reports whether the body of a 2xx answer says the call failed:
// a JSON object with an "error" member (anything but null or false) or with
// "success": false.
//
// Decision: WHAPI documents {"success":true} and the data objects for a 2xx;
// an "error" member in one is never part of a success, whatever it holds
// (even "" or {}), so any such member counts. Only null and false, which
// plainly say "no error", do not.
func failedIn2xx(body []byte) bool {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return false
	}
	var f errorFields
	if json.Unmarshal(trimmed, &f) != nil {
		return false
	}
	return present(f.Error) && !isFalse(f.Error) || isFalse(f.Success)
}

// present reports whether a JSON member is there and not null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// isFalse reports whether a JSON member is the literal false.
func isFalse(raw json.RawMessage) bool {
	return string(raw) == "false"
}

// jsonString returns a JSON string member's value, "" for anything else.
func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// jsonCode reads a code given as a JSON number or a numeric string; 0 when
// absent, not whole, or out of range.
func jsonCode(raw json.RawMessage) int {
	if len(raw) == 0 {
		return 0
	}
	if raw[0] == '"' {
		raw = json.RawMessage(jsonString(raw))
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
	if err != nil || f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
		return 0
	}
	return int(f)
}

// isHTML reports whether an answer is an HTML page: by its Content-Type, or
// by a body that opens with a tag.
func isHTML(contentType string, body []byte) bool {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && (mt == "text/html" || mt == "application/xhtml+xml") {
		return true
	}
	return body[0] == '<'
}

// htmlTitle returns the text of an HTML page's <title>, or of its first
// <h1> when it has no title: a proxy's page says there what happened
// ("502 Bad Gateway"). Tags inside are dropped and entities decoded.
func htmlTitle(page []byte) string {
	lower := asciiLower(page)
	for _, tag := range []string{"title", "h1"} {
		open := bytes.Index(lower, []byte("<"+tag))
		if open < 0 {
			continue
		}
		start := bytes.IndexByte(lower[open:], '>')
		if start < 0 {
			continue
		}
		start += open + 1
		end := bytes.Index(lower[start:], []byte("</"+tag))
		if end < 0 {
			continue
		}
		if t := strings.Join(strings.Fields(html.UnescapeString(stripTags(string(page[start:start+end])))), " "); t != "" {
			return t
		}
	}
	return ""
}

// stripTags drops everything between '<' and '>'.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// asciiLower lower-cases ASCII letters only, so byte offsets stay those of
// the original.
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}
