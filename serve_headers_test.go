package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeHeadersAndFileModes: the running server puts the security
// headers on every answer, those no handler of ours writes included (the
// mux's redirect of /static/../main.go, 404, 405, a static file, an API
// error), and its database, WAL and SHM are readable by their owner only
// while it serves.
func TestServeHeadersAndFileModes(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "w.db")
	s := startServer(t, "serve", "--db", db)
	c := newBrowser(t)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/static/../main.go", http.StatusTemporaryRedirect},
		{"GET", "//admin", http.StatusTemporaryRedirect},
		{"GET", "/no-such-page", http.StatusNotFound},
		{"POST", "/static/css/app.css", http.StatusMethodNotAllowed},
		{"GET", "/static/css/app.css", http.StatusOK},
		{"GET", "/api/users", http.StatusUnauthorized},
		{"GET", "/healthz", http.StatusOK},
		{"GET", "/login", http.StatusOK},
	} {
		req, err := http.NewRequest(tc.method, s.base+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s → %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		checkSecurityHeaders(t, resp.Header)
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") == "" {
			t.Errorf("%s %s: headers %v", tc.method, tc.path, resp.Header)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" && !strings.HasPrefix(tc.path, "/static/css") {
			t.Errorf("%s %s: Cache-Control %q", tc.method, tc.path, cc)
		}
	}
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %#o while serving, want 0600", p, m)
		}
	}
	s.stop(t)
}
