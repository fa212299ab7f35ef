// Package i18n is whapidesk's one message catalog: every word a user
// reads — pages, flashes, form errors, JSON messages, mails — is looked up
// here by its id, in the reader's language, with plurals by that
// language's CLDR rules (go-i18n), and numbers and dates formatted for
// it.
//
// The catalog is one TOML file per language in locales/, embedded in the
// binary, named by its language's tag ("fr.toml" holds French); English
// (en.toml) is the source and the fallback. Adding a language is adding
// its file and one line to Languages. TestCatalogIsComplete fails when any
// language lacks a key English has (or a plural form its rules need).
//
// A leaf: it imports nothing of ours.
package i18n

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

//go:embed locales/*.toml
var localesFS embed.FS

// Language is one language whapidesk speaks.
type Language struct {
	// Tag is its BCP 47 tag, as stored on a user and sent in lang=.
	Tag string
	// Name is its name in itself ("العربية"), for the language menus.
	Name string
	// RTL: written right to left.
	RTL bool
}

// Dir is the HTML dir attribute's value for the language.
func (l Language) Dir() string {
	if l.RTL {
		return "rtl"
	}
	return "ltr"
}

// Languages are the languages of the catalog, English (the source and
// fallback) first.
var Languages = []Language{
	{Tag: "en", Name: "English"},
	{Tag: "ar", Name: "العربية", RTL: true},
	{Tag: "fr", Name: "Français"},
}

// Default is the language of a reader who asks for none we speak.
const Default = "en"

// Lookup returns the language of a tag we speak ("" or an unknown tag:
// false).
func Lookup(tag string) (Language, bool) {
	for _, l := range Languages {
		if l.Tag == tag {
			return l, true
		}
	}
	return Language{}, false
}

var (
	loadOnce sync.Once
	bundle   *i18n.Bundle
	loadErr  error
	matcher  language.Matcher
)

// load reads the embedded catalog once.
func load() {
	bundle = i18n.NewBundle(language.English)
	bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	loadErr = fs.WalkDir(localesFS, "locales", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".toml" {
			return err
		}
		_, err = bundle.LoadMessageFileFS(localesFS, p)
		return err
	})
	tags := make([]language.Tag, len(Languages))
	for i, l := range Languages {
		tags[i] = language.MustParse(l.Tag)
	}
	matcher = language.NewMatcher(tags)
}

// Load checks the catalog: main calls it at start so that a broken file
// stops the process at once, not on the first page.
func Load() error {
	loadOnce.Do(load)
	return loadErr
}

// Match picks the language for a reader: the user's own setting when it is
// one we speak, else the best of an Accept-Language header, else English.
func Match(userLang, acceptLanguage string) Language {
	if l, ok := Lookup(userLang); ok {
		return l
	}
	loadOnce.Do(load)
	if acceptLanguage != "" {
		prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
		if err == nil && len(prefs) > 0 {
			_, idx, conf := matcher.Match(prefs...)
			if conf != language.No {
				return Languages[idx]
			}
		}
	}
	l, _ := Lookup(Default)
	return l
}

// Localizer speaks one language.
type Localizer struct {
	lang    Language
	loc     *i18n.Localizer
	printer *message.Printer
	// missing is called with the id of a message the catalog lacks (the
	// id itself is shown); nil: nothing.
	missing func(id string)
}

var (
	locMu      sync.Mutex
	localizers = map[string]*Localizer{}
)

// For returns the localizer of a language tag (English for one we do not
// speak). Localizers are shared and safe for concurrent use.
func For(tag string) *Localizer {
	l, ok := Lookup(tag)
	if !ok {
		l, _ = Lookup(Default)
	}
	loadOnce.Do(load)
	locMu.Lock()
	defer locMu.Unlock()
	if lz, ok := localizers[l.Tag]; ok {
		return lz
	}
	t := language.MustParse(l.Tag)
	lz := &Localizer{
		lang:    l,
		loc:     i18n.NewLocalizer(bundle, l.Tag, Default),
		printer: message.NewPrinter(t),
	}
	localizers[l.Tag] = lz
	return lz
}

// Language is the localizer's language.
func (l *Localizer) Language() Language { return l.lang }

// Tag is the localizer's language tag ("ar").
func (l *Localizer) Tag() string { return l.lang.Tag }

// Dir is "rtl" or "ltr".
func (l *Localizer) Dir() string { return l.lang.Dir() }

// T returns the message id in the localizer's language, its {{.Name}}
// placeholders filled from args, given as name, value pairs:
// T("channels.created", "Name", ch.Name). A message the language lacks is
// said in English; one the catalog lacks entirely shows its id.
func (l *Localizer) T(id string, args ...any) string {
	return l.localize(id, nil, args)
}

// N is T for a message with plural forms, chosen by count under the
// language's rules; {{.Count}} is the count formatted for the language.
func (l *Localizer) N(id string, count int64, args ...any) string {
	return l.localize(id, &count, args)
}

func (l *Localizer) localize(id string, count *int64, args []any) string {
	data := make(map[string]any, len(args)/2+1)
	for i := 0; i+1 < len(args); i += 2 {
		k, _ := args[i].(string)
		data[k] = args[i+1]
	}
	cfg := &i18n.LocalizeConfig{MessageID: id, TemplateData: data}
	if count != nil {
		cfg.PluralCount = *count
		if _, ok := data["Count"]; !ok {
			data["Count"] = l.Number(*count)
		}
	}
	s, err := l.loc.Localize(cfg)
	if err != nil && s == "" {
		if l.missing != nil {
			l.missing(id)
		}
		return id
	}
	return s
}

// Has reports whether the catalog holds id in English (the source).
func Has(id string) bool {
	enOnce.Do(func() {
		all, err := Messages()
		if err == nil {
			enIDs = all[Default]
		}
	})
	_, ok := enIDs[id]
	return ok
}

var (
	enOnce sync.Once
	enIDs  map[string][]string
)

// Number formats an integer for the language (grouping, digits).
func (l *Localizer) Number(n int64) string {
	return l.printer.Sprint(number.Decimal(n))
}

// Date formats a day for the language ("7 Dec 2026", "7 déc. 2026",
// "7 ديسمبر 2026"), from the catalog's month names and its date pattern.
func (l *Localizer) Date(t time.Time) string {
	return l.T("date.day", "Day", l.Number(int64(t.Day())), "Month", l.T(fmt.Sprintf("date.month.m%02d", int(t.Month()))),
		"Year", l.printer.Sprint(number.Decimal(t.Year(), number.NoSeparator())))
}

// DateTime formats a moment for the language: its date and the time of day
// (24-hour clock, as the admin pages always showed it), in UTC, in the
// language's digits throughout.
func (l *Localizer) DateTime(t time.Time) string {
	t = t.UTC()
	two := func(v int) string { return l.printer.Sprint(number.Decimal(v, number.MinIntegerDigits(2))) }
	return l.T("date.datetime", "Date", l.Date(t), "Time", two(t.Hour())+":"+two(t.Minute()))
}

type ctxKey struct{}

// With returns ctx carrying l: templates and handlers find their
// language there.
func With(ctx context.Context, l *Localizer) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the localizer ctx carries, English when none.
func From(ctx context.Context) *Localizer {
	if ctx != nil {
		if l, ok := ctx.Value(ctxKey{}).(*Localizer); ok && l != nil {
			return l
		}
	}
	return For(Default)
}

// T is From(ctx).T: the message id in the language of the request.
func T(ctx context.Context, id string, args ...any) string {
	return From(ctx).T(id, args...)
}

// N is From(ctx).N.
func N(ctx context.Context, id string, count int64, args ...any) string {
	return From(ctx).N(id, count, args...)
}

// Messages returns, per language tag, the ids the catalog holds for it and
// the plural forms each has ("other" alone for a plain message); for the
// completeness test and tools.
func Messages() (map[string]map[string][]string, error) {
	out := map[string]map[string][]string{}
	err := fs.WalkDir(localesFS, "locales", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".toml" {
			return err
		}
		b, err := localesFS.ReadFile(p)
		if err != nil {
			return err
		}
		base := strings.TrimSuffix(path.Base(p), ".toml")
		tag := base[strings.LastIndex(base, ".")+1:]
		var raw map[string]any
		if err := toml.Unmarshal(b, &raw); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if out[tag] == nil {
			out[tag] = map[string][]string{}
		}
		flatten(out[tag], "", raw)
		return nil
	})
	return out, err
}

// pluralForms are the keys that make a table one message with plural
// forms (go-i18n's reading of a nested table).
var pluralForms = map[string]bool{"zero": true, "one": true, "two": true, "few": true, "many": true, "other": true}

func flatten(into map[string][]string, prefix string, m map[string]any) {
	for k, v := range m {
		id := k
		if prefix != "" {
			id = prefix + "." + k
		}
		switch v := v.(type) {
		case string:
			into[id] = []string{"other"}
		case map[string]any:
			plural := len(v) > 0
			for pk := range v {
				if !pluralForms[pk] {
					plural = false
				}
			}
			if plural {
				forms := make([]string, 0, len(v))
				for pk := range v {
					forms = append(forms, pk)
				}
				sort.Strings(forms)
				into[id] = forms
			} else {
				flatten(into, id, v)
			}
		}
	}
}

// Isolate wraps user text of unknown direction (a name, a plan, an
// e-mail) in Unicode's first-strong isolate (U+2068 … U+2069), the plain
// text twin of <bdi>: an Arabic name in an English flash (or a Latin one
// in an Arabic sentence) keeps the sentence's order around it. Use it for
// text that goes into a sentence (T's args) shown on a page or in a
// mail's text; in a template, wrap the value in <bdi> instead. Not for
// JSON (clients compare strings).
func Isolate(s string) string {
	if s == "" {
		return s
	}
	return "\u2068" + s + "\u2069"
}

// IsolateRTL is s isolated (Isolate) when l's language is written right
// to left, where a Latin id or name would reorder the sentence around it;
// s as it is otherwise, for texts whose English callers compare them (an
// error's text, an operator's message).
func (l *Localizer) IsolateRTL(s string) string {
	if l.Language().RTL {
		return Isolate(s)
	}
	return s
}
