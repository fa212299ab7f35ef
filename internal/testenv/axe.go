package testenv

import (
	"context"
	_ "embed" // axe-core, a test asset
	"fmt"
	"strings"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core (Deque's accessibility rules engine), vendored in
// axe/ with its licence; axe/VERSIONS says which release. It is a test
// asset: injected into the pages of browser tests, never served by the app.
//
//go:embed axe/axe.min.js
var axeSource string

// Violation is one axe-core rule a page breaks, with the elements that
// break it.
type Violation struct {
	ID      string          `json:"id"`     // the rule, e.g. "color-contrast"
	Impact  string          `json:"impact"` // minor, moderate, serious or critical
	Help    string          `json:"help"`
	HelpURL string          `json:"helpUrl"`
	Nodes   []ViolationNode `json:"nodes"`
}

// ViolationNode is one element that breaks a rule.
type ViolationNode struct {
	Target  []string `json:"target"` // CSS selectors that find it
	HTML    string   `json:"html"`
	Summary string   `json:"failureSummary"`
}

// Serious reports whether the violation's impact is serious or critical.
func (v Violation) Serious() bool { return v.Impact == "serious" || v.Impact == "critical" }

// String is the violation in one paragraph: rule, impact, what it asks and
// each element's selector.
func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n    %s", strings.Join(n.Target, " "))
		if n.Summary != "" {
			fmt.Fprintf(&b, " — %s", strings.ReplaceAll(n.Summary, "\n", " "))
		}
	}
	return b.String()
}

// axeRun runs every rule on the whole document and keeps only what a test
// reads of each violation.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl,
	nodes: v.nodes.map(n => ({target: n.target.map(String), html: n.html, failureSummary: n.failureSummary || ''})),
})))`

// Axe checks the page loaded in the chromedp tab of ctx with axe-core
// (injected into the page when it is not there yet) and returns what it
// breaks, every impact; a test keeps what it fails on (Violation.Serious).
// Call it once the page has settled; the page's own scripts and its
// Content-Security-Policy are not changed.
func Axe(ctx context.Context) ([]Violation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object' && typeof window.axe.run === 'function'`))
	if err != nil {
		return nil, fmt.Errorf("axe: %w", err)
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
			return nil, fmt.Errorf("axe: inject: %w", err)
		}
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]Violation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("axe: run: %w", err)
	}
	return vs, nil
}
