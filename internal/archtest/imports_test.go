package archtest

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// packageRule is one row of the allowed-imports table.
type packageRule struct {
	// imports are the packages of ours that the package's non-test files may
	// import, as directories from the module root.
	imports []string
	// anything lets the package import every package of ours (test support).
	anything bool
	// testsOnly: only _test.go files may import the package.
	testsOnly bool
	// optional: the package need not exist (yet).
	optional bool
}

// allowed is the table: every package of the module, by its directory from
// the module root ("." is main), and what its non-test files may import of
// ours. A package that is not here fails TestImportRules, and so does a row
// whose package is gone. Change it together with ARCHITECTURE.md.
var allowed = map[string]packageRule{
	// main: wiring only — the store, the WHAPI client (or, in the demo,
	// the simulator), the provision service, the handlers, the
	// background jobs.
	".": {imports: []string{"handlers", "internal/i18n", "internal/mailer", "internal/metrics", "internal/webhookout", "jobs", "models", "provision", "whapi", "whapi/whapisim"}},
	// handlers: parse, call provision (models for reads), render a view; they
	// serve static's embedded files; the Jobs page reads and acts on the job
	// queue. Never WHAPI.
	"handlers": {imports: []string{"internal/i18n", "jobs", "models", "provision", "static", "views"}},
	// jobs: the background job queue (River); its jobs call provision and
	// models, never WHAPI, handlers or views.
	"jobs": {imports: []string{"internal/i18n", "internal/mailer", "internal/webhookout", "models", "provision"}},
	// provision: the workflows, over the store and the WHAPI client.
	"provision": {imports: []string{"internal/i18n", "internal/webhookout", "models", "whapi"}},
	// views: plain data in, HTML out; at most models' types.
	"views": {imports: []string{"internal/i18n", "models"}},
	// The leaves import nothing of ours. The simulator shares no code with
	// the client, so it cannot share the client's mistakes.
	"models":         {},
	"whapi":          {},
	"whapi/whapisim": {},
	"static":         {},
	// Packages of tests: their only non-test file is the package comment.
	"bench":             {},
	"internal/archtest": {},
	// The test harness: a real app on a temporary database with the
	// simulator. It may import anything; only tests may import it.
	"internal/testenv": {anything: true, testsOnly: true, optional: true},
	// Where a test's database lives: the one constructor every package's
	// tests get theirs from (models' own tests too, so it imports nothing).
	"internal/testdb": {testsOnly: true},
	// The tests' SMTP server: only tests import it, and it imports nothing
	// of ours.
	"internal/testsmtp": {testsOnly: true},
	// The SMTP sender under the outbox: a leaf, it imports nothing of ours.
	"internal/mailer": {},
	// The webhook sender under the outbox: a leaf, it imports nothing of ours.
	"internal/webhookout": {},
	// The operator's /metrics (Prometheus): a leaf, it imports nothing of
	// ours; main gives it the database's figures and wires it in.
	"internal/metrics": {},
	// The message catalog (issue 17): every word a user reads, in their
	// language. A leaf: imports nothing of ours.
	"internal/i18n": {},
}

// leaves are the packages that import nothing of ours; their test files
// import nothing of ours either, but the package under test (an external
// _test package imports it) and what leafTestImports names.
var leaves = []string{"models", "whapi", "whapi/whapisim"}

// leafTestImports are the exceptions for leaves' tests: models' tests get
// their database from internal/testdb, and the channel lifecycle's state
// sets from provision (provision.States(), handed over by an external test
// file), never from a copy.
var leafTestImports = map[string][]string{"models": {"internal/testdb", "provision"}}

// rule is a named rule of the layout and what it says.
type rule struct{ name, says string }

var (
	ruleKnown         = rule{"known-packages", "every package of the module has a row in the allowed-imports table"}
	ruleTable         = rule{"allowed-imports", "a package imports only what its row of the allowed-imports table lists"}
	ruleLeaves        = rule{"leaves-import-nothing", "models and whapi import nothing of ours"}
	ruleHandlers      = rule{"nothing-imports-handlers", "only main (and test support under internal/) imports handlers"}
	ruleHandlersWHAPI = rule{"handlers-never-call-whapi", "handlers import neither whapi nor whapi/whapisim: WHAPI is reached through provision"}
	ruleViews         = rule{"views-import-at-most-models", "views import at most models (and the message catalog, internal/i18n): they get plain data and never query"}
	ruleProvisionWeb  = rule{"provision-is-not-web", "provision never imports handlers or views: handlers and jobs call provision, not the other way round"}
	ruleFramework     = rule{"domain-without-framework", "models and provision never import echo or templ: they run from handlers, commands and background jobs alike"}
	ruleLeafTests     = rule{"leaf-tests-import-nothing", "test files of models, whapi and whapi/whapisim import nothing of ours but the package under test (and leafTestImports)"}
	ruleTestsOnly     = rule{"test-support-in-tests-only", "only _test.go files import test support (internal/testenv)"}
)

// goFile is one .go file of the module and what it imports.
type goFile struct {
	path    string   // from the module root, slash-separated: "handlers/api.go"
	imports []string // import paths as written
}

func (f goFile) isTest() bool { return strings.HasSuffix(f.path, "_test.go") }

// violation is one import (or one package) that breaks a rule.
type violation struct {
	file   string // the importing file, from the module root
	imp    string // the import; "" when the package itself is the problem
	rule   rule
	detail string // what in particular, when the rule alone does not say
}

func (v violation) String() string {
	var b strings.Builder
	if v.imp != "" {
		fmt.Fprintf(&b, "%s imports %q", v.file, v.imp)
	} else {
		b.WriteString(v.file)
	}
	fmt.Fprintf(&b, ": breaks rule %s (%s)", v.rule.name, v.rule.says)
	if v.detail != "" {
		b.WriteString(": " + v.detail)
	}
	return b.String()
}

// check returns every broken rule of tree, the module's packages (by
// directory from the module root) and their files, against table.
func check(module string, table map[string]packageRule, tree map[string][]goFile) []violation {
	var out []violation
	for _, pkg := range slices.Sorted(maps.Keys(tree)) {
		files := tree[pkg]
		row, known := table[pkg]
		if !known {
			first := pkg
			if len(files) > 0 {
				first = files[0].path
			}
			out = append(out, violation{file: first, rule: ruleKnown, detail: fmt.Sprintf(
				"package %s is not in the table: add it, with what it may import, to `allowed` in internal/archtest/imports_test.go and to ARCHITECTURE.md", pkg)})
			continue
		}
		for _, f := range files {
			for _, imp := range f.imports {
				out = append(out, checkImport(module, table, pkg, row, f, imp)...)
			}
		}
	}
	for _, pkg := range slices.Sorted(maps.Keys(table)) {
		if _, ok := tree[pkg]; !ok && !table[pkg].optional {
			out = append(out, violation{file: "internal/archtest/imports_test.go", rule: ruleKnown, detail: fmt.Sprintf(
				"package %s is in the table but has no .go files: remove its row, and its place in ARCHITECTURE.md", pkg)})
		}
	}
	return out
}

// checkImport checks one import of file f of package pkg, whose row is row.
func checkImport(module string, table map[string]packageRule, pkg string, row packageRule, f goFile, imp string) []violation {
	target, ours := ourPackage(module, imp)
	var broken []violation
	breaks := func(r rule, detail string) {
		broken = append(broken, violation{file: f.path, imp: imp, rule: r, detail: detail})
	}
	if f.isTest() {
		if ours && slices.Contains(leaves, pkg) && target != pkg && !slices.Contains(leafTestImports[pkg], target) {
			breaks(ruleLeafTests, "")
		}
		return broken
	}
	if !ours {
		if (pkg == "models" || pkg == "provision") && isFramework(imp) {
			breaks(ruleFramework, "")
		}
		return broken
	}
	if table[target].testsOnly && !row.testsOnly { // test support may build on test support
		breaks(ruleTestsOnly, "")
	}
	if target == "handlers" && pkg != "." && !(strings.HasPrefix(pkg, "internal/") && row.testsOnly) {
		breaks(ruleHandlers, "")
	}
	if pkg == "models" || pkg == "whapi" {
		breaks(ruleLeaves, "")
	}
	if pkg == "handlers" && (target == "whapi" || strings.HasPrefix(target, "whapi/")) {
		breaks(ruleHandlersWHAPI, "")
	}
	if pkg == "views" && target != "models" && target != "internal/i18n" {
		breaks(ruleViews, "")
	}
	if pkg == "provision" && (target == "handlers" || target == "views") {
		breaks(ruleProvisionWeb, "")
	}
	// The table is the catch-all: it speaks when no named rule did.
	if len(broken) == 0 && !row.anything && !slices.Contains(row.imports, target) {
		may := "nothing of ours"
		if len(row.imports) > 0 {
			may = strings.Join(row.imports, ", ")
		}
		breaks(ruleTable, fmt.Sprintf("%s may import %s; a new arrow is a design change: add it to the table and to ARCHITECTURE.md, or go through a package that may", pkgName(pkg), may))
	}
	return broken
}

// ourPackage reports whether imp is a package of module, and its directory
// from the module root.
func ourPackage(module, imp string) (string, bool) {
	if imp == module {
		return ".", true
	}
	if rest, ok := strings.CutPrefix(imp, module+"/"); ok {
		return rest, true
	}
	return "", false
}

// isFramework reports whether imp is Echo or templ, or one of their packages.
func isFramework(imp string) bool {
	for _, p := range []string{"github.com/labstack/echo", "github.com/a-h/templ"} {
		if imp == p || strings.HasPrefix(imp, p+"/") {
			return true
		}
	}
	return false
}

func pkgName(pkg string) string {
	if pkg == "." {
		return "main"
	}
	return pkg
}

// skipDir reports whether a directory holds no package of the module.
func skipDir(name string) bool {
	switch name {
	case "testdata", "bin", "data", "vendor":
		return true
	}
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// loadTree reads the imports of every .go file under root, the module root,
// by package directory. Nested modules and skipDir's directories are left
// out.
func loadTree(root string) (map[string][]goFile, error) {
	tree := map[string][]goFile{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == root {
				return nil
			}
			if skipDir(d.Name()) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		af, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		f := goFile{path: rel}
		for _, is := range af.Imports {
			imp, err := strconv.Unquote(is.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", rel, is.Path.Value, err)
			}
			f.imports = append(f.imports, imp)
		}
		pkg := filepath.ToSlash(filepath.Dir(rel))
		tree[pkg] = append(tree[pkg], f)
		return nil
	})
	return tree, err
}

// findModule returns the root of the module around dir and its path.
func findModule(dir string) (root, module string, err error) {
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for line := range strings.Lines(string(data)) {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					m := strings.TrimSpace(rest)
					if uq, err := strconv.Unquote(m); err == nil {
						m = uq
					}
					return dir, m, nil
				}
			}
			return "", "", fmt.Errorf("%s: no module line", filepath.Join(dir, "go.mod"))
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// TestImportRules checks the imports of the whole module against the
// arrows and the table.
func TestImportRules(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, module, err := findModule(wd)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := loadTree(root)
	if err != nil {
		t.Fatal(err)
	}
	// A walk that found nothing would pass every rule.
	for _, pkg := range []string{".", "handlers", "provision", "models", "whapi", "views"} {
		if len(tree[pkg]) == 0 {
			t.Fatalf("found no .go files of package %s under %s", pkgName(pkg), root)
		}
	}
	for _, v := range check(module, allowed, tree) {
		t.Error(v)
	}
}

// todayTree is the module's shape as it is meant to be, one file or two a
// package, with the imports that matter.
func todayTree() map[string][]goFile {
	return map[string][]goFile{
		".": {
			{"main.go", []string{"context", "github.com/labstack/echo/v4", "whapidesk/handlers", "whapidesk/models", "whapidesk/provision", "whapidesk/whapi", "whapidesk/whapi/whapisim"}},
			{"main_test.go", []string{"testing", "whapidesk/models"}},
		},
		"handlers": {
			{"handlers/handler.go", []string{"github.com/labstack/echo/v4", "github.com/labstack/echo/v4/middleware", "whapidesk/models", "whapidesk/provision", "whapidesk/static"}},
			{"handlers/render.go", []string{"github.com/a-h/templ", "whapidesk/views"}},
			{"handlers/testhelpers_test.go", []string{"whapidesk/whapi", "whapidesk/whapi/whapisim", "whapidesk/internal/testenv"}},
		},
		"provision": {
			{"provision/service.go", []string{"log/slog", "whapidesk/models", "whapidesk/whapi"}},
			{"provision/channels_test.go", []string{"whapidesk/whapi/whapisim"}},
		},
		"models": {
			{"models/db.go", []string{"gorm.io/gorm"}},
			{"models/models_test.go", []string{"testing"}},
		},
		"whapi": {
			{"whapi/client.go", []string{"net/http"}},
			{"whapi/client_test.go", []string{"testing", "whapidesk/whapi"}},
		},
		"whapi/whapisim": {
			{"whapi/whapisim/sim.go", []string{"github.com/skip2/go-qrcode"}},
			{"whapi/whapisim/gate_test.go", []string{"testing"}},
		},
		"jobs":              {{"jobs/work.go", []string{"github.com/riverqueue/river", "whapidesk/models", "whapidesk/provision"}}},
		"views":             {{"views/page.go", []string{"github.com/a-h/templ", "whapidesk/models"}}},
		"static":            {{"static/static.go", []string{"embed"}}},
		"bench":             {{"bench/doc.go", nil}, {"bench/app_test.go", []string{"whapidesk/handlers", "whapidesk/whapi/whapisim"}}},
		"internal/archtest": {{"internal/archtest/doc.go", nil}, {"internal/archtest/imports_test.go", []string{"go/parser"}}},
		"internal/testenv": {
			{"internal/testenv/testenv.go", []string{"whapidesk/internal/testdb", "whapidesk/models", "whapidesk/whapi", "whapidesk/whapi/whapisim"}},
		},
		"internal/testdb":     {{"internal/testdb/testdb.go", []string{"path/filepath", "testing"}}},
		"internal/testsmtp":   {{"internal/testsmtp/testsmtp.go", []string{"github.com/emersion/go-smtp", "testing"}}},
		"internal/mailer":     {{"internal/mailer/sender.go", []string{"github.com/wneessen/go-mail"}}},
		"internal/webhookout": {{"internal/webhookout/deliver.go", []string{"net/http"}}},
		"internal/metrics":    {{"internal/metrics/metrics.go", []string{"net/http"}}},
		"internal/i18n":       {{"internal/i18n/i18n.go", []string{"github.com/nicksnyder/go-i18n/v2/i18n"}}},
	}
}

func TestCheckAcceptsTheIntendedShape(t *testing.T) {
	tree := todayTree()
	for _, v := range check("whapidesk", allowed, tree) {
		t.Error(v)
	}
	delete(tree, "internal/testenv") // optional: it need not exist
	for _, v := range check("whapidesk", allowed, tree) {
		t.Errorf("without internal/testenv: %s", v)
	}
}

// TestCheckCatchesBadArrows adds one wrong file to the intended shape and
// expects exactly the rules it breaks, each naming the file and the import.
func TestCheckCatchesBadArrows(t *testing.T) {
	tests := []struct {
		name  string
		pkg   string // the package the file is added to
		file  goFile
		drop  string // a package removed from the tree
		imp   string // the import the violations name ("" for a package problem)
		rules []rule
	}{
		{name: "handlers call WHAPI", pkg: "handlers", file: goFile{"handlers/sneaky.go", []string{"whapidesk/whapi"}}, imp: "whapidesk/whapi", rules: []rule{ruleHandlersWHAPI}},
		{name: "handlers use the simulator", pkg: "handlers", file: goFile{"handlers/sim.go", []string{"whapidesk/whapi/whapisim"}}, imp: "whapidesk/whapi/whapisim", rules: []rule{ruleHandlersWHAPI}},
		{name: "provision imports handlers", pkg: "provision", file: goFile{"provision/web.go", []string{"whapidesk/handlers"}}, imp: "whapidesk/handlers", rules: []rule{ruleHandlers, ruleProvisionWeb}},
		{name: "provision imports views", pkg: "provision", file: goFile{"provision/words.go", []string{"whapidesk/views"}}, imp: "whapidesk/views", rules: []rule{ruleProvisionWeb}},
		{name: "provision imports echo", pkg: "provision", file: goFile{"provision/http.go", []string{"github.com/labstack/echo/v4"}}, imp: "github.com/labstack/echo/v4", rules: []rule{ruleFramework}},
		{name: "provision imports a templ package", pkg: "provision", file: goFile{"provision/render.go", []string{"github.com/a-h/templ/runtime"}}, imp: "github.com/a-h/templ/runtime", rules: []rule{ruleFramework}},
		{name: "models imports echo middleware", pkg: "models", file: goFile{"models/web.go", []string{"github.com/labstack/echo/v4/middleware"}}, imp: "github.com/labstack/echo/v4/middleware", rules: []rule{ruleFramework}},
		{name: "models imports templ", pkg: "models", file: goFile{"models/html.go", []string{"github.com/a-h/templ"}}, imp: "github.com/a-h/templ", rules: []rule{ruleFramework}},
		{name: "models imports whapi", pkg: "models", file: goFile{"models/remote.go", []string{"whapidesk/whapi"}}, imp: "whapidesk/whapi", rules: []rule{ruleLeaves}},
		{name: "models imports provision", pkg: "models", file: goFile{"models/states.go", []string{"whapidesk/provision"}}, imp: "whapidesk/provision", rules: []rule{ruleLeaves}},
		{name: "whapi imports models", pkg: "whapi", file: goFile{"whapi/tokens.go", []string{"whapidesk/models"}}, imp: "whapidesk/models", rules: []rule{ruleLeaves}},
		{name: "whapi imports its simulator", pkg: "whapi", file: goFile{"whapi/fake.go", []string{"whapidesk/whapi/whapisim"}}, imp: "whapidesk/whapi/whapisim", rules: []rule{ruleLeaves}},
		{name: "views import provision", pkg: "views", file: goFile{"views/channel.go", []string{"whapidesk/provision"}}, imp: "whapidesk/provision", rules: []rule{ruleViews}},
		{name: "views import handlers", pkg: "views", file: goFile{"views/back.go", []string{"whapidesk/handlers"}}, imp: "whapidesk/handlers", rules: []rule{ruleHandlers, ruleViews}},
		{name: "main renders a view", pkg: ".", file: goFile{"demo.go", []string{"whapidesk/views"}}, imp: "whapidesk/views", rules: []rule{ruleTable}},
		{name: "provision uses the simulator", pkg: "provision", file: goFile{"provision/demo.go", []string{"whapidesk/whapi/whapisim"}}, imp: "whapidesk/whapi/whapisim", rules: []rule{ruleTable}},
		{name: "the simulator shares the client's code", pkg: "whapi/whapisim", file: goFile{"whapi/whapisim/types.go", []string{"whapidesk/whapi"}}, imp: "whapidesk/whapi", rules: []rule{ruleTable}},
		{name: "jobs call WHAPI", pkg: "jobs", file: goFile{"jobs/remote.go", []string{"whapidesk/whapi"}}, imp: "whapidesk/whapi", rules: []rule{ruleTable}},
		{name: "jobs render a view", pkg: "jobs", file: goFile{"jobs/page.go", []string{"whapidesk/views"}}, imp: "whapidesk/views", rules: []rule{ruleTable}},
		{name: "static imports models", pkg: "static", file: goFile{"static/version.go", []string{"whapidesk/models"}}, imp: "whapidesk/models", rules: []rule{ruleTable}},
		{name: "bench code imports handlers", pkg: "bench", file: goFile{"bench/harness.go", []string{"whapidesk/handlers"}}, imp: "whapidesk/handlers", rules: []rule{ruleHandlers}},
		{name: "non-test code imports the test harness", pkg: "handlers", file: goFile{"handlers/seed.go", []string{"whapidesk/internal/testenv"}}, imp: "whapidesk/internal/testenv", rules: []rule{ruleTestsOnly}},
		{name: "models tests use the simulator", pkg: "models", file: goFile{"models/remote_test.go", []string{"whapidesk/whapi/whapisim"}}, imp: "whapidesk/whapi/whapisim", rules: []rule{ruleLeafTests}},
		{name: "whapi tests use the simulator", pkg: "whapi", file: goFile{"whapi/sim_test.go", []string{"whapidesk/whapi/whapisim"}}, imp: "whapidesk/whapi/whapisim", rules: []rule{ruleLeafTests}},
		{name: "simulator tests use the client", pkg: "whapi/whapisim", file: goFile{"whapi/whapisim/client_test.go", []string{"whapidesk/whapi"}}, imp: "whapidesk/whapi", rules: []rule{ruleLeafTests}},
		{name: "a package not in the table", pkg: "mail", file: goFile{"mail/send.go", []string{"net/smtp"}}, rules: []rule{ruleKnown}},
		{name: "a row whose package is gone", drop: "bench", rules: []rule{ruleKnown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := todayTree()
			wantFile := "internal/archtest/imports_test.go"
			if tt.drop != "" {
				delete(tree, tt.drop)
			} else {
				tree[tt.pkg] = append(tree[tt.pkg], tt.file)
				wantFile = tt.file.path
			}
			got := check("whapidesk", allowed, tree)
			var gotRules []string
			for _, v := range got {
				gotRules = append(gotRules, v.rule.name)
				msg := v.String()
				if v.file != wantFile || v.imp != tt.imp {
					t.Errorf("violation of %s %q, want only %s %q: %s", v.file, v.imp, wantFile, tt.imp, msg)
				}
				for _, part := range []string{wantFile, tt.imp, v.rule.name, v.rule.says} {
					if !strings.Contains(msg, part) {
						t.Errorf("message %q does not say %q", msg, part)
					}
				}
			}
			var wantRules []string
			for _, r := range tt.rules {
				wantRules = append(wantRules, r.name)
			}
			if !slices.Equal(gotRules, wantRules) {
				t.Errorf("broken rules = %q, want %q", gotRules, wantRules)
			}
		})
	}
}

func TestCheckNamesWhatToDo(t *testing.T) {
	tree := todayTree()
	tree["mail"] = []goFile{{"mail/send.go", nil}}
	tree["static"] = append(tree["static"], goFile{"static/version.go", []string{"whapidesk/models"}})
	var msgs []string
	for _, v := range check("whapidesk", allowed, tree) {
		msgs = append(msgs, v.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"mail/send.go: breaks rule known-packages",
		"package mail is not in the table: add it",
		"internal/archtest/imports_test.go and to ARCHITECTURE.md",
		`static/version.go imports "whapidesk/models": breaks rule allowed-imports`,
		"static may import nothing of ours",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("messages do not say %q:\n%s", want, all)
		}
	}
}

// TestLoadTree reads a small module from disk: test files are marked, and
// testdata, data, bin, hidden directories and nested modules are left out.
func TestLoadTree(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n\ngo 1.26\n")
	write("main.go", "package main\n\nimport (\n\t\"fmt\"\n\tb \"example.com/m/a\"\n)\n\nfunc main() { fmt.Println(b.X) }\n")
	write("a/a.go", "package a\n\nconst X = 1\n")
	write("a/a_test.go", "package a_test\n\nimport \"example.com/m/a\"\n")
	for _, dir := range []string{"testdata", "data", "bin", ".git", "a/testdata"} {
		write(dir+"/x.go", "package x\n\nimport \"example.com/m/handlers\"\n")
	}
	write("nested/go.mod", "module example.com/nested\n")
	write("nested/n.go", "package n\n")
	write("a/sub/README.md", "not Go\n")

	gotRoot, module, err := findModule(filepath.Join(root, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if gotRoot != root || module != "example.com/m" {
		t.Fatalf("findModule = %q, %q; want %q, example.com/m", gotRoot, module, root)
	}
	tree, err := loadTree(root)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]goFile{
		".": {{"main.go", []string{"fmt", "example.com/m/a"}}},
		"a": {{"a/a.go", nil}, {"a/a_test.go", []string{"example.com/m/a"}}},
	}
	if fmt.Sprint(tree) != fmt.Sprint(want) {
		t.Errorf("loadTree =\n%v\nwant\n%v", tree, want)
	}
	if !tree["a"][1].isTest() || tree["a"][0].isTest() {
		t.Error("isTest does not tell a/a_test.go from a/a.go")
	}
}
