package i18n

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// neededForms are the CLDR plural categories a language uses for whole
// numbers (0 to 1,000), the forms a plural message must have in it.
func neededForms(tag string) []string {
	t := language.MustParse(tag)
	names := map[plural.Form]string{plural.Zero: "zero", plural.One: "one", plural.Two: "two", plural.Few: "few", plural.Many: "many", plural.Other: "other"}
	seen := map[string]bool{}
	for i := 0; i <= 1000; i++ {
		seen[names[plural.Cardinal.MatchPlural(t, i, 0, 0, 0, 0)]] = true
	}
	var out []string
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Every language has every message English has, each plural message with
// every form the language's rules use, and no message English lacks (a
// typo in an id would otherwise go unseen).
func TestCatalogIsComplete(t *testing.T) {
	if err := Load(); err != nil {
		t.Fatal(err)
	}
	all, err := Messages()
	if err != nil {
		t.Fatal(err)
	}
	en := all[Default]
	if len(en) < 20 {
		t.Fatalf("English has %d messages", len(en))
	}
	for _, l := range Languages {
		msgs, ok := all[l.Tag]
		if !ok {
			t.Errorf("%s: no catalog file", l.Tag)
			continue
		}
		need := neededForms(l.Tag)
		for id, enForms := range en {
			forms, ok := msgs[id]
			if !ok {
				t.Errorf("%s: missing %q", l.Tag, id)
				continue
			}
			plural := len(enForms) > 1 || enForms[0] != "other"
			if !plural {
				if len(forms) != 1 || forms[0] != "other" {
					t.Errorf("%s: %q is plain in English but has forms %v", l.Tag, id, forms)
				}
				continue
			}
			have := map[string]bool{}
			for _, f := range forms {
				have[f] = true
			}
			for _, f := range need {
				if !have[f] {
					t.Errorf("%s: %q lacks the plural form %q (the language uses %v)", l.Tag, id, f, need)
				}
			}
		}
		for id := range msgs {
			if _, ok := en[id]; !ok {
				t.Errorf("%s: %q is not in English", l.Tag, id)
			}
		}
	}
	for tag := range all {
		if _, ok := Lookup(tag); !ok {
			t.Errorf("catalog files for %q, which Languages does not list", tag)
		}
	}
}

// A language with more plural forms than English gets the right one.
func TestPluralsFollowTheLanguage(t *testing.T) {
	for _, tc := range []struct {
		tag  string
		n    int64
		want string
	}{
		{"en", 1, "1 day"}, {"en", 2, "2 days"}, {"fr", 0, "0 jour"}, {"fr", 1, "1 jour"}, {"fr", 5, "5 jours"},
		{"ar", 1, "يوم واحد"}, {"ar", 2, "يومان"}, {"ar", 3, "٣ أيام"}, {"ar", 11, "١١ يومًا"}, {"ar", 100, "١٠٠ يوم"},
	} {
		if got := For(tc.tag).N("common.days", tc.n); got != tc.want {
			t.Errorf("%s %d: %q, want %q", tc.tag, tc.n, got, tc.want)
		}
	}
}

func TestMatchAndFormats(t *testing.T) {
	for _, tc := range []struct{ user, accept, want string }{
		{"", "", "en"}, {"", "ar-AE,ar;q=0.9,en;q=0.8", "ar"}, {"", "fr-CA", "fr"}, {"", "de-DE,de", "en"},
		{"fr", "ar", "fr"}, {"xx", "ar", "ar"}, {"", "not a header ;;;", "en"},
	} {
		if got := Match(tc.user, tc.accept).Tag; got != tc.want {
			t.Errorf("Match(%q, %q) = %s, want %s", tc.user, tc.accept, got, tc.want)
		}
	}
	day := time.Date(2026, 12, 7, 19, 5, 0, 0, time.UTC)
	for tag, want := range map[string]string{"en": "7 Dec 2026", "fr": "7 déc. 2026", "ar": "٧ ديسمبر ٢٠٢٦"} {
		if got := For(tag).Date(day); got != want {
			t.Errorf("%s date: %q, want %q", tag, got, want)
		}
	}
	for tag, want := range map[string]string{"en": "7 Dec 2026 19:05 UTC", "ar": "٧ ديسمبر ٢٠٢٦، ١٩:٠٥ (UTC)"} {
		if got := For(tag).DateTime(day); got != want {
			t.Errorf("%s date-time: %q, want %q", tag, got, want)
		}
	}
	if got := For("en").Number(12345); got != "12,345" {
		t.Errorf("en number %q", got)
	}
	if got := For("fr").Number(12345); !strings.Contains(got, "345") || got == "12345" {
		t.Errorf("fr number %q", got)
	}
	if For("ar").Dir() != "rtl" || For("fr").Dir() != "ltr" {
		t.Error("direction")
	}
	// A request without a localizer speaks English; a missing id shows itself.
	if got := T(context.Background(), "pager.next"); got != "Next" {
		t.Errorf("T %q", got)
	}
	if got := T(With(context.Background(), For("fr")), "no.such.id"); got != "no.such.id" {
		t.Errorf("missing %q", got)
	}
}
