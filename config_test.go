package main

import (
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/testenv"
)

// configRow is one setting as a document states it.
type configRow struct {
	flag, env, def, desc string
}

func (r configRow) String() string {
	return fmt.Sprintf("--%s %s (default %q): %q", r.flag, r.env, r.def, r.desc)
}

// realHelp is what `whapidesk -h` prints.
func realHelp(t *testing.T) string {
	t.Helper()
	out, errOut, err := runCmd(t, "", "-h")
	if !errors.Is(err, flag.ErrHelp) || out != "" {
		t.Fatalf("whapidesk -h: err = %v, stdout %q; want flag.ErrHelp and the help on stderr", err, out)
	}
	return errOut
}

var (
	helpSettingLine = regexp.MustCompile(`^  (?:--([a-z][a-z-]*), )?([A-Z][A-Z0-9_]*) \(default: (.*)\)$`)
	helpDescLine    = regexp.MustCompile(`^        (\S.*)$`)
)

// parseHelpSettings reads the settings section of the usage text.
func parseHelpSettings(help string) ([]configRow, error) {
	_, section, ok := strings.Cut(help, "\nSettings:")
	if !ok {
		return nil, errors.New("the help has no Settings: section")
	}
	var rows []configRow
	for _, line := range strings.Split(section, "\n")[1:] {
		if m := helpSettingLine.FindStringSubmatch(line); m != nil {
			rows = append(rows, configRow{flag: m[1], env: m[2], def: m[3]})
			continue
		}
		if m := helpDescLine.FindStringSubmatch(line); m != nil && len(rows) > 0 {
			r := &rows[len(rows)-1]
			r.desc = strings.TrimSpace(r.desc + " " + m[1])
			continue
		}
		if strings.HasPrefix(line, "  ") {
			return nil, fmt.Errorf("help line not understood: %q", line)
		}
		if line != "" && len(rows) > 0 {
			break // the end of the section
		}
	}
	if len(rows) == 0 {
		return nil, errors.New("the help's Settings: section lists nothing")
	}
	return rows, nil
}

const (
	tableStart = "<!-- config-table:start -->"
	tableEnd   = "<!-- config-table:end -->"
)

// parseREADMETable reads the configuration table between the markers.
// Backticks are markdown only: `--addr` and --addr say the same.
func parseREADMETable(readme string) ([]configRow, error) {
	_, rest, ok := strings.Cut(readme, tableStart)
	if !ok {
		return nil, errors.New("no " + tableStart + " marker")
	}
	table, _, ok := strings.Cut(rest, tableEnd)
	if !ok {
		return nil, errors.New("no " + tableEnd + " marker after the start marker")
	}
	var rows []configRow
	header := true
	for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") {
			return nil, fmt.Errorf("not a table row: %q", line)
		}
		cells := strings.Split(line[1:len(line)-1], "|")
		if len(cells) != 4 {
			return nil, fmt.Errorf("want 4 cells (variable, flag, default, description), got %d: %q", len(cells), line)
		}
		for i, c := range cells {
			cells[i] = strings.Join(strings.Fields(strings.ReplaceAll(c, "`", "")), " ")
		}
		if header {
			if want := []string{"variable", "flag", "default", "description"}; !slices.Equal(cells, want) {
				return nil, fmt.Errorf("header %q, want %q", cells, want)
			}
			header = false
			continue
		}
		if strings.Trim(cells[0], "-: ") == "" {
			continue // the |---| line
		}
		rows = append(rows, configRow{env: cells[0], flag: strings.TrimPrefix(cells[1], "--"), def: cells[2], desc: cells[3]})
	}
	if len(rows) == 0 {
		return nil, errors.New("the configuration table has no rows")
	}
	return rows, nil
}

// diffRows says how the README's rows differ from the help's.
func diffRows(help, readme []configRow) []string {
	var diffs []string
	byEnv := func(rows []configRow, which string) map[string]configRow {
		m := map[string]configRow{}
		for _, r := range rows {
			if _, dup := m[r.env]; dup {
				diffs = append(diffs, fmt.Sprintf("%s lists %s twice", which, r.env))
			}
			m[r.env] = r
		}
		return m
	}
	h, rd := byEnv(help, "the help"), byEnv(readme, "the README")
	for _, r := range help {
		got, ok := rd[r.env]
		switch {
		case !ok:
			diffs = append(diffs, "the README's table lacks "+r.env)
		case got != r:
			diffs = append(diffs, fmt.Sprintf("%s differs:\n\thelp:   %v\n\tREADME: %v", r.env, r, got))
		}
	}
	for _, r := range readme {
		if _, ok := h[r.env]; !ok {
			diffs = append(diffs, "the help lacks "+r.env+", which the README's table lists")
		}
	}
	return diffs
}

// readmeTable is the configuration table as it should read, for pasting.
func readmeTable() string {
	code := func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + s + "`"
	}
	var b strings.Builder
	b.WriteString("| variable | flag | default | description |\n|---|---|---|---|\n")
	for _, s := range settings {
		flagCell, def := "", s.shownDefault()
		if s.flag != "" {
			flagCell = code("--" + s.flag)
		}
		if s.shown == "" && !s.isBool() {
			def = code(def)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", code(s.env), flagCell, def, s.usage)
	}
	return b.String()
}

// TestREADMEConfigTableMatchesHelp: the README's configuration table says
// what `whapidesk -h` says — the same variables, flags, defaults and
// descriptions — and the help says what the settings table holds.
func TestREADMEConfigTableMatchesHelp(t *testing.T) {
	t.Parallel()
	help := realHelp(t)
	helpRows, err := parseHelpSettings(help)
	if err != nil {
		t.Fatalf("%v\n%s", err, help)
	}
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)

	t.Run("help lists every setting", func(t *testing.T) {
		var want []configRow
		for _, s := range settings {
			want = append(want, configRow{flag: s.flag, env: s.env, def: s.shownDefault(), desc: s.usage})
		}
		if !slices.Equal(helpRows, want) {
			t.Errorf("the help's settings are not the settings table:\nhelp:  %v\ntable: %v", helpRows, want)
		}
	})

	t.Run("README table is the help's", func(t *testing.T) {
		rows, err := parseREADMETable(readme)
		if err != nil {
			t.Fatalf("README.md: %v\nit should read:\n%s", err, readmeTable())
		}
		if diffs := diffRows(helpRows, rows); len(diffs) > 0 {
			t.Errorf("README.md's configuration table is not what whapidesk -h says:\n%s\n\nit should read:\n%s",
				strings.Join(diffs, "\n"), readmeTable())
		}
	})

	// The check fails on altered copies: each change below must be caught.
	t.Run("altered copies are caught", func(t *testing.T) {
		replaceRow := func(env string, f func(string) string) func(string) string {
			return func(doc string) string {
				start := strings.Index(doc, "| `"+env+"` |")
				if start < 0 {
					t.Fatalf("README.md has no row for %s", env)
				}
				end := start + strings.Index(doc[start:], "\n")
				return doc[:start] + f(doc[start:end]) + doc[end:]
			}
		}
		readmeChanges := []struct {
			name   string
			change func(string) string
		}{
			{"a variable missing", replaceRow("WHAPIDESK_BRAND", func(string) string { return "" })},
			{"another default", replaceRow("WHAPIDESK_ADDR", func(r string) string { return strings.Replace(r, ":8080", ":8081", 1) })},
			{"another description", replaceRow("WHAPIDESK_DB", func(r string) string { return strings.Replace(r, "SQLite", "SQL", 1) })},
			{"another flag", replaceRow("WHAPI_GATE_URL", func(r string) string { return strings.Replace(r, "--gate-url", "--gate", 1) })},
			{"a flag missing", replaceRow("WHAPIDESK_TRUSTED_PROXIES", func(r string) string {
				return strings.Replace(r, "`--trusted-proxies`", "", 1)
			})},
			{"an extra variable", replaceRow("WHAPIDESK_DB", func(r string) string {
				return r + "\n| `WHAPIDESK_NOT_READ` | | | nothing reads it |"
			})},
			{"no end marker", func(doc string) string { return strings.Replace(doc, tableEnd, "", 1) }},
		}
		for _, c := range readmeChanges {
			rows, err := parseREADMETable(c.change(readme))
			if err == nil && len(diffRows(helpRows, rows)) == 0 {
				t.Errorf("README %s: not caught", c.name)
			}
		}
		// And from the help's side: an entry gone from the help.
		cut := regexp.MustCompile(`(?m)^  --brand, .*\n(?:        .*\n)*`)
		altered := cut.ReplaceAllString(help, "")
		if altered == help {
			t.Fatal("could not remove --brand from the help")
		}
		rows, err := parseREADMETable(readme)
		if err != nil {
			t.Fatal(err)
		}
		if h, err := parseHelpSettings(altered); err == nil && len(diffRows(h, rows)) == 0 {
			t.Error("help without --brand: not caught")
		}
	})
}

// TestUsageSettingsAreTheFlags: each flag the help names is a flag of
// serve and demo with the default the help states, and the flag and its
// variable both reach the configuration; the maintenance commands take
// --db, --database-url and WHAPIDESK_SECRET_KEY, and nothing else of the
// settings.
func TestUsageSettingsAreTheFlags(t *testing.T) {
	// Not parallel: it sets environment variables.
	value := func(s setting) string {
		switch {
		case s.isBool():
			return "true"
		case s.env == "WHAPIDESK_TRUSTED_PROXIES":
			return "192.0.2.0/24"
		case s.env == "WHAPIDESK_GATE_HOSTS":
			return "gate2.example.com"
		case s.env == "WHAPIDESK_DISCONNECT_ALERT_AFTER":
			return "7m"
		case s.env == "WHAPIDESK_EVENTS_KEEP_DAYS":
			return "45"
		case s.env == "WHAPIDESK_DATABASE_URL":
			return "postgres://whapidesk@db.example/whapidesk"
		case strings.HasSuffix(s.env, "_EVERY"):
			return "90s"
		case s.env == "WHAPIDESK_DATABASE_MAX_CONNS":
			return "6"
		case s.env == "WHAPIDESK_SMTP_URL":
			return "smtp://relay.example:25"
		case s.env == "WHAPIDESK_MAIL_FROM":
			return "desk@example.com"
		case s.env == "WHAPIDESK_DIGEST_HOUR":
			return "5"
		case strings.HasSuffix(s.env, "_URL"):
			return "https://" + strings.ToLower(s.env) + ".example"
		}
		return "value-of-" + s.env
	}
	check := func(t *testing.T, cfg Config) {
		t.Helper()
		for _, s := range settings {
			switch {
			case s.env == "WHAPIDESK_RECONCILE_EVERY" || s.env == "WHAPIDESK_TOPUP_EVERY":
				if cfg.ReconcileEvery != 90*time.Second || cfg.TopUpEvery != 90*time.Second {
					t.Errorf("%s: ReconcileEvery = %s, TopUpEvery = %s", s.env, cfg.ReconcileEvery, cfg.TopUpEvery)
				}
			case s.env == "WHAPIDESK_DATABASE_MAX_CONNS":
				if cfg.DatabaseMaxConns != 6 {
					t.Errorf("%s: DatabaseMaxConns = %d", s.env, cfg.DatabaseMaxConns)
				}
			case s.env == "WHAPIDESK_DIGEST_HOUR":
				if cfg.DigestHour != 5 {
					t.Errorf("%s: DigestHour = %d", s.env, cfg.DigestHour)
				}
			case s.env == "WHAPIDESK_DISCONNECT_ALERT_AFTER":
				if cfg.DisconnectAlertAfter != 7*time.Minute {
					t.Errorf("%s: DisconnectAlertAfter = %s", s.env, cfg.DisconnectAlertAfter)
				}
			case s.env == "WHAPIDESK_EVENTS_KEEP_DAYS":
				if cfg.EventsKeepDays != 45 {
					t.Errorf("%s: EventsKeepDays = %d", s.env, cfg.EventsKeepDays)
				}
			case s.into == nil && s.env == "WHAPIDESK_GATE_HOSTS":
				if len(cfg.GateHosts) != 1 || cfg.GateHosts[0] != value(s) {
					t.Errorf("%s: GateHosts = %v", s.env, cfg.GateHosts)
				}
			case s.into == nil:
				if len(cfg.TrustedProxies) != 1 || cfg.TrustedProxies[0].String() != value(s) {
					t.Errorf("%s: TrustedProxies = %v", s.env, cfg.TrustedProxies)
				}
			case s.isBool():
				if !*s.into(&cfg).(*bool) {
					t.Errorf("%s did not reach the configuration", s.env)
				}
			default:
				if got := *s.into(&cfg).(*string); got != value(s) {
					t.Errorf("%s: configuration has %q, want %q", s.env, got, value(s))
				}
			}
		}
	}

	for _, cmd := range []string{"serve", "demo"} {
		fs := newFlagSetFor(cmd, serveCommands, &Config{}, &testenv.LogBuffer{})
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		for _, s := range settings {
			if s.flag == "" {
				continue
			}
			f := fs.Lookup(s.flag)
			if f == nil {
				t.Errorf("%s has no flag --%s", cmd, s.flag)
				continue
			}
			want := s.def
			if cmd == "demo" && s.demoDef != "" {
				want = s.demoDef
			}
			if s.isBool() {
				want = "false"
			}
			if f.DefValue != want {
				t.Errorf("%s --%s defaults to %q, the table says %q", cmd, s.flag, f.DefValue, want)
			}
			names = slices.DeleteFunc(names, func(n string) bool { return n == s.flag })
		}
		if len(names) > 0 {
			t.Errorf("%s has flags the settings do not list: %v", cmd, names)
		}
	}

	t.Run("flags", func(t *testing.T) {
		var args []string
		for _, s := range settings {
			if s.flag != "" {
				args = append(args, "--"+s.flag+"="+value(s))
			} else {
				t.Setenv(s.env, value(s))
			}
		}
		cfg, err := parseServeFlags("serve", args, &testenv.LogBuffer{})
		if err != nil {
			t.Fatal(err)
		}
		check(t, cfg)
	})
	t.Run("variables", func(t *testing.T) {
		for _, s := range settings {
			t.Setenv(s.env, value(s))
		}
		cfg, err := parseServeFlags("serve", nil, &testenv.LogBuffer{})
		if err != nil {
			t.Fatal(err)
		}
		check(t, cfg)
	})
	t.Run("maintenance commands", func(t *testing.T) {
		t.Setenv("WHAPIDESK_SECRET_KEY", "k")
		var cfg Config
		fs := newFlagSet("backup", &cfg, &testenv.LogBuffer{})
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		if !slices.Equal(names, []string{"database-url", "db"}) || cfg.SecretKey != "k" {
			t.Errorf("flags %v, secret key %q; want [database-url db] and the variable's key", names, cfg.SecretKey)
		}
	})
}

// TestCommandHelpListsItsOwnFlags: a command's -h adds its own flags to
// the usage, with their descriptions.
func TestCommandHelpListsItsOwnFlags(t *testing.T) {
	t.Parallel()
	for cmd, flags := range map[string][]string{
		"create-admin":  {"email", "password", "name"},
		"apikey create": {"email", "name", "id"},
		"rotate-key":    {"new-key-file"},
	} {
		_, errOut, err := runCmd(t, "", append(strings.Fields(cmd), "-h")...)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s -h: %v", cmd, err)
		}
		_, own, ok := strings.Cut(errOut, "Flags of whapidesk "+cmd+":")
		if !ok || !strings.Contains(errOut, "Settings:") {
			t.Errorf("%s -h has not the usage and its own flags:\n%s", cmd, errOut)
			continue
		}
		for _, f := range flags {
			if !strings.Contains(own, "--"+f+" ") {
				t.Errorf("%s -h does not list --%s:\n%s", cmd, f, own)
			}
		}
	}
}

var envName = regexp.MustCompile(`^WHAPI(?:DESK)?_[A-Z0-9_]+$`)

// envNamesInSource returns the environment variables a Go file reads: the
// literal argument of os.Getenv, os.LookupEnv, envOr and envBool, and every
// string that is a whole WHAPI_* or WHAPIDESK_* name.
func envNamesInSource(name string, src []byte) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var names []string
	literal := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if s, ok := literal(n); ok && envName.MatchString(s) {
				names = append(names, s)
			}
		case *ast.CallExpr:
			var fn string
			switch f := n.Fun.(type) {
			case *ast.Ident:
				fn = f.Name
			case *ast.SelectorExpr:
				if x, ok := f.X.(*ast.Ident); ok {
					fn = x.Name + "." + f.Sel.Name
				}
			}
			switch fn {
			case "os.Getenv", "os.LookupEnv", "envOr", "envBool":
				if len(n.Args) > 0 {
					if s, ok := literal(n.Args[0]); ok && !envName.MatchString(s) {
						names = append(names, s)
					}
				}
			}
		}
		return true
	})
	return names, nil
}

// testSupport are the packages only tests import (their files are test
// code, whatever their names): they count as test files here.
var testSupport = []string{"internal/testenv/", "internal/testdb/"}

// goFiles returns the module's Go files, test files (and test support) or
// not.
func goFiles(t *testing.T, tests bool) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		isTest := strings.HasSuffix(path, "_test.go") || slices.ContainsFunc(testSupport, func(dir string) bool {
			return strings.HasPrefix(filepath.ToSlash(path), dir)
		})
		if d.IsDir() || !strings.HasSuffix(path, ".go") || isTest != tests {
			return nil
		}
		b, err := os.ReadFile(path)
		files[path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestEveryEnvironmentVariableIsASetting: every variable the app reads is
// in the settings table (so in the help and the README), and every
// WHAPI_*/WHAPIDESK_* name the docs mention is one the code reads (a
// setting, or a knob of the long tests).
func TestEveryEnvironmentVariableIsASetting(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, s := range settings {
		known[s.env] = true
	}
	unknown := func(files map[string][]byte, known map[string]bool) []string {
		var bad []string
		for name, src := range files {
			names, err := envNamesInSource(name, src)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if !known[n] {
					bad = append(bad, name+": "+n)
				}
			}
		}
		slices.Sort(bad)
		return bad
	}
	if bad := unknown(goFiles(t, false), known); len(bad) > 0 {
		t.Errorf("variables read but not in the settings table (config.go):\n%s", strings.Join(bad, "\n"))
	}
	t.Run("an unlisted variable is caught", func(t *testing.T) {
		src := map[string][]byte{"x.go": []byte(`package x
import "os"
var a, b = os.Getenv("WHAPIDESK_NOT_LISTED"), os.Getenv("HOME")
var c = envOr("WHAPIDESK_ADDR", "")`)}
		got := unknown(src, known)
		if want := []string{"x.go: HOME", "x.go: WHAPIDESK_NOT_LISTED"}; !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	t.Run("docs mention only variables the code reads", func(t *testing.T) {
		read := maps.Clone(known)
		for name, src := range goFiles(t, true) {
			names, err := envNamesInSource(name, src)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				read[n] = true
			}
		}
		mention := regexp.MustCompile(`\bWHAPI(?:DESK)?_[A-Z0-9_]+\b`)
		for _, doc := range docFiles(t) {
			b, err := os.ReadFile(doc)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range mention.FindAllString(string(b), -1) {
				if !read[n] {
					t.Errorf("%s mentions %s, which nothing reads", doc, n)
				}
			}
		}
	})
}

// docFiles are the documents whose links and file names are checked.
func docFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append([]string{"README.md"}, docs...)
	if _, err := os.Stat("ARCHITECTURE.md"); err == nil {
		docs = append(docs, "ARCHITECTURE.md")
	}
	return docs
}

var (
	mdLink   = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	htmlLink = regexp.MustCompile(`\b(?:src|href)="([^"]+)"`)
	// a repository file named in the text: dir/…/name.ext, maybe a glob
	fileMention = regexp.MustCompile("(?:^|[\\s(`'\"])((?:[A-Za-z0-9_*.-]+/)+[A-Za-z0-9_*.-]+\\.(?:go|md|sql|js|css|sh))\\b")
)

// brokenLinks returns the relative links of doc (at path docPath) and the
// repository files it names that do not exist; repoFiles lists the
// repository's files (slash-separated, relative to its root).
func brokenLinks(docPath, doc string, repoFiles []string) []string {
	var bad []string
	dir := filepath.Dir(docPath)
	var links []string
	for _, re := range []*regexp.Regexp{mdLink, htmlLink} {
		for _, m := range re.FindAllStringSubmatch(doc, -1) {
			links = append(links, m[1])
		}
	}
	for _, l := range links {
		if strings.Contains(l, "://") || strings.HasPrefix(l, "mailto:") || strings.HasPrefix(l, "#") {
			continue
		}
		target, _, _ := strings.Cut(l, "#")
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(target))); err != nil {
			bad = append(bad, "link "+l)
		}
	}
	for _, m := range fileMention.FindAllStringSubmatch(doc, -1) {
		if !namesAFile(path.Join(filepath.ToSlash(dir), m[1]), m[1], repoFiles) {
			bad = append(bad, "file "+m[1])
		}
	}
	return bad
}

// namesAFile says whether a file name in a document names a repository
// file (or, with a glob, some): taken from the document's folder (resolved),
// from the root, or as the tail of a path (migrations/*.sql, read in the
// description of models/).
func namesAFile(resolved, name string, repoFiles []string) bool {
	tail := strings.Split(name, "/")
	for _, f := range repoFiles {
		if ok, _ := path.Match(resolved, f); ok {
			return true
		}
		if ok, _ := path.Match(name, f); ok {
			return true
		}
		if parts := strings.Split(f, "/"); !strings.HasPrefix(name, "../") && len(parts) > len(tail) {
			if ok, _ := path.Match(name, strings.Join(parts[len(parts)-len(tail):], "/")); ok {
				return true
			}
		}
	}
	return false
}

// TestDocLinksResolve: every relative link (markdown or HTML) in README.md,
// docs/*.md and ARCHITECTURE.md points at a file that exists, and every
// repository file they name (handlers/throttle.go, whapi/doc.go, …) exists.
func TestDocLinksResolve(t *testing.T) {
	t.Parallel()
	var repoFiles []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "." {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			repoFiles = append(repoFiles, filepath.ToSlash(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range docFiles(t) {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range brokenLinks(doc, string(b), repoFiles) {
			t.Errorf("%s: %s does not exist", doc, bad)
		}
	}
	t.Run("a broken link is caught", func(t *testing.T) {
		doc := "See [the notes](whapi/README.md), ![shot](docs/screenshots/nope.png),\n" +
			"<img src=\"docs/nope.png\">, the rule in `handlers/nope.go`, and (whapi/README.md).\n" +
			"Fine: [api](docs/api.md#errors), [top](#top), [site](https://whapi.cloud/x.md), `models/migrations/*.sql`, `migrations/*.sql`, (docs/api.md).\n"
		got := brokenLinks("README.md", doc, repoFiles)
		want := []string{"link whapi/README.md", "link docs/screenshots/nope.png", "link docs/nope.png",
			"file whapi/README.md", "file handlers/nope.go", "file whapi/README.md"}
		if !slices.Equal(got, want) {
			t.Errorf("got %q\nwant %q", got, want)
		}
		if got := brokenLinks("docs/x.md", "[back](../README.md) [api](api.md) [bad](../nope.md)", repoFiles); !slices.Equal(got, []string{"link ../nope.md", "file ../nope.md"}) {
			t.Errorf("from docs/: got %q", got)
		}
	})
}
