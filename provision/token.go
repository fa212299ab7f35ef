package provision

import (
	"errors"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPartnerTokenBytes is the longest partner token accepted (16 KB). WHAPI
// issues JWTs of about 1,300 characters; some are 4 KB and more.
const MaxPartnerTokenBytes = 16 * 1024

// minPartnerTokenBytes is the shortest text taken for a token: anything
// shorter is a typo or a paste of the wrong thing.
const minPartnerTokenBytes = 16

// Token errors, each a message an admin can act on.
var (
	ErrTokenEmpty    = errors.New("paste the partner token from your WHAPI partner panel")
	ErrTokenTooLong  = errors.New("the token is longer than 16 KB; check that you pasted only the token")
	ErrTokenControl  = errors.New("the token contains a line break, tab or other control character inside it; paste it on one line")
	ErrTokenSpace    = errors.New("the token contains a space inside it; paste only the token, with or without \"Bearer \" in front")
	ErrTokenNotToken = errors.New("this does not look like a WHAPI token: a token has only letters, digits and - . _ ~ + / =")
)

// token68 is the character set of a bearer token (RFC 6750 §2.1).
var token68 = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

// NormalizePartnerToken turns what an admin pasted into the Authorization
// header value whapidesk stores and sends: "Bearer <token>", with "Bearer "
// exactly once. It trims spaces and line breaks around the text, accepts the
// token with or without a leading "Bearer " (any case, repeated, or with a
// leading "Authorization:" copied from a curl example), and refuses text
// that cannot be a token.
func NormalizePartnerToken(in string) (string, error) {
	if len(in) > MaxPartnerTokenBytes+1024 {
		return "", ErrTokenTooLong
	}
	if !utf8.ValidString(in) {
		return "", ErrTokenNotToken
	}
	t := strings.TrimSpace(in)
	if len(t) >= len("authorization:") && strings.EqualFold(t[:len("authorization:")], "authorization:") {
		t = strings.TrimSpace(t[len("authorization:"):])
	}
	for {
		rest, ok := cutBearer(t)
		if !ok {
			break
		}
		t = rest
	}
	if t == "" {
		return "", ErrTokenEmpty
	}
	if len(t) > MaxPartnerTokenBytes {
		return "", ErrTokenTooLong
	}
	for _, r := range t {
		switch {
		case unicode.IsControl(r):
			return "", ErrTokenControl
		case unicode.IsSpace(r):
			return "", ErrTokenSpace
		}
	}
	if len(t) < minPartnerTokenBytes || !token68.MatchString(t) {
		return "", ErrTokenNotToken
	}
	return "Bearer " + t, nil
}

// cutBearer removes a leading "Bearer" scheme and the blanks after it.
func cutBearer(t string) (string, bool) {
	const scheme = "bearer"
	if len(t) < len(scheme) || !strings.EqualFold(t[:len(scheme)], scheme) {
		return t, false
	}
	rest := t[len(scheme):]
	if rest == "" {
		return "", true // "Bearer" and nothing else
	}
	trimmed := strings.TrimLeftFunc(rest, unicode.IsSpace)
	if len(trimmed) == len(rest) {
		return t, false // "BearerXYZ…" is a token that starts with those letters
	}
	return trimmed, true
}

// TokenHint is the masked form of a token shown on pages: "…" and its last
// four characters.
func TokenHint(normalized string) string {
	t := strings.TrimPrefix(normalized, "Bearer ")
	if len(t) < 8 {
		return "…"
	}
	return "…" + t[len(t)-4:]
}

// projectIDPattern accepts WHAPI project ids. WHAPI's spec says 20
// alphanumerics or "default", but the client's own fixed id has 19, so we
// accept 8–64 alphanumerics and let GET /projects tell whether WHAPI knows it.
var projectIDPattern = regexp.MustCompile(`^(?:[A-Za-z0-9]{8,64}|default)$`)

// ErrProjectID is returned for a malformed project id.
var ErrProjectID = errors.New("a project id has 8 to 64 letters and digits (or is \"default\")")

// NormalizeProjectID trims and checks a project id.
func NormalizeProjectID(in string) (string, error) {
	p := strings.TrimSpace(in)
	if !projectIDPattern.MatchString(p) {
		return "", ErrProjectID
	}
	return p, nil
}
