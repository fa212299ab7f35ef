package provision

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"whapidesk/models"
)

// asciiDigits is the ASCII digits of s, in order.
func asciiDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cleanOneLine reports whether s is what cleanText accepts: trimmed,
// valid UTF-8, at most max runes, no control characters.
func cleanOneLine(s string, maxRunes int) bool {
	if s != strings.TrimSpace(s) || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxRunes {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// FuzzNormalizePhone: never panics; an accepted number is the 7–15 ASCII
// digits of the input and normalising it again changes nothing; a blank
// input is "no number"; an input of only the allowed characters with
// 7–15 digits is accepted.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"", " ", "+1 555 123 4567", "+1 (555) 123-45.67", "1234567", "123456", "1234567890123456",
		"++15551234567", "1+5551234567", "٣٣٣٣٣٣٣٣", "１２３４５６７８", "555\x001234", "\xff1234567", "+", " +15551234567 ", "15551234567\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizePhone(in)
		if err != nil {
			if out != "" {
				t.Fatalf("%q: error %v with output %q", in, err, out)
			}
		} else {
			if strings.TrimSpace(in) == "" {
				if out != "" {
					t.Fatalf("blank %q → %q", in, out)
				}
				return
			}
			if n := len(out); n < 7 || n > 15 || asciiDigits(out) != out {
				t.Fatalf("%q → %q: not 7–15 ASCII digits", in, out)
			}
			if asciiDigits(in) != out {
				t.Fatalf("%q → %q: not the input's digits", in, out)
			}
			if again, err := NormalizePhone(out); err != nil || again != out {
				t.Fatalf("%q → %q → %q, %v: not idempotent", in, out, again, err)
			}
		}
		// Completeness: only digits and separators, 7–15 digits → accepted.
		trimmed := strings.TrimSpace(in)
		allowed := trimmed != ""
		for i, r := range trimmed {
			if !(r >= '0' && r <= '9' || r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '+' && i == 0) {
				allowed = false
			}
		}
		if d := len(asciiDigits(trimmed)); allowed && d >= 7 && d <= 15 && err != nil {
			t.Fatalf("%q refused: %v", in, err)
		}
	})
}

// FuzzValidatePlan: any name and numbers; an accepted plan has a clean
// one-line name of 1–60 characters (the input trimmed) and numbers in
// range, and validating it again changes nothing; a refusal names the
// fields that are wrong and only those.
func FuzzValidatePlan(f *testing.F) {
	f.Add("Starter", int64(3), int64(30), int64(30))
	f.Add("", int64(0), int64(0), int64(0))
	f.Add("  Pro  ", int64(1000), int64(3650), int64(3650))
	f.Add(strings.Repeat("é", 61), int64(1001), int64(3651), int64(-1))
	f.Add("a\tb", int64(1), int64(1), int64(1))
	f.Add("\xff", int64(1), int64(1), int64(1))
	f.Add(`<script>alert(1)</script>`, int64(-9223372036854775808), int64(9223372036854775807), int64(1))
	f.Fuzz(func(t *testing.T, name string, maxCh, days, period int64) {
		in := models.PlanInput{Name: name, MaxChannels: maxCh, DaysPerPeriod: days, PeriodDays: period}
		out, err := ValidatePlan(context.Background(), in)
		wantBad := map[string]bool{
			"name":            strings.TrimSpace(name) == "" || !cleanOneLine(strings.TrimSpace(name), 60),
			"max_channels":    maxCh < 1 || maxCh > 1000,
			"days_per_period": days < 1 || days > 3650,
			"period_days":     period < 1 || period > 3650,
		}
		if err == nil {
			for k, bad := range wantBad {
				if bad {
					t.Fatalf("%+v accepted with a bad %s", in, k)
				}
			}
			if out.Name != strings.TrimSpace(name) || out.MaxChannels != maxCh || out.DaysPerPeriod != days || out.PeriodDays != period {
				t.Fatalf("%+v → %+v", in, out)
			}
			if again, err := ValidatePlan(context.Background(), out); err != nil || again != out {
				t.Fatalf("%+v → %+v → %+v, %v: not idempotent", in, out, again, err)
			}
			return
		}
		var fe FieldErrors
		if !errors.As(err, &fe) {
			t.Fatalf("%+v: %T %v, want FieldErrors", in, err, err)
		}
		for k, bad := range wantBad {
			if _, got := fe[k]; got != bad {
				t.Fatalf("%+v: field %s flagged %v, want %v (%v)", in, k, got, bad, fe)
			}
		}
		for k := range fe {
			if _, known := wantBad[k]; !known {
				t.Fatalf("%+v: unknown field %s in %v", in, k, fe)
			}
		}
	})
}

// FuzzValidateExtend: days and comment of an extend; accepted exactly
// when days is 1–3650 and the comment a clean line of 1–200 characters.
func FuzzValidateExtend(f *testing.F) {
	f.Add(int64(1), "first")
	f.Add(int64(0), "")
	f.Add(int64(3651), strings.Repeat("c", 201))
	f.Add(int64(-1), "a\x00b")
	f.Add(int64(5), " \u2028 ")
	f.Fuzz(func(t *testing.T, days int64, comment string) {
		out, err := ValidateExtend(context.Background(), ExtendInput{ChannelID: 1, Days: days, Comment: comment})
		ok := days >= 1 && days <= MaxExtendDays && strings.TrimSpace(comment) != "" && cleanOneLine(strings.TrimSpace(comment), MaxComment)
		if (err == nil) != ok {
			t.Fatalf("days %d comment %q: err %v, want ok=%v", days, comment, err, ok)
		}
		if err == nil && (out.Comment != strings.TrimSpace(comment) || out.Days != days || out.ChannelID != 1) {
			t.Fatalf("days %d comment %q → %+v", days, comment, out)
		}
	})
}

// FuzzNormalizeProjectID: an accepted id is the input trimmed, 8–64 ASCII
// letters and digits or "default", and normalising it again changes
// nothing; exactly such inputs are accepted.
func FuzzNormalizeProjectID(f *testing.F) {
	for _, s := range []string{"", "default", " default ", "DEFAULT", "abc", "abcd1234", "ABCDEFGHIJKLMNOPQRS", strings.Repeat("a", 64),
		strings.Repeat("a", 65), "abcd-1234", "abcd\x001234", "ábcdefgh", "１２３４５６７８", "abcd1234\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeProjectID(in)
		p := strings.TrimSpace(in)
		valid := p == "default" || len(p) >= 8 && len(p) <= 64 && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == ""
		if (err == nil) != valid {
			t.Fatalf("%q: err %v, want valid=%v", in, err, valid)
		}
		if err != nil {
			if !errors.Is(err, ErrProjectID) || out != "" {
				t.Fatalf("%q: %q, %v", in, out, err)
			}
			return
		}
		if out != p {
			t.Fatalf("%q → %q, want %q", in, out, p)
		}
		if again, err := NormalizeProjectID(out); err != nil || again != out {
			t.Fatalf("%q → %q → %q, %v: not idempotent", in, out, again, err)
		}
	})
}
