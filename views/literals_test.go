package views

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/a-h/templ/parser/v2"
)

// textAttrs are the attributes whose value a reader sees or hears.
var textAttrs = []string{"title", "placeholder", "aria-label", "aria-description", "alt", "label", "hx-confirm", "data-confirm", "data-busy"}

// hasWords reports whether s holds a letter: a word someone reads.
func hasWords(s string) bool {
	return strings.IndexFunc(s, unicode.IsLetter) >= 0
}

// TestTemplatesHoldNoLiteralWords fails when a template shows a word that
// does not come from the message catalog: every text between tags and
// every attribute a reader sees (title, placeholder, aria-label, alt, a
// confirm question, a button's value) must be an expression, t(ctx, …).
func TestTemplatesHoldNoLiteralWords(t *testing.T) {
	files, err := filepath.Glob("*.templ")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v %v", files, err)
	}
	for _, f := range files {
		tf, err := parser.Parse(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var found []string
		for _, n := range tf.Nodes {
			if h, ok := n.(*parser.HTMLTemplate); ok {
				walkLiterals(h.Children, func(where, text string) {
					found = append(found, where+": "+strings.TrimSpace(text))
				})
			}
		}
		for _, l := range found {
			t.Errorf("%s: untranslated %s", f, l)
		}
	}
}

func walkLiterals(nodes []parser.Node, report func(where, text string)) {
	for _, n := range nodes {
		switch n := n.(type) {
		case *parser.Text:
			if hasWords(n.Value) {
				report("text", n.Value)
			}
		case *parser.Element:
			if n.Name == "script" || n.Name == "style" {
				continue
			}
			typ := ""
			for _, a := range n.Attributes {
				if c, ok := a.(*parser.ConstantAttribute); ok && c.Key.String() == "type" {
					typ = c.Value
				}
			}
			for _, a := range n.Attributes {
				c, ok := a.(*parser.ConstantAttribute)
				if !ok || !hasWords(c.Value) {
					continue
				}
				k := c.Key.String()
				if slices.Contains(textAttrs, k) || (k == "value" && n.Name == "input" && (typ == "submit" || typ == "button")) {
					report("<"+n.Name+" "+k+">", c.Value)
				}
			}
			walkLiterals(n.Children, report)
		case *parser.IfExpression:
			walkLiterals(n.Then, report)
			for _, e := range n.ElseIfs {
				walkLiterals(e.Then, report)
			}
			walkLiterals(n.Else, report)
		case *parser.SwitchExpression:
			for _, c := range n.Cases {
				walkLiterals(c.Children, report)
			}
		case *parser.ForExpression:
			walkLiterals(n.Children, report)
		case *parser.TemplElementExpression:
			walkLiterals(n.Children, report)
		}
	}
}
