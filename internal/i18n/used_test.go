package i18n

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A message's id written in the code: t(ctx, "id"…), n(ctx, "id"…),
// i18n.T(ctx, "id"…), loc(c).T("id"…), l.N("id"…).
var idInCode = regexp.MustCompile(`(?:\b[tnTN]\(\s*ctx,\s*|\.[TN]\(\s*)"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*\.?)"`)

// Every id the code names is in the catalog (a prefix the code completes,
// "layout.nav."+key, names at least one): a typo fails here, not on a page
// that shows the id.
func TestIDsInCodeAreInTheCatalog(t *testing.T) {
	all, err := Messages()
	if err != nil {
		t.Fatal(err)
	}
	en := all[Default]
	root := filepath.Join("..", "..")
	seen := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != root && (strings.HasPrefix(name, ".") || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !(strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".templ")) || strings.HasSuffix(p, "_templ.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var code strings.Builder
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "//") {
				code.WriteString(line + "\n")
			}
		}
		for _, m := range idInCode.FindAllStringSubmatch(code.String(), -1) {
			id := m[1]
			seen++
			if strings.HasSuffix(id, ".") {
				found := false
				for k := range en {
					if strings.HasPrefix(k, id) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("%s: no message starts with %q", p, id)
				}
				continue
			}
			if _, ok := en[id]; !ok {
				t.Errorf("%s: %q is not in the catalog", p, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 10 {
		t.Fatalf("only %d ids found in the code: is the pattern still right?", seen)
	}
}
