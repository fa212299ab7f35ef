package testdb

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPathIsFreshPerTest(t *testing.T) {
	a, b := Path(t), Path(t)
	if a == b {
		t.Fatalf("two databases of one test share %s", a)
	}
	for _, p := range []string{a, b} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists before it is opened: %v", p, err)
		}
		if fi, err := os.Stat(filepath.Dir(p)); err != nil || !fi.IsDir() {
			t.Errorf("the directory of %s is not there: %v", p, err)
		}
	}
}
