package views

import (
	"unicode"
	"unicode/utf8"

	"github.com/a-h/templ"
)

// The types of the parts in components.templ.

// SelectOption is one <option> of a select.
type SelectOption struct {
	Value, Label string
}

// PagerLink is one link of a pager; a Gap stands for skipped pages.
type PagerLink struct {
	Label   string
	Href    string
	Current bool
	Gap     bool
}

// PagerView is the pager of a long list: what the page shows, the pages
// before and after it, and (when the list has them) numbered links.
type PagerView struct {
	Summary string // "26–50 of 73", "1–50 of 52 channels"
	Prev    string // href, "" on the first page
	Next    string // href, "" on the last page
	Links   []PagerLink
}

// Field is a labelled input of a form, with its hint and the error of its
// value: the error shows under it (class field-error, data-testid
// "error-<name>"), and the input's aria-invalid and aria-describedby
// point at them.
type Field struct {
	ID, Name, Label string
	Note            string // after the label, small and muted: "(optional)"
	// Type is the input's type (text, email, number, password, tel), or
	// "select" (of Options, Value the one selected) or "textarea". A
	// password's value is never written back.
	Type    string
	Value   string
	Options []SelectOption
	// Attrs are the input's other attributes, in order (see attrs).
	Attrs templ.OrderedAttributes
	Hint  string
	// DescribedBy names other elements that describe the input, read
	// before its hint and its error.
	DescribedBy string
	// Error is what is wrong with the value, in the form's or provision's
	// words ("" when nothing); it is shown as a sentence, followed by a
	// full stop when Period, and by More.
	Error  string
	Period bool
	More   string
	// TestID names the error for tests (default "error-" + Name).
	TestID string
}

// attrs is an input's attributes in the order given: name, value, name,
// value… (true for an attribute without a value).
func attrs(kv ...any) templ.OrderedAttributes {
	var a templ.OrderedAttributes
	for i := 0; i+1 < len(kv); i += 2 {
		a = append(a, templ.KeyValue[string, any]{Key: kv[i].(string), Value: kv[i+1]})
	}
	return a
}

func (f Field) class() string {
	if f.Error != "" {
		return "field has-error"
	}
	return "field"
}

func (f Field) invalid() string {
	if f.Error != "" {
		return "true"
	}
	return "false"
}

func (f Field) describedBy() string {
	ids := f.ID + "-error"
	if f.Hint != "" {
		ids = f.ID + "-hint " + ids
	}
	if f.DescribedBy != "" {
		ids = f.DescribedBy + " " + ids
	}
	return ids
}

func (f Field) errorText() string {
	t := sentence(f.Error)
	if f.Period {
		t += "."
	}
	return t + f.More
}

func (f Field) testID() string {
	if f.TestID != "" {
		return f.TestID
	}
	return "error-" + f.Name
}

// Confirm is a page that asks before something that cannot be undone is
// done: its question, what the page says (the component's children), and
// a form that does it, or, when it cannot be done now, why (Busy).
type Confirm struct {
	Title  string // the question: "Delete channel “Shop”?"
	Action string // where the form posts
	Button string // what it does: "Delete the channel"
	Safe   bool   // a plain button, not a red one (signing out)
	// Back is the list query the form carries back, if any.
	Back string
	// Cancel and CancelHref are the link that leaves without doing it.
	Cancel, CancelHref string
	// Busy says why it cannot be done now; the page then offers only
	// BusyBack, a link to CancelHref.
	Busy, BusyBack string
}

// sentence starts a message with a capital letter (messages are kept lower
// case for JSON, where they follow a field name).
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
