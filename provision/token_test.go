package provision

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode"
)

func genToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

func TestNormalizePartnerToken(t *testing.T) {
	tok := genToken(1300)
	long := genToken(4096)
	for _, tt := range []struct {
		name string
		in   string
		want string
		err  error
	}{
		{"with Bearer", "Bearer " + tok, "Bearer " + tok, nil},
		{"without Bearer", tok, "Bearer " + tok, nil},
		{"4096 characters", "Bearer " + long, "Bearer " + long, nil},
		{"16 KB exactly", genToken(MaxPartnerTokenBytes), "", nil},
		{"blanks around", " \t\r\n Bearer " + tok + " \r\n", "Bearer " + tok, nil},
		{"lower case scheme", "bearer " + tok, "Bearer " + tok, nil},
		{"several blanks after Bearer", "Bearer \t  " + tok, "Bearer " + tok, nil},
		{"Bearer twice", "Bearer Bearer " + tok, "Bearer " + tok, nil},
		{"curl header line", "authorization: Bearer " + tok, "Bearer " + tok, nil},
		{"token starting with Bearer letters", "BearerXYZ" + tok, "Bearer BearerXYZ" + tok, nil},
		{"base64 padding", tok + "==", "Bearer " + tok + "==", nil},
		{"empty", "", "", ErrTokenEmpty},
		{"blank", " \n\t ", "", ErrTokenEmpty},
		{"Bearer alone", "Bearer", "", ErrTokenEmpty},
		{"Bearer and blanks", "Bearer   ", "", ErrTokenEmpty},
		{"over 16 KB", genToken(MaxPartnerTokenBytes + 1), "", ErrTokenTooLong},
		{"far over 16 KB", strings.Repeat("a", 100_000), "", ErrTokenTooLong},
		{"space inside", "Bearer abcdefgh ijklmnopqrstuvwxyz", "", ErrTokenSpace},
		{"line break inside", "Bearer " + tok[:600] + "\n" + tok[600:], "", ErrTokenControl},
		{"tab inside", tok[:600] + "\t" + tok[600:], "", ErrTokenControl},
		{"NUL inside", tok[:600] + "\x00" + tok[600:], "", ErrTokenControl},
		{"DEL inside", tok[:600] + "\x7f" + tok[600:], "", ErrTokenControl},
		{"quotes", `"` + tok + `"`, "", ErrTokenNotToken},
		{"too short", "abc123", "", ErrTokenNotToken},
		{"markup", "<script>alert(1)</script>", "", ErrTokenNotToken},
		{"not UTF-8", "\xff\xfe" + tok, "", ErrTokenNotToken},
		{"non-ASCII letters", "Bearer " + tok[:20] + "é" + tok[20:40], "", ErrTokenNotToken},
		{"no-break space inside", tok[:20] + "\u00a0" + tok[20:40], "", ErrTokenSpace},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizePartnerToken(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err == nil && tt.want != "" && got != tt.want {
				t.Fatalf("got %.30q…, want %.30q…", got, tt.want)
			}
			if tt.err == nil && strings.Count(got, "Bearer ") != 1+strings.Count(strings.TrimPrefix(got, "Bearer "), "Bearer ") {
				t.Fatal("Bearer prefix added more than once")
			}
			if err != nil && strings.Contains(err.Error(), tok[:30]) {
				t.Fatal("the error message holds the token")
			}
		})
	}
}

func TestTokenHint(t *testing.T) {
	if got := TokenHint("Bearer abcdefghijkl1234"); got != "…1234" {
		t.Fatalf("got %q", got)
	}
	if got := TokenHint("Bearer abc"); got != "…" {
		t.Fatalf("a short token must not be shown at all: %q", got)
	}
}

func TestNormalizeProjectID(t *testing.T) {
	for in, ok := range map[string]bool{
		"HPN0H0hFDL1GFg154PI":    true, // the client's 19-character id
		"kpSv3OFq9PkP1W1Ogv7p":   true, // WHAPI's 20-character form
		" kpSv3OFq9PkP1W1Ogv7p ": true,
		"default":                true,
		"":                       false,
		"short":                  false,
		"has space inside1":      false,
		"ünïcode0000000000":      false,
		"semi;colon000000":       false,
		strings.Repeat("a", 65):  false,
	} {
		_, err := NormalizeProjectID(in)
		if (err == nil) != ok {
			t.Errorf("%q: err = %v", in, err)
		}
	}
}

// FuzzNormalizePartnerToken: whatever is pasted, the result is either an
// error or "Bearer " + a token of token characters only, within 16 KB, and
// normalising it again gives the same value.
func FuzzNormalizePartnerToken(f *testing.F) {
	for _, s := range []string{"Bearer abcdefghijklmnopqrstuvwxyz", "bearer  x", "Bearer", " \n", "Bearer Bearer abcdefghijklmnopq", "authorization: bearer abcdefghijklmnopqrs", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizePartnerToken(in)
		if err != nil {
			if got != "" {
				t.Fatal("a value with an error")
			}
			return
		}
		tok, ok := strings.CutPrefix(got, "Bearer ")
		if !ok || tok == "" || len(tok) > MaxPartnerTokenBytes || !token68.MatchString(tok) {
			t.Fatalf("bad result %q", got)
		}
		if strings.IndexFunc(tok, unicode.IsSpace) >= 0 {
			t.Fatal("blank inside the result")
		}
		again, err := NormalizePartnerToken(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q (%v)", got, again, err)
		}
	})
}
